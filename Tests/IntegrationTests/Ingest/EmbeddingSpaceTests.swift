import Crypto
import Foundation
import InMemoryLogging
import Ingest
import Logging
import PostgresNIO
import Providers
import Retrieval
@testable import Storage
import Synchronization
import Testing

/// Embedding spaces that coexist over shared chunks (migration 0012): a second model keeps the first model's
/// vectors, `reindex` builds a space while the current one answers and switches only when complete, `--drop`
/// removes an old space, the read path creates no index, and wide models get a `halfvec` index.
@Suite struct EmbeddingSpaceTests {
    static let logger = TestDatabase.logger
    static let question = "When does the cafeteria close?"
    static let documents: [String: String] = [
        "cafeteria.md": "# Cafeteria\n\nThe cafeteria closes at 15:00 on weekdays and stays shut at weekends.\n",
        "parking.md": "# Parking\n\nVisitors park in the north garage; the barrier opens with the visitor badge.\n",
        "wifi.md": "# Wireless network\n\nThe wireless network is called LumenPublic and needs no password.\n",
        "security.md": "# Security\n\nReport a lost badge to the security desk on the ground floor.\n",
        "holidays.md": "# Holidays\n\nEvery employee has twenty-five days of paid holiday a year.\n",
        "printing.md": "# Printing\n\nColour printing costs ten cents a page and is billed monthly.\n",
    ]

    /// Runs `body` with a fresh database and a directory holding ``documents``.
    static func withDocuments(
        _ body: @Sendable (Database, KnowledgeStore, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        for (name, text) in documents { try directory.write(text, to: name) }
        try await TestDatabase.withFreshDatabase { client, _ in
            try await body(client, KnowledgeStore(client: client), directory)
        }
    }

    static func ingest(_ path: String, with embedder: any EmbeddingProvider, store: KnowledgeStore) async throws
        -> IngestSummary
    {
        try await Ingestor(store: store, embedder: embedder, logger: logger).ingest(paths: [path], tenant: "default")
    }

    /// Vectors per model name.
    static func vectorCounts(_ client: Database) async throws -> [String: Int] {
        let rows = try await client.query(
            """
            SELECT m.name, count(*)::bigint FROM chunk_embeddings e JOIN embedding_models m ON m.id = e.model_id
            GROUP BY m.name
            """, logger: logger)
        var counts: [String: Int] = [:]
        for (name, count) in try rows.decode((String, Int64).self) { counts[name] = Int(count) }
        return counts
    }

    /// Names of the indexes on `chunk_embeddings`.
    static func embeddingIndexes(_ client: Database) async throws -> Set<String> {
        let rows = try await client.query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'chunk_embeddings'", logger: logger)
        return Set(try rows.decode(String.self))
    }

    static func tenantID(_ store: KnowledgeStore) async throws -> Int64 {
        try #require(try await store.tenantID(named: "default", logger: logger))
    }

    static func retriever(
        client: Database, store: KnowledgeStore, configured: any EmbeddingProvider,
        others: [any EmbeddingProvider] = []
    ) -> HybridRetriever {
        var configuration = HybridRetriever.Configuration()
        configuration.mode = .dense  // dense only: a space that failed would not be hidden by the lexical ranking
        let byName = Dictionary(others.map { ($0.model.name, $0) }, uniquingKeysWith: { first, _ in first })
        return HybridRetriever(
            configuration: configuration, search: ChunkSearch(client: client), embedder: configured,
            models: EmbeddingModelRegistry(store: store), embedderNamed: { byName[$0] }, logger: logger)
    }

    static func reindexer(
        store: KnowledgeStore, embedder: any EmbeddingProvider, chunksPerRound: Int = 2
    ) -> Reindexer {
        var configuration = Reindexer.Configuration()
        configuration.chunksPerRound = chunksPerRound
        configuration.embedding.batchSize = 2
        configuration.embedding.retries = 0
        return Reindexer(configuration: configuration, store: store, embedder: embedder, logger: logger)
    }

    @Test func aSecondModelKeepsTheFirstModelsVectors() async throws {
        try await Self.withDocuments { client, store, directory in
            let first = HashingEmbedder(dimensions: 512)
            let second = HashingEmbedder(dimensions: 256)
            #expect(try await Self.ingest(directory.path, with: first, store: store).added == 6)
            let chunkIDs = try await client.query("SELECT id FROM chunks ORDER BY id", logger: Self.logger)
                .decode(Int64.self)

            let again = try await Self.ingest(directory.path, with: second, store: store)
            #expect(again.updated == 6 && again.chunksEmbedded == 6)
            #expect(try await Self.vectorCounts(client) == ["local-hash-512": 6, "local-hash-256": 6])
            // The chunks were kept, not replaced by equal ones.
            #expect(
                try await client.query("SELECT id FROM chunks ORDER BY id", logger: Self.logger).decode(Int64.self)
                    == chunkIDs)
            #expect(try await Self.ingest(directory.path, with: first, store: store).unchanged == 6)

            // What reindex would embed for a chunk is exactly what ingest embedded (same SHA-256).
            let tenantID = try await Self.tenantID(store)
            let probe = try await store.registerEmbeddingModel(name: "probe", dimensions: 8, logger: Self.logger)
            let texts = try await store.chunksLackingEmbedding(
                tenantID: tenantID, modelID: probe, afterID: 0, limit: 100, logger: Self.logger)
            let stored = try await client.query(
                """
                SELECT e.chunk_id, encode(e.text_sha256, 'hex') FROM chunk_embeddings e
                JOIN embedding_models m ON m.id = e.model_id WHERE m.name = 'local-hash-512'
                """, logger: Self.logger)
            let hashes = Dictionary(uniqueKeysWithValues: try stored.decode((Int64, String).self).map { ($0, $1) })
            #expect(texts.count == 6)
            for chunk in texts {
                let hex = SHA256.hash(data: Data(chunk.text.utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(hashes[chunk.id] == hex, "chunk \(chunk.id): \(chunk.text)")
            }

            // A changed document's chunks are replaced: every space loses that document's vectors, and the
            // ingesting model's come back at once; reindex restores the other space's.
            try directory.write("# Cafeteria\n\nThe cafeteria now closes at 16:00 on weekdays.\n", to: "cafeteria.md")
            #expect(try await Self.ingest(directory.path, with: first, store: store).updated == 1)
            #expect(try await Self.vectorCounts(client) == ["local-hash-512": 6, "local-hash-256": 5])
            let filled = try await Self.reindexer(store: store, embedder: second).reindex(tenant: "default")
            #expect(filled.stored == 1 && filled.alreadyEmbedded == 5 && filled.isDefault)
            #expect(try await Self.vectorCounts(client) == ["local-hash-512": 6, "local-hash-256": 6])
        }
    }

    @Test func reindexReportsProgressResumesAfterAnInterruptionAndSwitchesWhenComplete() async throws {
        try await Self.withDocuments { client, store, directory in
            _ = try await Self.ingest(directory.path, with: HashingEmbedder(dimensions: 512), store: store)
            let tenantID = try await Self.tenantID(store)
            let registry = EmbeddingModelRegistry(store: store)

            // The first run is cut off after a few texts (the provider fails, as a killed process would stop).
            let failing = InstrumentedEmbedder(dimensions: 256, failAfterTexts: 3)
            await #expect(throws: InstrumentedEmbedder.Failure.self) {
                _ = try await Self.reindexer(store: store, embedder: failing).reindex(tenant: "default")
            }
            let space = try #require(try await store.embeddingSpace(named: "local-hash-256", logger: Self.logger))
            let partial = try await store.coverage(tenantID: tenantID, modelID: space.id, logger: Self.logger)
            #expect(partial.embedded > 0 && partial.embedded < partial.chunks)
            // Not switched: the tenant still answers from the configured model's complete space.
            let serving = try await registry.servingSpace(
                tenantID: tenantID, configuredModel: "local-hash-512", logger: Self.logger)
            #expect(serving?.name == "local-hash-512")

            // Run again: only the rest is embedded, progress climbs to the total, then the default switches.
            let reports = Mutex<[Reindexer.Progress]>([])
            let summary = try await Self.reindexer(store: store, embedder: HashingEmbedder(dimensions: 256))
                .reindex(tenant: "default") { progress in reports.withLock { $0.append(progress) } }
            #expect(summary.alreadyEmbedded == partial.embedded)
            #expect(summary.chunksEmbedded == partial.chunks - partial.embedded)
            #expect(summary.stored == partial.chunks - partial.embedded)
            #expect(summary.isDefault && summary.previousDefault == nil)
            let progress = reports.withLock { $0 }
            #expect(progress.count >= 2)
            #expect(zip(progress, progress.dropFirst()).allSatisfy { $0.chunksDone <= $1.chunksDone })
            #expect(progress.last?.chunksDone == partial.chunks && progress.last?.chunksTotal == partial.chunks)
            #expect(progress.last?.line(width: 100).contains("\(partial.chunks)/\(partial.chunks) chunks") == true)

            let switched = try await registry.servingSpace(
                tenantID: tenantID, configuredModel: "local-hash-512", logger: Self.logger)
            #expect(switched == space)
            #expect(try await Self.embeddingIndexes(client).contains(space.indexName))
            // Nothing left to do: a third run embeds nothing and keeps the default.
            let third = try await Self.reindexer(store: store, embedder: HashingEmbedder(dimensions: 256))
                .reindex(tenant: "default")
            #expect(third.chunksEmbedded == 0 && third.isDefault && third.previousDefault == "local-hash-256")
        }
    }

    /// The documents ingested with the configured model, a dense retriever that can also embed with the next one,
    /// and the source that answers ``question``.
    struct ReindexScene {
        let configured: HashingEmbedder
        let next: HashingEmbedder
        let tenantID: Int64
        let retriever: HybridRetriever
        let expected: String?
    }

    static func reindexScene(client: Database, store: KnowledgeStore, directory: TemporaryDirectory) async throws
        -> ReindexScene
    {
        let configured = HashingEmbedder(dimensions: 512)
        let next = HashingEmbedder(dimensions: 256)
        _ = try await ingest(directory.path, with: configured, store: store)
        return ReindexScene(
            configured: configured, next: next, tenantID: try await tenantID(store),
            retriever: retriever(client: client, store: store, configured: configured, others: [next]),
            expected: directory.path.split(separator: "/").last.map { "\($0)/cafeteria.md" })
    }

    @Test func questionsAreAnsweredThroughoutAReindex() async throws {
        try await Self.withDocuments { client, store, directory in
            let scene = try await Self.reindexScene(client: client, store: store, directory: directory)
            let (configured, next, tenantID, retriever, expected) =
                (scene.configured, scene.next, scene.tenantID, scene.retriever, scene.expected)

            // Before every batch the new model embeds, a question is asked (and answered from the old space).
            let answers = Mutex<[String?]>([])
            let hooked = InstrumentedEmbedder(dimensions: 256) {
                let passages = try? await retriever.retrieve(question: Self.question, tenantID: tenantID, limit: 3)
                answers.withLock { $0.append(passages?.first?.source) }
            }
            let summary = try await Self.reindexer(store: store, embedder: hooked, chunksPerRound: 1)
                .reindex(tenant: "default")
            #expect(summary.isDefault)
            let during = answers.withLock { $0 }
            #expect(during.count >= 6)
            #expect(during.allSatisfy { $0 == expected }, "\(during)")
            // After the switch, questions are embedded with the new model and answered from its space.
            let serving = try await EmbeddingModelRegistry(store: store).servingSpace(
                tenantID: tenantID, configuredModel: configured.model.name, logger: Self.logger)
            #expect(serving?.name == next.model.name)
            let after = try await retriever.retrieve(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(after.first?.source == expected)
            // Fusion takes the serving model's tuned default, not the configured model's.
            let rankings = try await retriever.rankings(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(rankings.denseModel == next.model.name)
        }
    }

    /// What the question loop of ``questionsAskedInALoopWhileAReindexRunsAllSucceed()`` has done so far.
    struct Asking: Sendable {
        var answers: [String?] = []
        var stopped = false
        var reindexFinished = false
    }

    @Test func questionsAskedInALoopWhileAReindexRunsAllSucceed() async throws {
        try await Self.withDocuments { client, store, directory in
            let scene = try await Self.reindexScene(client: client, store: store, directory: directory)
            let (configured, next, tenantID, retriever, expected) =
                (scene.configured, scene.next, scene.tenantID, scene.retriever, scene.expected)
            let state = Mutex(Asking())

            // Questions in a loop of their own, until three were answered after the reindex returned (so the
            // index build, the per-tenant indexes and the switch all happen while questions are asked).
            let loop = Task {
                defer { state.withLock { $0.stopped = true } }
                var afterwards = 0
                while afterwards < 3 {
                    let finished = state.withLock { $0.reindexFinished }
                    let passages = try await retriever.retrieve(question: Self.question, tenantID: tenantID, limit: 3)
                    state.withLock { $0.answers.append(passages.first?.source) }
                    if finished { afterwards += 1 }
                }
            }
            // Each batch of the new model waits for one more answer, so questions and the reindex overlap.
            let paced = InstrumentedEmbedder(dimensions: 256) {
                let start = state.withLock { $0.answers.count }
                while state.withLock({ $0.answers.count == start && !$0.stopped }) {
                    try? await Task.sleep(for: .milliseconds(1))
                }
            }
            let summary = try await Self.reindexer(store: store, embedder: paced, chunksPerRound: 1)
                .reindex(tenant: "default")
            state.withLock { $0.reindexFinished = true }
            try await loop.value  // a question that failed fails the test here
            #expect(summary.isDefault)
            let answers = state.withLock { $0.answers }
            #expect(answers.count >= 9)  // at least one per batch of six chunks, and three after the switch
            #expect(answers.allSatisfy { $0 == expected }, "\(answers)")
            let serving = try await EmbeddingModelRegistry(store: store).servingSpace(
                tenantID: tenantID, configuredModel: configured.model.name, logger: Self.logger)
            #expect(serving?.name == next.model.name)
        }
    }

    @Test func dropRefusesTheServingSpaceAndRemovesAnOldOne() async throws {
        try await Self.withDocuments { client, store, directory in
            let configured = HashingEmbedder(dimensions: 512)
            let next = HashingEmbedder(dimensions: 256)
            _ = try await Self.ingest(directory.path, with: configured, store: store)
            let old = try #require(try await store.embeddingSpace(named: configured.model.name, logger: Self.logger))
            let reindexer = Self.reindexer(store: store, embedder: next)
            // Before the switch the configured model's space is the one answering.
            await #expect(throws: StorageError.self) {
                _ = try await reindexer.drop(model: configured.model.name, tenant: "default", configuredModel: configured.model.name)
            }
            _ = try await reindexer.reindex(tenant: "default")
            do {
                _ = try await reindexer.drop(model: next.model.name, tenant: "default", configuredModel: configured.model.name)
                Issue.record("dropping the tenant's default space was allowed")
            } catch let error as StorageError {
                #expect(error.code == .invalidInput)
            }
            do {
                _ = try await reindexer.drop(model: "no-such-model", tenant: "default", configuredModel: configured.model.name)
                Issue.record("dropping an unknown space was allowed")
            } catch let error as StorageError {
                #expect(error.code == .notFound)
            }
            let deleted = try await reindexer.drop(
                model: configured.model.name, tenant: "default", configuredModel: configured.model.name)
            #expect(deleted == 6)
            #expect(try await Self.vectorCounts(client) == [next.model.name: 6])
            #expect(!(try await Self.embeddingIndexes(client).contains(old.indexName)))
            #expect(try await store.embeddingSpace(named: configured.model.name, logger: Self.logger) == nil)
            // Questions are still answered, from the new default space.
            let tenantID = try await Self.tenantID(store)
            let passages = try await Self.retriever(client: client, store: store, configured: configured, others: [next])
                .retrieve(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(passages.first?.source.hasSuffix("/cafeteria.md") == true)
        }
    }

    @Test func askingNeverCreatesAnIndexNorRegistersAModel() async throws {
        try await Self.withDocuments { client, store, directory in
            let configured = HashingEmbedder(dimensions: 512)
            _ = try await Self.ingest(directory.path, with: configured, store: store)
            let space = try #require(try await store.embeddingSpace(named: configured.model.name, logger: Self.logger))
            // An installation whose index is missing: asking must not build it.
            try await client.query(PostgresQuery(unsafeSQL: "DROP INDEX \(space.indexName)"), logger: Self.logger)
            let indexes = try await Self.embeddingIndexes(client)
            let models = try await client.query("SELECT count(*)::bigint FROM embedding_models", logger: Self.logger)
                .decode(Int64.self)
            let tenantID = try await Self.tenantID(store)
            let known = try await Self.retriever(client: client, store: store, configured: configured)
                .retrieve(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(known.first?.source.hasSuffix("/cafeteria.md") == true)
            // A model never ingested with: no vectors to search, nothing registered.
            let unknown = try await Self.retriever(client: client, store: store, configured: HashingEmbedder(dimensions: 128))
                .retrieve(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(unknown.isEmpty)
            #expect(try await Self.embeddingIndexes(client) == indexes)
            #expect(
                try await client.query("SELECT count(*)::bigint FROM embedding_models", logger: Self.logger)
                    .decode(Int64.self) == models)
            // The next ingest (a write path) builds it again.
            _ = try await Self.ingest(directory.path, with: configured, store: store)
            #expect(try await Self.embeddingIndexes(client).contains(space.indexName))
        }
    }

    /// Reindex stores vectors while ingests change documents: a chunk deleted by a write that commits while its
    /// vector is being stored is skipped, and the others are stored — not a foreign-key failure of the whole run.
    @Test func aChunkDeletedWhileReindexStoresItsVectorIsSkipped() async throws {
        try await Self.withDocuments { client, store, directory in
            _ = try await Self.ingest(directory.path, with: HashingEmbedder(dimensions: 512), store: store)
            let tenantID = try await Self.tenantID(store)
            let next = HashingEmbedder(dimensions: 256)
            let modelID = try await store.registerEmbeddingModel(
                name: next.model.name, dimensions: 256, logger: Self.logger)
            let chunks = try await store.chunksLackingEmbedding(
                tenantID: tenantID, modelID: modelID, afterID: 0, limit: 1000, logger: Self.logger)
            let victim = try #require(chunks.first).id
            let vectors = try await next.embed(chunks.map(\.text))
            let hashes = chunks.map { _ in String(repeating: "0", count: 64) }

            let (release, releaser) = AsyncStream.makeStream(of: Void.self)
            let deleting = Task {
                try await client.withTransaction(logger: Self.logger) { connection in
                    try await connection.query("DELETE FROM chunks WHERE id = \(victim)", logger: Self.logger)
                    for await _ in release { break }
                }
            }
            // The deletion is done and its transaction open; the store's foreign key check will wait for it.
            while try await client.query(
                "SELECT count(*)::bigint FROM pg_stat_activity WHERE state = 'idle in transaction'", logger: Self.logger
            ).decode(Int64.self) != [1] {
                try await Task.sleep(for: .milliseconds(10))
            }
            let storing = Task {
                try await store.addMissingEmbeddings(
                    tenantID: tenantID, modelID: modelID, chunkIDs: chunks.map(\.id), vectors: vectors,
                    textHashes: hashes, logger: Self.logger)
            }
            while try await client.query(
                "SELECT count(*)::bigint FROM pg_locks WHERE NOT granted", logger: Self.logger
            ).decode(Int64.self) == [0] {
                try await Task.sleep(for: .milliseconds(10))
            }
            releaser.yield()
            releaser.finish()
            try await deleting.value
            #expect(try await storing.value == chunks.count - 1)
            let stored = try await Self.vectorCounts(client)
            #expect(stored[next.model.name] == chunks.count - 1)
        }
    }

    /// A model's first ingest stores its vectors and then builds the index over them at once; later writes find the
    /// index and fill it as they go; a model with vectors but no index (a failed first ingest) gets it before the
    /// next write.
    @Test func aModelsFirstIngestBuildsItsIndexAfterStoringItsVectors() async throws {
        try await Self.withDocuments { client, store, directory in
            let embedder = HashingEmbedder(dimensions: 512)
            let name = embedder.model.name
            let first = try await store.prepareEmbeddingSpaceForBulkWrite(
                name: name, dimensions: 512, logger: Self.logger)
            #expect(first.indexDeferred)
            #expect(!(try await Self.embeddingIndexes(client).contains(first.space.indexName)))

            let summary = try await Self.ingest(directory.path, with: embedder, store: store)
            #expect(summary.chunksEmbedded > 0)
            #expect(summary.indexSeconds > 0 && summary.indexSeconds <= summary.seconds)
            #expect(try await store.hasEmbeddings(modelID: first.space.id, logger: Self.logger))
            #expect(try await Self.embeddingIndexes(client).contains(first.space.indexName))
            try directory.write("# Lockers\n\nLockers on the second floor take a one-euro coin.\n", to: "lockers.md")
            let next = try await Self.ingest(directory.path, with: embedder, store: store)
            #expect(next.added == 1 && next.indexSeconds == 0)

            let later = try await store.prepareEmbeddingSpaceForBulkWrite(
                name: name, dimensions: 512, logger: Self.logger)
            #expect(later.space == first.space && !later.indexDeferred)

            try await client.query(PostgresQuery(unsafeSQL: "DROP INDEX \(first.space.indexName)"), logger: Self.logger)
            let repaired = try await store.prepareEmbeddingSpaceForBulkWrite(
                name: name, dimensions: 512, logger: Self.logger)
            #expect(!repaired.indexDeferred)
            #expect(try await Self.embeddingIndexes(client).contains(first.space.indexName))
        }
    }

    @Test func eachTenantsAnsweringSpaceAndItsCoverageAreListed() async throws {
        try await Self.withDocuments { _, store, directory in
            let embedder = HashingEmbedder(dimensions: 512)
            let name = embedder.model.name
            _ = try await Self.ingest(directory.path, with: embedder, store: store)
            _ = try await store.ensureTenant(named: "empty", logger: Self.logger)

            let configured = try await store.answeringSpaces(configuredModel: name, logger: Self.logger)
            #expect(configured.map(\.tenant) == ["default", "empty"])
            let tenant = try #require(configured.first)
            #expect(tenant.model == name && !tenant.isTenantDefault)
            #expect(tenant.chunks >= Self.documents.count && tenant.chunksWithVectors == tenant.chunks && !tenant.isIncomplete)
            #expect(configured.last?.chunks == 0 && configured.last?.isIncomplete == false)

            // The configured model changed: the tenant, never reindexed, has no vectors of the new one.
            let changed = try await store.answeringSpaces(configuredModel: "openai/text-embedding-3-small", logger: Self.logger)
            let stale = try #require(changed.first)
            #expect(stale.model == "openai/text-embedding-3-small" && stale.chunksWithVectors == 0 && stale.isIncomplete)
            #expect(stale.warning.contains("unity-ai reindex --model openai/text-embedding-3-small --tenant default"))

            // What `serve` logs once its schema is current: one warning for that tenant, none while it is complete.
            let handler = InMemoryLogHandler()
            let captured = Logger(label: "serve", factory: { _ in handler })
            await store.warnAboutIncompleteAnsweringSpaces(configuredModel: name, logger: captured)
            #expect(handler.entries.filter { $0.level == .warning }.isEmpty)
            await store.warnAboutIncompleteAnsweringSpaces(
                configuredModel: "openai/text-embedding-3-small", logger: captured)
            let warnings = handler.entries.filter { $0.level == .warning }
            #expect(warnings.count == 1 && warnings.first?.metadata["tenant"] == "default")
            #expect(warnings.first?.message.description == stale.warning)

            // A tenant with a default of its own is answered by it, whatever is configured.
            let space = try #require(try await store.embeddingSpace(named: name, logger: Self.logger))
            #expect(try await store.makeDefaultIfComplete(tenantID: try await Self.tenantID(store), modelID: space.id, logger: Self.logger))
            let pinned = try #require(
                try await store.answeringSpaces(configuredModel: "openai/text-embedding-3-small", logger: Self.logger).first)
            #expect(pinned.model == name && pinned.isTenantDefault && !pinned.isIncomplete)
        }
    }

    /// The session's `maintenance_work_mem` as PostgreSQL reports it, in kB.
    static func maintenanceWorkMemory(_ connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'", logger: logger
        ).collect()
        return try rows.first?.decode(Int64.self) ?? -1
    }

    @Test func indexBuildsRaiseTheirMemoryAndResetItAfter() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            try await client.withConnection(logger: Self.logger) { connection in
                let server = try await Self.maintenanceWorkMemory(connection)
                // The statement records the setting it ran with.
                try await HNSWIndexBuild.run(
                    "CREATE TABLE seen AS SELECT setting::bigint AS kb FROM pg_settings WHERE name = 'maintenance_work_mem'",
                    name: "unused", memoryKB: Int(server) + 100 * 1024, on: connection, logger: Self.logger)
                let during = try await connection.query("SELECT kb FROM seen", logger: Self.logger).collect()
                #expect(try during.first?.decode(Int64.self) == server + 100 * 1024)
                #expect(try await Self.maintenanceWorkMemory(connection) == server)

                await #expect(throws: PSQLError.self) {
                    try await HNSWIndexBuild.run(
                        "SELECT 1 / 0", name: "unused", memoryKB: Int(server) + 100 * 1024, on: connection,
                        logger: Self.logger)
                }
                #expect(try await Self.maintenanceWorkMemory(connection) == server)

                // A larger setting is kept, never lowered (nor reset).
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SET maintenance_work_mem = '\(server + 200 * 1024)kB'"), logger: Self.logger)
                try await HNSWIndexBuild.run(
                    "CREATE TABLE kept AS SELECT setting::bigint AS kb FROM pg_settings WHERE name = 'maintenance_work_mem'",
                    name: "unused", memoryKB: Int(server) + 100 * 1024, on: connection, logger: Self.logger)
                let kept = try await connection.query("SELECT kb FROM kept", logger: Self.logger).collect()
                #expect(try kept.first?.decode(Int64.self) == server + 200 * 1024)
                #expect(try await Self.maintenanceWorkMemory(connection) == server + 200 * 1024)
                try await connection.query("RESET maintenance_work_mem", logger: Self.logger)
            }
        }
    }

    /// A parallel HNSW build reserves all of `maintenance_work_mem` in the server's shared memory: asked for more
    /// than `/dev/shm` holds (a container's 64 MB; here a terabyte), the build is refused, and runs again at the
    /// server's own setting.
    @Test func aBuildRefusedSharedMemoryRunsAgainAtTheServersSetting() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            try await client.query(
                """
                CREATE TABLE scratch_vectors AS
                SELECT i AS id, ARRAY[sin(i), cos(i), sin(2 * i)]::vector(3) AS v FROM generate_series(1, 500) i
                """, logger: Self.logger)
            try await client.query("ALTER TABLE scratch_vectors SET (parallel_workers = 1)", logger: Self.logger)
            let statement =
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS scratch_vectors_hnsw ON scratch_vectors USING hnsw (v vector_cosine_ops)"
            try await client.withConnection(logger: Self.logger) { connection in
                let server = try await Self.maintenanceWorkMemory(connection)
                try await HNSWIndexBuild.run(
                    statement, name: "scratch_vectors_hnsw", memoryKB: 1 << 30, on: connection, logger: Self.logger)
                #expect(try await Self.maintenanceWorkMemory(connection) == server)
            }
            let valid = try await client.query(
                """
                SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relname = 'scratch_vectors_hnsw'
                """, logger: Self.logger
            ).decode(Bool.self)
            #expect(valid == [true])
        }
    }

    @Test func indexBuildMemoryFollowsTheGraphUpToItsLimit() {
        let settings = VectorSearchSettings()
        // 28,031 vectors of 64 dimensions fit PostgreSQL's 64 MB default: no raise.
        #expect(settings.indexBuildMemoryKB(vectors: 28_031, dimensions: 64) < 64 * 1024)
        // 40,000 of 384 do not (pgvector reported 64 MB full after 28,373).
        #expect(settings.indexBuildMemoryKB(vectors: 40_000, dimensions: 384) > 40_000 * 2_400 / 1024)
        #expect(settings.indexBuildMemoryKB(vectors: 10_000_000, dimensions: 384) == settings.indexBuildMemoryKB)
        #expect(settings.indexBuildMemoryKB(vectors: .max, dimensions: 4_000) == settings.indexBuildMemoryKB)
        #expect(settings.indexBuildMemoryKB(vectors: 0, dimensions: 384) == 16 * 1024)
    }

    @Test func aModelWiderThan2000DimensionsGetsAHalfvecIndexThatSearchesUse() async throws {
        try await Self.withDocuments { client, store, directory in
            let wide = HashingEmbedder(dimensions: 3072)  // text-embedding-3-large's size
            _ = try await Self.ingest(directory.path, with: wide, store: store)
            let space = try #require(try await store.embeddingSpace(named: wide.model.name, logger: Self.logger))
            let definition = try await client.query(
                "SELECT indexdef FROM pg_indexes WHERE indexname = \(space.indexName)", logger: Self.logger
            ).decode(String.self)
            #expect(definition.first?.contains("halfvec(3072)") == true)
            #expect(definition.first?.contains("halfvec_cosine_ops") == true)

            // The search's own statement is planned as a scan of that index. Sequential scans and sorts are priced
            // out so the six-row table does not win on cost: what is checked is that the index matches the query.
            let tenantID = try await Self.tenantID(store)
            let vector = KnowledgeStore.vectorLiteral(wide.vector(for: Self.question))
            let plan = try await client.withTransaction(logger: Self.logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL enable_seqscan = off"), logger: Self.logger)
                // Likewise the (model_id, tenant_id) b-tree plus a sort: only an index that orders by distance is wanted.
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL enable_sort = off"), logger: Self.logger)
                var explain = PostgresQuery(
                    unsafeSQL: "EXPLAIN "
                        + ChunkSearch.indexedNearestSQL(
                            modelID: space.id, type: VectorSearchSettings().indexedType(dimensions: space.dimensions)))
                explain.binds.append(vector, context: .default)
                explain.binds.append(tenantID, context: .default)
                explain.binds.append(10, context: .default)
                var lines: [String] = []
                for try await line in try await connection.query(explain, logger: Self.logger).decode(String.self) {
                    lines.append(line)
                }
                return lines.joined(separator: "\n")
            }
            #expect(plan.contains("Index Scan using \(space.indexName)"), "\(plan)")
            let passages = try await Self.retriever(client: client, store: store, configured: wide)
                .retrieve(question: Self.question, tenantID: tenantID, limit: 3)
            #expect(passages.first?.source.hasSuffix("/cafeteria.md") == true)
        }
    }
}

/// A hashing embedder that runs `beforeEmbedding` before each batch and fails once more than `failAfterTexts`
/// texts were asked for: a reindex that is interrupted, or watched while it runs.
struct InstrumentedEmbedder: EmbeddingProvider {
    struct Failure: Error {}
    final class Count: Sendable {
        let texts = Mutex(0)
    }

    let base: HashingEmbedder
    let failAfterTexts: Int?
    let beforeEmbedding: @Sendable () async -> Void
    let count = Count()
    var model: EmbeddingModelDescriptor { base.model }
    var maximumBatchSize: Int { 2 }

    init(dimensions: Int, failAfterTexts: Int? = nil, beforeEmbedding: @escaping @Sendable () async -> Void = {}) {
        self.base = HashingEmbedder(dimensions: dimensions)
        self.failAfterTexts = failAfterTexts
        self.beforeEmbedding = beforeEmbedding
    }

    func embed(_ texts: [String]) async throws -> [[Float]] {
        await beforeEmbedding()
        let total = count.texts.withLock { total in
            total += texts.count
            return total
        }
        if let failAfterTexts, total > failAfterTexts { throw Failure() }
        return try await base.embed(texts)
    }
}
