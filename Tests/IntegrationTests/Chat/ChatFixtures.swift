import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Retrieval
import Routing
import Server
import Storage
import Testing

/// Knowledge, servers and helpers the chat suites share.
enum ChatFixtures {
    /// Two topics whose facts use the same words: a follow-up that names no topic matches the invoices better,
    /// so only the conversation's history can bring it back to backups.
    static let documents = [
        "backups.md": """
            # Backups

            Backups run every night at 02:00 UTC. Each backup is kept for 35 days. The storage team restores a backup \
            within four hours.

            """,
        "invoices.md": """
            # Invoices

            Invoices are sent on the first working day of each month. Each invoice is kept for ten years; paper \
            copies are kept in the archive and kept locked. The finance team restores a lost invoice from the \
            archive; restores are logged, and the team restores one within two days.

            """,
    ]

    static let acmeDocuments = [
        "holidays.md": "# Holidays\n\nAcme staff take 30 days of holiday a year, booked in the HR portal.\n"
    ]

    /// Ingests `documents` for `default` and `acmeDocuments` for `acme`, then runs `body` on the server's router.
    static func withServer(
        limits: ServerConfiguration.Limits = .init(), routing: RoutingConfiguration = RoutingConfiguration(),
        answerModel: String? = nil,
        _ body: @Sendable (any TestClientProtocol, Database) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        for (name, text) in documents { try directory.write(text, to: "default/\(name)") }
        for (name, text) in acmeDocuments { try directory.write(text, to: "acme/\(name)") }
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path + "/default"])
            _ = try await appliance.ingest([directory.path + "/acme"], tenant: "acme")
            var configuration = ServerConfiguration()
            configuration.limits = limits
            let routed = ApplianceRouter(client: client, configuration: routing)
            var ask = appliance.askService
            if let answerModel {
                ask = AskService(
                    store: ask.store, retriever: ask.retriever,
                    answerer: RoutedAnswerer(router: routed.router, model: answerModel), logger: TestDatabase.logger)
            }
            let app = buildApplication(
                configuration: configuration, dependencies: routed.dependencies(ask: ask), logger: TestDatabase.logger)
            try await app.test(.router) { http in try await body(http, client) }
        }
    }

    static func post(
        _ client: some TestClientProtocol, _ json: String, headers: HTTPFields = [:], uri: String = "/api/rag/chat"
    ) async throws -> TestResponse {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return try await client.execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
            "\(String(buffer: response.body))")
    }

    /// The file name of each citation's `source` in a reply.
    static func sources(_ reply: [String: Any]) -> [String] {
        ((reply["citations"] as? [[String: Any]]) ?? []).compactMap { ($0["source"] as? String)?.split(separator: "/").last.map(String.init) }
    }

    /// A JSON string literal of `text`.
    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    /// Server-sent events of a body: (event name, data JSON) in order.
    static func events(_ body: String) -> [(name: String, data: String)] {
        body.components(separatedBy: "\n\n").compactMap { block in
            var name: String?
            var data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard let name, let data else { return nil }
            return (name, data)
        }
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Waits for `condition`, checking every 50 ms for up to 20 s: for effects that happen after a response ends.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<400 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Serves `router` on 127.0.0.1 at a free port while `body` runs with its base URL (a fake upstream).
    static func serving<T: Sendable>(_ router: Router<BasicRequestContext>, _ body: @Sendable (String) async throws -> T) async throws -> T {
        router.get("/ready") { _, _ in "ready" }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let result: Result<T, any Error> = try await app.test(.live) { client in
            try await client.execute(uri: "/ready", method: .get) { _ in }
            do {
                return .success(try await body("http://127.0.0.1:\(client.port ?? 0)"))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
