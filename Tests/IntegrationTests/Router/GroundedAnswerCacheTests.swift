import Foundation
import PostgresNIO
import Retrieval
import Routing
import Storage
import Testing

/// RAG answers through the router: cached per question and retrieved context, so an answer changes as soon as the
/// knowledge it was grounded in does.
@Suite struct GroundedAnswerCacheTests {
    @Test func groundedAnswersAreCachedUntilTheKnowledgeChanges() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write("# Backups\n\nBackups run nightly at 02:00 and are kept for 30 days.\n", to: "backups.md")
        let configuration = try RoutingConfiguration.parse(yaml: "caching: {enabled: true}\n", environment: [:])
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            let routed = ApplianceRouter(client: client, configuration: configuration)
            let direct = appliance.askService
            let ask = AskService(
                store: direct.store, retriever: direct.retriever, answerer: RoutedAnswerer(router: routed.router),
                logger: TestDatabase.logger)
            func cacheHits() async throws -> Int {
                try await routed.router.usage.flush()
                let rows = try await client.query(
                    "SELECT count(*)::int FROM usage_records WHERE cache_hit AND tenant = 'default'", logger: TestDatabase.logger)
                for count in try rows.decode(Int.self) { return count }
                return 0
            }

            let first = try await ask.ask(question: "When do backups run?", tenant: "default", topK: 3)
            #expect(first.answer.contains("02:00"))
            let second = try await ask.ask(question: "When do backups run?", tenant: "default", topK: 3)
            #expect(second.answer == first.answer && second.citations == first.citations)
            #expect(try await cacheHits() == 1)

            try directory.write("# Backups\n\nBackups run nightly at 03:30 and are kept for 30 days.\n", to: "backups.md")
            _ = try await appliance.ingest([directory.path])
            let third = try await ask.ask(question: "When do backups run?", tenant: "default", topK: 3)
            #expect(third.answer.contains("03:30"))
            #expect(try await cacheHits() == 1)
        }
    }
}
