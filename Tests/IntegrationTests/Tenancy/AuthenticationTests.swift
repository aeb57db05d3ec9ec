import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Routing
import Server
import Storage
import Testing

/// `--auth keys`: a key maps a request to its tenant on every endpoint; another tenant's name is a 403, a missing,
/// unknown or revoked key a 401, and only admin keys reach the operator endpoints.
@Suite struct AuthenticationTests {
    struct Reply {
        var status: HTTPResponse.Status
        var code: String?
        var body: String
        var challenge: String?
    }

    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, key: String? = nil,
        tenantHeader: String? = nil, _ body: String? = nil
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let tenantHeader { headers[HTTPField.Name("x-unity-tenant")!] = tenantHeader }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
            let text = String(buffer: $0.body)
            let code = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                .flatMap { $0["error"] as? [String: Any] }?["code"] as? String
            return Reply(status: $0.status, code: code, body: text, challenge: $0.headers[.wwwAuthenticate])
        }
    }

    @Test func keysDecideTheTenantOnEveryEndpoint() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            try await TenancyTests.twoTenants(appliance)
            let keys = APIKeyStore(client: database, logger: TestDatabase.logger)
            let alphaKey = try await keys.create(tenant: "alpha")
            let betaKey = try await keys.create(tenant: "beta")
            let adminKey = try await keys.create(tenant: nil)
            let revoked = try await keys.create(tenant: "alpha")
            try await keys.revoke(id: revoked.id)

            var dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration())
                .dependencies(ask: appliance.askService)
            dependencies.authenticateKey = { try await keys.authenticate($0) }
            var configuration = ServerConfiguration()
            configuration.authentication = .keys
            let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: TestDatabase.logger)
            let question = #"{"question": "When does the warehouse open and what is its forklift code?"}"#
            try await app.test(.router) { client in
                // Probes answer without a key.
                #expect(try await Self.send(client, .get, "/health").status == .ok)
                #expect(try await Self.send(client, .get, "/ready").status == .ok)

                // No key, a wrong one, a revoked one: 401 with a challenge, and nothing answered.
                for key in [nil, "uai_" + String(repeating: "x", count: 43), "not-a-key", revoked.key] {
                    let reply = try await Self.send(client, .post, "/api/rag/ask", key: key, question)
                    #expect(reply.status == .unauthorized && reply.code == "unauthorized", "\(key ?? "none")")
                    #expect(reply.challenge?.hasPrefix("Bearer") == true)
                    #expect(!reply.body.contains("4411") && !reply.body.contains("9922"))
                }
                #expect(try await Self.send(client, .get, "/v1/models").status == .unauthorized)

                // Each key answers from its own tenant's documents only.
                let alpha = try await Self.send(client, .post, "/api/rag/ask", key: alphaKey.key, question)
                #expect(alpha.status == .ok && alpha.body.contains("4411") && !alpha.body.contains("9922"), "\(alpha.body)")
                let beta = try await Self.send(client, .post, "/api/rag/ask", key: betaKey.key, question)
                #expect(beta.status == .ok && beta.body.contains("9922") && !beta.body.contains("4411"), "\(beta.body)")
                // Naming its own tenant is fine; naming another is 403, in the body or the header.
                let own = try await Self.send(
                    client, .post, "/api/rag/ask", key: alphaKey.key,
                    #"{"question": "What is the forklift code?", "tenant": "alpha"}"#)
                #expect(own.status == .ok)
                let other = try await Self.send(
                    client, .post, "/api/rag/ask", key: alphaKey.key,
                    #"{"question": "What is the forklift code?", "tenant": "beta"}"#)
                #expect(other.status == .forbidden && other.code == "forbidden_tenant" && !other.body.contains("9922"))
                let header = try await Self.send(client, .post, "/api/rag/ask", key: alphaKey.key, tenantHeader: "beta", question)
                #expect(header.status == .forbidden)
                let chat = try await Self.send(
                    client, .post, "/v1/chat/completions", key: alphaKey.key,
                    #"{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "tenant": "beta"}"#)
                #expect(chat.status == .forbidden)
                let embeddings = try await Self.send(
                    client, .post, "/v1/embeddings", key: alphaKey.key, tenantHeader: "beta", #"{"model": "local", "input": "hi"}"#)
                #expect(embeddings.status == .forbidden)

                // Usage: a tenant key sees its own tenant, never another's; an admin key any.
                #expect(try await Self.send(client, .get, "/api/usage", key: alphaKey.key).status == .ok)
                #expect(try await Self.send(client, .get, "/api/usage?tenant=beta", key: alphaKey.key).status == .forbidden)
                #expect(try await Self.send(client, .get, "/api/usage?tenant=beta", key: adminKey.key).status == .ok)

                // Operator endpoints: admin keys only.
                for path in ["/api/providers", "/metrics", "/api/jobs", "/api/models"] {
                    let tenantReply = try await Self.send(client, .get, path, key: alphaKey.key)
                    #expect(tenantReply.status == .forbidden && tenantReply.code == "forbidden", "\(path)")
                    let adminReply = try await Self.send(client, .get, path, key: adminKey.key)
                    #expect(adminReply.status != .forbidden && adminReply.status != .unauthorized, "\(path)")
                }
                // An admin key may act for any tenant.
                let asBeta = try await Self.send(
                    client, .post, "/api/rag/ask", key: adminKey.key, tenantHeader: "beta", question)
                #expect(asBeta.status == .ok && asBeta.body.contains("9922"))
            }
        }
    }

    /// Chat and conversations with keys on: a conversation is its key's tenant's; the other tenant's key finds
    /// nothing (404, the same as an unknown id) and cannot continue it.
    @Test func conversationsBelongToTheKeysTenant() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            try await TenancyTests.twoTenants(appliance)
            let keys = APIKeyStore(client: database, logger: TestDatabase.logger)
            let alphaKey = try await keys.create(tenant: "alpha")
            let betaKey = try await keys.create(tenant: "beta")
            var dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration())
                .dependencies(ask: appliance.askService)
            dependencies.authenticateKey = { try await keys.authenticate($0) }
            var configuration = ServerConfiguration()
            configuration.authentication = .keys
            let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in
                let started = try await Self.send(
                    client, .post, "/api/rag/chat", key: alphaKey.key, #"{"message": "What is the forklift code?"}"#)
                #expect(started.status == .ok && started.body.contains("4411") && !started.body.contains("9922"), "\(started.body)")
                let object = try JSONSerialization.jsonObject(with: Data(started.body.utf8)) as? [String: Any]
                let id = try #require(object?["conversation_id"] as? String)

                #expect(try await Self.send(client, .get, "/api/conversations/\(id)", key: alphaKey.key).status == .ok)
                let list = try await Self.send(client, .get, "/api/conversations", key: betaKey.key)
                #expect(list.status == .ok && !list.body.contains(id))
                let theirs = try await Self.send(client, .get, "/api/conversations/\(id)", key: betaKey.key)
                #expect(theirs.status == .notFound && !theirs.body.contains("4411"))
                let unknown = try await Self.send(
                    client, .get, "/api/conversations/\(UUID().uuidString.lowercased())", key: betaKey.key)
                #expect(unknown.status == theirs.status && unknown.code == theirs.code)
                let continued = try await Self.send(
                    client, .post, "/api/rag/chat", key: betaKey.key,
                    #"{"conversation_id": "\#(id)", "message": "And the opening hour?"}"#)
                #expect(continued.status == .notFound)
                #expect(try await Self.send(client, .delete, "/api/conversations/\(id)", key: betaKey.key).status == .notFound)
                let export = try await Self.send(client, .get, "/api/conversations/export", key: betaKey.key)
                #expect(export.status == .ok && !export.body.contains(id))
                let asOther = try await Self.send(
                    client, .post, "/api/rag/chat", key: alphaKey.key, #"{"message": "Code?", "tenant": "beta"}"#)
                #expect(asOther.status == .forbidden)
                #expect(try await Self.send(client, .get, "/api/conversations/\(id)", key: alphaKey.key).status == .ok)
            }
        }
    }

    @Test func withoutKeysTheBodyOrHeaderNamesTheTenant() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            try await TenancyTests.twoTenants(appliance)
            let dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration())
                .dependencies(ask: appliance.askService)
            let app = buildApplication(configuration: ServerConfiguration(), dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in
                let question = #"{"question": "What is the forklift code?"}"#
                let beta = try await Self.send(client, .post, "/api/rag/ask", tenantHeader: "beta", question)
                #expect(beta.status == .ok && beta.body.contains("9922"))
                let alpha = try await Self.send(
                    client, .post, "/api/rag/ask", #"{"question": "What is the forklift code?", "tenant": "alpha"}"#)
                #expect(alpha.status == .ok && alpha.body.contains("4411"))
                let invalid = try await Self.send(client, .post, "/api/rag/ask", tenantHeader: "../etc", question)
                #expect(invalid.status == .badRequest)
            }
        }
    }
}
