import Foundation
import Ingest
import Logging
import PostgresNIO
import Storage
import Testing

/// Documents stored many to a transaction: a group is stored whole or not at all, documents that queue while a
/// transaction runs share the next one, and a bad document in a group fails alone while the others are stored.
@Suite struct DocumentWriterTests {
    static let logger = TestDatabase.logger

    /// A store with a tenant and a 4-dimension model (with its HNSW index, which refuses vectors of other sizes, made
    /// as ingest makes it).
    struct Fixture: Sendable {
        let client: Database
        let store: KnowledgeStore
        let tenantID: Int64
        let modelID: Int

        init(client: Database) async throws {
            self.client = client
            store = KnowledgeStore(client: client)
            tenantID = try await store.ensureTenant(named: "default", logger: DocumentWriterTests.logger)
            modelID = try await store.prepareEmbeddingSpace(
                name: "test/writer", dimensions: 4, logger: DocumentWriterTests.logger
            ).id
        }

        /// `test://NAME` with one chunk per text; `dimensions` other than 4 makes the write fail in PostgreSQL.
        /// Without `chunker` the metadata names no chunking, so the stored chunks are always replaced; with one,
        /// a stored document of the same `content`, chunking and chunk count keeps its chunks. `scale` multiplies
        /// the vectors (`modelID`'s, by default the fixture's).
        func document(
            _ name: String, _ texts: [String], dimensions: Int = 4, chunker: String? = nil, content: String = "a",
            modelID: Int? = nil, scale: Float = 1
        ) -> KnowledgeStore.DocumentWrite {
            let metadata = chunker.map { #"{"title": "\#(name)", "chunker": "\#($0)"}"# } ?? #"{"title": "\#(name)"}"#
            return KnowledgeStore.DocumentWrite(
                tenantID: tenantID, sourceURI: "test://\(name)",
                contentSHA256: String(repeating: content, count: 64 / max(1, content.count)),
                metadataJSON: metadata,
                chunks: texts.enumerated().map { ordinal, text in
                    KnowledgeStore.NewChunk(
                        ordinal: ordinal, text: text, tokenCount: 3, characterRange: 0..<text.count, headingPath: [name],
                        searchText: text, headingText: name, embeddingContext: chunker.map { _ in "\(name) > context" })
                },
                embeddings: texts.map { _ in (0..<dimensions).map { scale * Float($0 + 1) } }, modelID: modelID ?? self.modelID)
        }

        /// Chunk texts by document, in ordinal order, with how many of them have a vector.
        func stored() async throws -> [String: [String]] {
            let rows = try await client.query(
                """
                SELECT d.source_uri, c.text FROM documents d JOIN chunks c ON c.document_id = d.id
                JOIN chunk_embeddings e ON e.chunk_id = c.id ORDER BY d.source_uri, c.ordinal
                """, logger: DocumentWriterTests.logger)
            var stored: [String: [String]] = [:]
            for (uri, text) in try rows.decode((String, String).self) { stored[uri, default: []].append(text) }
            return stored
        }
    }

    @Test func aGroupIsStoredWholeOrNotAtAll() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let fixture = try await Fixture(client: client)
            try await fixture.store.replaceDocuments([fixture.document("a", ["a one", "a two"])], logger: Self.logger)
            await #expect(throws: (any Error).self) {
                try await fixture.store.replaceDocuments(
                    [
                        fixture.document("a", ["a new"]), fixture.document("b", ["b one"]),
                        fixture.document("bad", ["bad one"], dimensions: 3),
                    ], logger: Self.logger)
            }
            // Nothing of the failed group: a keeps its previous version, b was not stored.
            #expect(try await fixture.stored() == ["test://a": ["a one", "a two"]])

            let ids = try await fixture.store.replaceDocuments(
                [fixture.document("b", ["b one", "b two"]), fixture.document("a", ["a new"])], logger: Self.logger)
            #expect(ids.count == 2 && Set(ids).count == 2)
            #expect(try await fixture.stored() == ["test://a": ["a new"], "test://b": ["b one", "b two"]])
            // A document written twice in one group is refused rather than silently decided.
            await #expect(throws: StorageError.self) {
                try await fixture.store.replaceDocuments(
                    [fixture.document("a", ["x"]), fixture.document("a", ["y"])], logger: Self.logger)
            }
        }
    }

    /// Holds the row lock of `test://blocker` until `body` returns, so that the writer's first transaction waits.
    static func whileBlockerIsLocked(_ fixture: Fixture, _ body: () async throws -> Void) async throws {
        let (locked, lockHeld) = AsyncStream.makeStream(of: Void.self)
        let (released, release) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await fixture.client.withTransaction(logger: Self.logger) { connection in
                try await connection.query("SELECT 1 FROM documents WHERE source_uri = 'test://blocker' FOR UPDATE", logger: Self.logger)
                lockHeld.yield()
                for await _ in released { break }
            }
        }
        for await _ in locked { break }
        do {
            try await body()
        } catch {
            release.finish()
            try await holder.value
            throw error
        }
        release.finish()
        try await holder.value
    }

    /// Waits until the writer's statistics satisfy `condition` (no deadline: the test run's own limit applies).
    static func wait(for writer: DocumentWriter, _ condition: @escaping @Sendable (DocumentWriter.Statistics) -> Bool) async {
        while !condition(await writer.currentStatistics) { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Chunk id, model name and first vector component of every stored vector, by source URI and ordinal.
    static func vectors(_ client: Database) async throws -> [String: [(chunk: Int64, model: String, first: Double)]] {
        let rows = try await client.query(
            """
            SELECT d.source_uri, c.id, m.name, (e.embedding::real[])[1]::float8
            FROM documents d JOIN chunks c ON c.document_id = d.id JOIN chunk_embeddings e ON e.chunk_id = c.id
            JOIN embedding_models m ON m.id = e.model_id ORDER BY d.source_uri, c.ordinal, m.name
            """, logger: logger)
        var vectors: [String: [(chunk: Int64, model: String, first: Double)]] = [:]
        for (uri, chunk, model, first) in try rows.decode((String, Int64, String, Double).self) {
            vectors[uri, default: []].append((chunk, model, first))
        }
        return vectors
    }

    /// Each stored chunk's id with its BM25 row (`lexical_chunks`) present, and its stored heading line.
    static func chunks(_ client: Database) async throws -> [String: [(id: Int64, indexed: Bool, context: String?)]] {
        let rows = try await client.query(
            """
            SELECT d.source_uri, c.id, EXISTS (SELECT 1 FROM lexical_chunks l WHERE l.chunk_id = c.id), c.embedding_context
            FROM documents d JOIN chunks c ON c.document_id = d.id ORDER BY d.source_uri, c.ordinal
            """, logger: logger)
        var chunks: [String: [(id: Int64, indexed: Bool, context: String?)]] = [:]
        for (uri, id, indexed, context) in try rows.decode((String, Int64, Bool, String?).self) {
            chunks[uri, default: []].append((id, indexed, context))
        }
        return chunks
    }

    @Test func aGroupKeepsTheChunksOfUnchangedDocumentsWithTheOtherModelsVectors() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let fixture = try await Fixture(client: client)
            let second = try await fixture.store.prepareEmbeddingSpace(name: "test/second", dimensions: 4, logger: Self.logger)
            try await fixture.store.replaceDocuments(
                [
                    fixture.document("a", ["a one", "a two"], chunker: "c1"), fixture.document("b", ["b one"], chunker: "c1"),
                    fixture.document("c", ["c one"], chunker: "c1"), fixture.document("d", ["d one"]),
                ], logger: Self.logger)
            let before = try await Self.chunks(client)

            // The second model, one group: a and b unchanged (kept), c changed, d with no chunker named (replaced).
            try await fixture.store.replaceDocuments(
                [
                    fixture.document("a", ["a one", "a two"], chunker: "c1", modelID: second.id, scale: 2),
                    fixture.document("b", ["b one"], chunker: "c1", modelID: second.id, scale: 2),
                    fixture.document("c", ["c new"], chunker: "c1", content: "c", modelID: second.id, scale: 2),
                    fixture.document("d", ["d one"], modelID: second.id, scale: 2),
                ], logger: Self.logger)
            let after = try await Self.chunks(client)
            #expect(after["test://a"]?.map { $0.id } == before["test://a"]?.map { $0.id })
            #expect(after["test://b"]?.map { $0.id } == before["test://b"]?.map { $0.id })
            #expect(after["test://c"]?.map { $0.id } != before["test://c"]?.map { $0.id })
            #expect(after["test://d"]?.map { $0.id } != before["test://d"]?.map { $0.id })
            // Kept or new, every chunk has its BM25 row; the kept ones keep their heading line.
            #expect(after.values.joined().allSatisfy { $0.indexed })
            #expect(after["test://a"]?.map { $0.context } == ["a > context", "a > context"])
            let vectors = try await Self.vectors(client)
            let models = vectors.mapValues { $0.map { $0.model } }
            #expect(models["test://a"] == ["test/second", "test/writer", "test/second", "test/writer"])
            #expect(models["test://b"] == ["test/second", "test/writer"])
            #expect(models["test://c"] == ["test/second"])
            #expect(models["test://d"] == ["test/second"])

            // All or nothing still: a group with a kept document and a bad one changes nothing of either.
            await #expect(throws: (any Error).self) {
                try await fixture.store.replaceDocuments(
                    [
                        fixture.document("a", ["a one", "a two"], chunker: "c1", scale: 3),
                        fixture.document("bad", ["bad one"], dimensions: 3),
                    ], logger: Self.logger)
            }
            #expect(try await Self.vectors(client)["test://a"]?.map { $0.first } == [2, 1, 2, 1])

            // Through the writer, the failed group is written again one document at a time: the kept document's
            // vectors of the fixture's model are replaced, the second model's stay.
            var configuration = DocumentWriter.Configuration()
            configuration.maximumInFlight = 1
            let writer = DocumentWriter(store: fixture.store, configuration: configuration, logger: Self.logger)
            try await fixture.store.replaceDocuments([fixture.document("blocker", ["old"])], logger: Self.logger)
            var first: Task<Int64, any Error>?
            var kept: Task<Int64, any Error>?
            var bad: Task<Int64, any Error>?
            try await Self.whileBlockerIsLocked(fixture) {
                first = Task { try await writer.write(fixture.document("blocker", ["new"])) }
                await Self.wait(for: writer) { $0.inFlight == 1 }
                kept = Task { try await writer.write(fixture.document("a", ["a one", "a two"], chunker: "c1", scale: 3)) }
                bad = Task { try await writer.write(fixture.document("bad", ["bad one"], dimensions: 3)) }
                await Self.wait(for: writer) { $0.queued == 2 }
            }
            _ = try await first?.value
            _ = try await kept?.value
            await #expect(throws: (any Error).self) { try await bad?.value }
            #expect(await writer.currentStatistics.splitGroups == 1)
            let final = try await Self.vectors(client)["test://a"]
            #expect(final?.map { $0.first } == [2, 3, 2, 3])
            #expect(final?.map { $0.chunk } == before["test://a"].map { ids in ids.flatMap { [$0.id, $0.id] } })
        }
    }

    @Test func documentsQueuedWhileATransactionRunsShareTheNextOne() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let fixture = try await Fixture(client: client)
            try await fixture.store.replaceDocuments([fixture.document("blocker", ["old"])], logger: Self.logger)
            var configuration = DocumentWriter.Configuration()
            configuration.maximumInFlight = 1
            let writer = DocumentWriter(store: fixture.store, configuration: configuration, logger: Self.logger)
            var first: Task<Int64, any Error>?
            var queued: [Task<Int64, any Error>] = []
            try await Self.whileBlockerIsLocked(fixture) {
                // Started once the lock is held, the first write's transaction waits for it.
                first = Task { try await writer.write(fixture.document("blocker", ["new"])) }
                await Self.wait(for: writer) { $0.inFlight == 1 }
                for name in ["a", "b", "c"] {
                    queued.append(Task { try await writer.write(fixture.document(name, ["\(name) one", "\(name) two"])) })
                }
                await Self.wait(for: writer) { $0.queued == 3 }
            }
            _ = try await first?.value
            for task in queued { _ = try await task.value }
            let statistics = await writer.currentStatistics
            #expect(statistics.transactions == 2 && statistics.documents == 4 && statistics.largestGroup == 3)
            #expect(
                try await fixture.stored() == [
                    "test://blocker": ["new"], "test://a": ["a one", "a two"], "test://b": ["b one", "b two"],
                    "test://c": ["c one", "c two"],
                ])
        }
    }

    /// Filling an empty space, the writer refreshes the vectors' planner statistics after the first chunks and
    /// then at fourfold counts; switched off, it leaves them to autovacuum.
    @Test func fillingAnEmptySpaceRefreshesTheVectorsStatisticsAsTheyGrow() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let fixture = try await Fixture(client: client)
            var configuration = DocumentWriter.Configuration()
            configuration.firstStatisticsRefreshAtChunks = 2
            configuration.maximumInFlight = 1
            let writer = DocumentWriter(store: fixture.store, configuration: configuration, logger: Self.logger)
            await writer.refreshStatisticsWhileFilling(true)
            // 2 chunks: the first refresh; the next is due at 8.
            _ = try await writer.write(fixture.document("a", ["a one", "a two"]))
            await Self.wait(for: writer) { $0.statisticsRefreshes == 1 }
            for name in ["b", "c"] { _ = try await writer.write(fixture.document(name, ["\(name) one", "\(name) two"])) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(await writer.currentStatistics.statisticsRefreshes == 1)
            _ = try await writer.write(fixture.document("d", ["d one", "d two"]))
            await Self.wait(for: writer) { $0.statisticsRefreshes == 2 }
            // ANALYZE counted the 8 rows stored then (a never-analysed table reports -1).
            let counted = try await client.query(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'chunk_embeddings'", logger: Self.logger
            ).decode(Int64.self)
            #expect(counted == [8])
            await writer.refreshStatisticsWhileFilling(false)
            for name in ["e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u"] {
                _ = try await writer.write(fixture.document(name, ["\(name) one", "\(name) two"]))
            }
            try await Task.sleep(for: .milliseconds(200))
            let statistics = await writer.currentStatistics
            #expect(statistics.statisticsRefreshes == 2 && statistics.chunks == 42)
        }
    }

    @Test func aBadDocumentInAGroupFailsAloneAndTheOthersAreStored() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let fixture = try await Fixture(client: client)
            try await fixture.store.replaceDocuments(
                [fixture.document("blocker", ["old"]), fixture.document("bad", ["bad before"])], logger: Self.logger)
            var configuration = DocumentWriter.Configuration()
            configuration.maximumInFlight = 1
            let writer = DocumentWriter(store: fixture.store, configuration: configuration, logger: Self.logger)
            var first: Task<Int64, any Error>?
            var good: [Task<Int64, any Error>] = []
            var bad: Task<Int64, any Error>?
            try await Self.whileBlockerIsLocked(fixture) {
                first = Task { try await writer.write(fixture.document("blocker", ["new"])) }
                await Self.wait(for: writer) { $0.inFlight == 1 }
                good.append(Task { try await writer.write(fixture.document("a", ["a one"])) })
                bad = Task { try await writer.write(fixture.document("bad", ["bad after"], dimensions: 3)) }
                good.append(Task { try await writer.write(fixture.document("b", ["b one"])) })
                await Self.wait(for: writer) { $0.queued == 3 }
            }
            _ = try await first?.value
            for task in good { _ = try await task.value }
            await #expect(throws: (any Error).self) { try await bad?.value }
            let statistics = await writer.currentStatistics
            #expect(statistics.splitGroups == 1 && statistics.documents == 3)
            // The bad document keeps its stored version; the others of its group are stored.
            #expect(
                try await fixture.stored() == [
                    "test://blocker": ["new"], "test://a": ["a one"], "test://b": ["b one"], "test://bad": ["bad before"],
                ])
        }
    }
}
