import Foundation
import Ingest
import PostgresNIO
import Providers
import Retrieval
import Storage
import Testing

/// The appliance's parts over one test database.
struct Appliance: Sendable {
    let client: Database
    let embedder = HashingEmbedder(dimensions: 512)

    var store: KnowledgeStore { KnowledgeStore(client: client) }

    func ingest(
        _ paths: [String], tenant: String = "default", configuration: Ingestor.Configuration = .init()
    ) async throws -> IngestSummary {
        try await Ingestor(configuration: configuration, store: store, embedder: embedder, logger: TestDatabase.logger)
            .ingest(paths: paths, tenant: tenant)
    }

    var askService: AskService {
        AskService(
            store: store,
            retriever: HybridRetriever(
                search: ChunkSearch(client: client), embedder: embedder, models: EmbeddingModelRegistry(store: store),
                logger: TestDatabase.logger),
            answerer: ExtractiveAnswerer(), logger: TestDatabase.logger)
    }

    func count(_ sql: String) async throws -> Int {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
        for value in try rows.decode(Int64.self) { return Int(value) }
        return 0
    }
}

@Suite struct IngestIntegrationTests {
    static let backups = "# Backups\n\nBackups run every night at 02:00 UTC. Each backup is kept for 35 days.\n"
    static let oncall = "# On-call\n\nThe on-call engineer acknowledges a page within 5 minutes.\n"

    @Test func reingestingAnUnchangedDirectoryEmbedsNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.backups, to: "ops/backups.md")
        try directory.write(Self.oncall, to: "ops/oncall.md")
        try directory.write("Site,Manager\nRotterdam,Zoë\n", to: "sites.csv")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let first = try await appliance.ingest([directory.path])
            #expect(first.added == 3 && first.failed == 0 && first.chunksEmbedded >= 3)
            let second = try await appliance.ingest([directory.path])
            #expect(second.unchanged == 3)
            #expect(second.chunksEmbedded == 0 && second.added == 0 && second.updated == 0 && second.removed == 0)
        }
    }

    @Test func changedFilesReplaceTheirChunksAndRemovedFilesDisappear() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.backups, to: "backups.md")
        try directory.write(Self.oncall, to: "oncall.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])

            try directory.write("# Backups\n\nBackups are now kept for 90 days.\n", to: "backups.md")
            try directory.remove("oncall.md")
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.updated == 1 && summary.removed == 1 && summary.unchanged == 0)
            #expect(try await appliance.count("SELECT count(*) FROM documents") == 1)
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%35 days%'") == 0)
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%90 days%'") == 1)
            // Vectors of replaced chunks go with them.
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM chunk_embeddings e LEFT JOIN chunks c ON c.id = e.chunk_id WHERE c.id IS NULL")
                    == 0)
        }
    }

    @Test func aBadFileIsReportedAndSkippedAndItsStoredVersionKept() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.backups, to: "backups.md")
        try directory.write(Self.oncall, to: "notes.txt")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])

            try directory.write(Data([0x48, 0x69, 0xFF, 0xFE, 0x21]), to: "notes.txt")  // not UTF-8
            try directory.write("{broken json", to: "data.json")
            try directory.write("# New\n\nA new document about forklifts.\n", to: "new.md")
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.failed == 2 && summary.added == 1 && summary.unchanged == 1 && summary.removed == 0)
            #expect(Set(summary.failures.map { ($0.path as NSString).lastPathComponent }) == ["notes.txt", "data.json"])
            #expect(summary.failures.first { $0.path.hasSuffix("notes.txt") }?.reason.contains("UTF-8") == true)
            // The last good version of notes.txt is still answerable.
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%within 5 minutes%'") == 1)
        }
    }

    @Test func aMissingPathChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.backups, to: "backups.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            let summary = try await appliance.ingest([directory.path + "/no-such-dir"])
            #expect(summary.failed == 1 && summary.removed == 0)
            #expect(try await appliance.count("SELECT count(*) FROM documents") == 1)
        }
    }

    @Test func storesChunksWithOffsetsIntoTheSource() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let text = "# Zoë's guide\n\nÜber-long préface 🚚. Backups run nightly.\n\n## Retention\n\nKept for 35 days.\n"
        try directory.write(text, to: "guide.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            let rows = try await client.query(
                "SELECT text, char_start, char_end, heading_path FROM chunks ORDER BY ordinal", logger: TestDatabase.logger)
            let scalars = Array(text.unicodeScalars)
            var headings: [[String]] = []
            for (chunk, start, end, heading) in try rows.decode((String, Int, Int, [String]).self) {
                #expect(String(String.UnicodeScalarView(scalars[start..<end])) == chunk)
                headings.append(heading)
            }
            #expect(headings == [["Zoë's guide"], ["Zoë's guide", "Retention"]])
        }
    }
}

@Suite struct AskIntegrationTests {
    @Test func askCitesTheDocumentThatAnswers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "ops/backups.md")
        try directory.write(IngestIntegrationTests.oncall, to: "ops/oncall.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            let answer = try await appliance.askService.ask(question: "How long is a backup kept?", tenant: "default", topK: 5)
            let root = (directory.path as NSString).lastPathComponent
            #expect(answer.citations.first?.source == "\(root)/ops/backups.md")
            #expect(answer.answer.contains("35 days [\(answer.citations[0].n)]") || answer.answer.contains("35 days. [\(answer.citations[0].n)]"))
            #expect(answer.citations.first?.heading == "Backups")
            #expect(answer.provider == "local")

            let unknown = try await appliance.askService.ask(question: "Who won the 1998 World Cup?", tenant: "default", topK: 5)
            #expect(unknown.answer == ExtractiveAnswerer.notCoveredAnswer)
            #expect(unknown.citations.isEmpty)
        }
    }

    @Test func aTenantNeverSeesAnotherTenantsChunks() async throws {
        let alpha = try TemporaryDirectory()
        let beta = try TemporaryDirectory()
        defer {
            alpha.delete()
            beta.delete()
        }
        try alpha.write("# Secret\n\nThe alpha vault code is 7391 and opens the north gate.\n", to: "secret.md")
        try beta.write("# Gate\n\nThe beta team uses the south gate after 18:00.\n", to: "gate.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([alpha.path], tenant: "alpha")
            _ = try await appliance.ingest([beta.path], tenant: "beta")
            let answer = try await appliance.askService.ask(question: "What is the alpha vault code for the north gate?", tenant: "beta", topK: 10)
            #expect(!answer.answer.contains("7391"))
            #expect(answer.citations.allSatisfy { $0.source.hasSuffix("gate.md") })

            let tenantB = try #require(try await appliance.store.tenantID(named: "beta", logger: TestDatabase.logger))
            let passages = try await appliance.askService.retriever.retrieve(question: "vault code gate", tenantID: tenantB, limit: 50)
            #expect(!passages.isEmpty)
            #expect(passages.allSatisfy { !$0.text.contains("7391") })
        }
    }

    @Test func anUnknownTenantIsAnError() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let error = await #expect(throws: StorageError.self) {
                try await Appliance(client: client).askService.ask(question: "anything", tenant: "nobody", topK: 5)
            }
            #expect(error?.code == .tenantNotFound)
        }
    }

    /// Documents the appliance was never tuned on: the first citation must name the right document for at least
    /// 80 % of the questions, with either chunk sizing.
    @Test(arguments: ChunkSizing.allCases) func firstCitationIsRightOnAnUnseenHandbook(sizing: ChunkSizing) async throws {
        struct Question: Decodable {
            var question: String
            var source: String
        }
        let questions = try JSONDecoder().decode(
            [Question].self,
            from: Data(contentsOf: TestDatabase.fixtures.appendingPathComponent("handbook-questions.json")))
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest(
                [TestDatabase.fixtures.appendingPathComponent("handbook").path], tenant: "library",
                configuration: try sizing.ingestConfiguration())
            #expect(summary.failed == 0 && summary.added == 12)
            var correct = 0
            var misses: [String] = []
            for item in questions {
                let answer = try await appliance.askService.ask(question: item.question, tenant: "library", topK: 5)
                if answer.citations.first?.source == "handbook/" + item.source {
                    correct += 1
                } else {
                    misses.append("\(item.question) → \(answer.citations.first?.source ?? "no citation")")
                }
            }
            let accuracy = Double(correct) / Double(questions.count)
            print("first-citation accuracy on the unseen handbook (\(sizing) chunks): \(correct)/\(questions.count); misses: \(misses)")
            #expect(accuracy >= 0.8, "first citation right for \(correct) of \(questions.count): \(misses)")
        }
    }
}
