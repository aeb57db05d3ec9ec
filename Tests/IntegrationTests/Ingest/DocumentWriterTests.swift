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

    /// A store with a tenant and a 4-dimension model (with its HNSW index, which refuses vectors of other sizes).
    struct Fixture: Sendable {
        let client: Database
        let store: KnowledgeStore
        let tenantID: Int64
        let modelID: Int

        init(client: Database) async throws {
            self.client = client
            store = KnowledgeStore(client: client)
            tenantID = try await store.ensureTenant(named: "default", logger: DocumentWriterTests.logger)
            modelID = try await store.registerEmbeddingModel(name: "test/writer", dimensions: 4, logger: DocumentWriterTests.logger)
        }

        /// `test://NAME` with one chunk per text; `dimensions` other than 4 makes the write fail in PostgreSQL.
        func document(_ name: String, _ texts: [String], dimensions: Int = 4) -> KnowledgeStore.DocumentWrite {
            KnowledgeStore.DocumentWrite(
                tenantID: tenantID, sourceURI: "test://\(name)", contentSHA256: String(repeating: "a", count: 64),
                metadataJSON: #"{"title": "\#(name)"}"#,
                chunks: texts.enumerated().map { ordinal, text in
                    KnowledgeStore.NewChunk(
                        ordinal: ordinal, text: text, tokenCount: 3, characterRange: 0..<text.count, headingPath: [name],
                        searchText: text)
                },
                embeddings: texts.map { _ in (0..<dimensions).map { Float($0 + 1) } }, modelID: modelID)
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
