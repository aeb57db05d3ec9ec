import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Retrieval
import Server
import Storage
import Testing

/// The conversations endpoints per tenant, and export → import.
@Suite struct ConversationTests {
    typealias F = ChatFixtures
    static let acme: HTTPFields = [HTTPField.Name("x-unity-tenant")!: "acme"]

    func start(_ client: some TestClientProtocol, _ message: String, headers: HTTPFields = [:]) async throws -> String {
        let reply = try F.object(try await F.post(client, #"{"message": \#(F.quoted(message))}"#, headers: headers))
        return try #require(reply["conversation_id"] as? String)
    }

    @Test func anotherTenantsConversationIsNotFound() async throws {
        try await F.withServer { client, _ in
            let mine = try await start(client, "When do backups run?")
            let theirs = try await start(client, "How many holiday days?", headers: Self.acme)

            for (method, status) in [(HTTPRequest.Method.get, HTTPResponse.Status.notFound), (.delete, .notFound)] {
                let response = try await client.execute(uri: "/api/conversations/\(mine)", method: method, headers: Self.acme)
                #expect(response.status == status)
                let error = try #require(try F.object(response)["error"] as? [String: Any])
                #expect(error["code"] as? String == "conversation_not_found")
            }
            // The same answer as for an id that exists nowhere: existence does not leak.
            let nowhere = try await client.execute(
                uri: "/api/conversations/\(UUID().uuidString.lowercased())", method: .get, headers: Self.acme)
            #expect(nowhere.status == .notFound)
            // Nor can the other tenant continue it.
            let continued = try await F.post(client, #"{"conversation_id": "\#(mine)", "message": "and then?"}"#, headers: Self.acme)
            #expect(continued.status == .notFound)

            let acmeList = try F.object(try await client.execute(uri: "/api/conversations", method: .get, headers: Self.acme))
            #expect((acmeList["conversations"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [theirs])
            let defaultList = try F.object(try await client.execute(uri: "/api/conversations", method: .get))
            #expect((defaultList["conversations"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [mine])

            let deleted = try await client.execute(uri: "/api/conversations/\(mine)", method: .delete)
            #expect(deleted.status == .noContent)
            #expect(try await client.execute(uri: "/api/conversations/\(mine)", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/api/conversations/\(theirs)", method: .get, headers: Self.acme).status == .ok)
        }
    }

    @Test func theListIsPagedWithAnOpaqueCursor() async throws {
        try await F.withServer { client, _ in
            var started: [String] = []
            for question in ["When do backups run?", "Who restores an invoice?", "How long is a backup kept?"] {
                started.append(try await start(client, question))
            }
            let first = try F.object(try await client.execute(uri: "/api/conversations?limit=2", method: .get))
            let firstIDs = (first["conversations"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try F.object(try await client.execute(uri: "/api/conversations?limit=2&cursor=\(cursor)", method: .get))
            let secondIDs = (second["conversations"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            #expect(second["next_cursor"] == nil)
            // Most recent first, each once.
            #expect(firstIDs + secondIDs == started.reversed())
            let item = try #require((first["conversations"] as? [[String: Any]])?.first)
            #expect(item["message_count"] as? Int == 2 && item["title"] as? String == "How long is a backup kept?")
        }
    }

    @Test func badListAndGetRequestsAreJSONErrors() async throws {
        let cases = [
            ("/api/conversations?limit=0", 400), ("/api/conversations?limit=101", 400), ("/api/conversations?limit=ten", 400),
            ("/api/conversations?cursor=%%%", 400), ("/api/conversations?cursor=bm90LWEtY3Vyc29y", 400),
            ("/api/conversations/not-a-uuid", 404), ("/api/conversations?tenant=..", 400),
            ("/api/conversations?tenant=nobody", 404),
        ]
        try await F.withServer { client, _ in
            for (uri, status) in cases {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status.code == status, "\(uri): \(String(buffer: response.body))")
                #expect(try F.object(response)["error"] != nil, "\(uri)")
            }
            let wrongMethod = try await client.execute(uri: "/api/conversations", method: .put)
            #expect(wrongMethod.status == .methodNotAllowed)
        }
    }

    /// Exports every conversation of `client`'s database, as the CLI does.
    static func export(_ database: Database) async throws -> [String] {
        var lines: [String] = []
        try await ConversationArchive(client: database, logger: TestDatabase.logger).export(tenant: nil) { lines.append($0) }
        return lines
    }

    @Test func exportThenImportIntoAnEmptyDatabaseReproducesEveryConversation() async throws {
        try await F.withServer { client, database in
            let id = try await start(client, "When do backups run?")
            _ = try await F.post(client, #"{"conversation_id": "\#(id)", "message": "For how many days is each one kept?"}"#)
            _ = try await start(client, "How many holiday days?", headers: Self.acme)
            let exported = try await Self.export(database)
            #expect(exported.count == 2)

            // Over HTTP: the tenant's own conversations, the same lines.
            let http = try await client.execute(uri: "/api/conversations/export", method: .get)
            #expect(http.status == .ok)
            #expect(http.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
            let httpLines = String(buffer: http.body).split(separator: "\n").map(String.init)
            #expect(httpLines.count == 1 && exported.contains(httpLines[0]))

            let file = Data(exported.map { $0 + "\n" }.joined().utf8)
            try await TestDatabase.withFreshDatabase { empty, _ in
                let archive = ConversationArchive(client: empty, logger: TestDatabase.logger)
                let first = try await archive.importLines(file)
                #expect(first.imported == 2 && first.skipped == 0 && first.conflicts == 0)
                #expect(try await Self.export(empty) == exported)

                let again = try await archive.importLines(file)
                #expect(again.imported == 0 && again.skipped == 2 && again.conflicts == 0)
                #expect(try await Self.export(empty) == exported)

                // The same id with other content: reported, never overwritten.
                var changed = try JSONDecoder().decode(ConversationRecord.self, from: Data(exported[0].utf8))
                changed.title = "Someone else's title"
                let conflict = try await archive.importLines(Data(try changed.line().utf8))
                #expect(conflict.conflicts == 1 && conflict.conflictIDs == [changed.id] && conflict.imported == 0)
                #expect(try await Self.export(empty) == exported)
            }
        }
    }

    @Test(arguments: [
        ("not json", "Line 1"),
        (#"{"id": "x", "tenant": "default", "title": "", "created_at": "", "updated_at": "", "messages": []}"#, "not a UUID"),
        (#"{"id": "7d7e7c1a-0000-4000-8000-000000000000", "tenant": "default", "title": "", "created_at": "yesterday", "updated_at": "", "messages": []}"#, "RFC 3339"),
        (#"{"id": "7d7e7c1a-0000-4000-8000-000000000000", "tenant": "a b", "title": "", "created_at": "", "updated_at": "", "messages": []}"#, "not a valid name"),
    ])
    func aMalformedImportStoresNothingAndNamesTheLine(line: String, message: String) async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let archive = ConversationArchive(client: database, logger: TestDatabase.logger)
            let error = await #expect(throws: ChatError.self) { try await archive.importLines(Data(line.utf8)) }
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
            let remaining = try await Self.export(database)
            #expect(remaining.isEmpty)
        }
    }
}
