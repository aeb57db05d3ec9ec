import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Providers
import Routing
import Server
import Storage
import Testing

@Suite struct HTTPTests {
    struct ErrorEnvelope: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    struct AskReply: Decodable {
        struct Citation: Decodable {
            var n: Int
            var source: String
            var chunk_id: Int64
            var heading: String
            var score: Double
            var snippet: String
        }
        var answer: String
        var citations: [Citation]
        var provider: String
        var model: String
        var latency_ms: Double
    }

    /// Runs `body` against the router over a fresh, ingested database.
    func withServer(
        limits: ServerConfiguration.Limits = .init(), _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "backups.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            var configuration = ServerConfiguration()
            configuration.limits = limits
            let migrations = try TestDatabase.migrations()
            let dependencies = ApplianceRouter(client: client, configuration: RoutingConfiguration()).dependencies(
                ask: appliance.askService,
                isReady: { await DatabaseReadiness.isReady(client: client, migrations: migrations, logger: TestDatabase.logger) })
            let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in try await body(client) }
        }
    }

    func post(_ client: some TestClientProtocol, _ body: String) async throws -> (HTTPResponse.Status, ByteBuffer) {
        try await client.execute(
            uri: "/api/rag/ask", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body)
        ) { ($0.status, $0.body) }
    }

    func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    @Test func askReturnsTheAnswerWithCitations() async throws {
        try await withServer { client in
            let (status, body) = try await post(client, #"{"question": "How long is a backup kept?", "tenant": "default", "top_k": 3}"#)
            #expect(status == .ok)
            let reply = try decode(AskReply.self, body)
            #expect(reply.answer.contains("35 days"))
            #expect(reply.citations.first?.source.hasSuffix("/backups.md") == true)
            #expect(reply.citations.first?.n == 1)
            #expect(reply.provider == "local" && reply.model == "extractive")
        }
    }

    @Test(arguments: [
        (#"{"tenant": "default"}"#, "'question' is required"),
        (#"{"question": "   "}"#, "must not be empty"),
        (#"{"question": 42}"#, "'question' must be a string"),
        (#"{"question": "ok", "top_k": "five"}"#, "'top_k' must be an integer"),
        (#"{"question": "ok", "top_k": 0}"#, "between 1 and"),
        (#"{"question": "ok", "tenant": "../etc"}"#, "not a valid name"),
        (#"{"question": "unterminated"#, "not valid JSON"),
        (#"["a list"]"#, "must be a JSON object"),
        ("", "body is empty"),
    ])
    func badInputIsA400WithAMessage(body: String, message: String) async throws {
        try await withServer { client in
            let (status, reply) = try await post(client, body)
            #expect(status == .badRequest)
            let envelope = try decode(ErrorEnvelope.self, reply)
            #expect(envelope.error.code == "invalid_request")
            #expect(envelope.error.message.contains(message), "\(envelope.error.message)")
        }
    }

    @Test func anUnknownTenantIsA404() async throws {
        try await withServer { client in
            let (status, reply) = try await post(client, #"{"question": "backups?", "tenant": "nobody"}"#)
            #expect(status == .notFound)
            #expect(try decode(ErrorEnvelope.self, reply).error.code == "tenant_not_found")
        }
    }

    @Test func aBodyOverTheLimitIsA413() async throws {
        var limits = ServerConfiguration.Limits()
        limits.maximumBodyBytes = 256
        try await withServer(limits: limits) { client in
            let question = String(repeating: "backup ", count: 100)
            let (status, reply) = try await post(client, #"{"question": "\#(question)"}"#)
            #expect(status == .contentTooLarge)
            #expect(try decode(ErrorEnvelope.self, reply).error.code == "body_too_large")
        }
    }

    @Test func unknownRoutesAreJSON404s() async throws {
        try await withServer { client in
            let (status, body) = try await client.execute(uri: "/api/nothing", method: .get) { ($0.status, $0.body) }
            #expect(status == .notFound)
            #expect(try decode(ErrorEnvelope.self, body).error.code == "not_found")
        }
    }

    @Test func healthAndReadiness() async throws {
        try await withServer { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("ready"))
            }
        }
    }
}
