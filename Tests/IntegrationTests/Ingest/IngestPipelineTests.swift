import Foundation
import Ingest
import PostgresNIO
import Providers
import Storage
import Synchronization
import Testing

/// The hashing embedder, counting the texts it is asked to embed and failing any batch with "POISON" in it.
final class CountingEmbedder: EmbeddingProvider, Sendable {
    let inner = HashingEmbedder(dimensions: 64)
    var model: EmbeddingModelDescriptor { inner.model }
    var maximumBatchSize: Int { 16 }
    private let embedded = Mutex<[String]>([])

    var texts: [String] { embedded.withLock { $0 } }

    func embed(_ texts: [String]) async throws -> [[Float]] {
        embedded.withLock { $0 += texts }
        if texts.contains(where: { $0.contains("POISON") }) {
            throw ProviderError.malformedResponse(provider: "counting", reason: "poisoned batch")
        }
        return try await inner.embed(texts)
    }
}

/// The pipeline: hash-keyed reuse of vectors, batching across documents with failures kept to their document,
/// and watch mode.
@Suite struct IngestPipelineTests {
    static let pump = "# Pump\n\nThe coolant pump in hall 3 is serviced every 90 days by the night crew.\n"
    static let gate = "# Gate\n\nThe north gate opens at 05:30 on weekdays and stays shut on Sundays.\n"

    func ingestor(_ client: Database, _ embedder: CountingEmbedder) -> Ingestor {
        Ingestor(store: KnowledgeStore(client: client), embedder: embedder, logger: TestDatabase.logger)
    }

    @Test func contentAlreadyEmbeddedIsReusedWhateverItsPathButNotAcrossTenants() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.pump, to: "docs/pump.md")
        try directory.write(Self.gate, to: "docs/gate.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let embedder = CountingEmbedder()
            let ingestor = ingestor(client, embedder)
            let first = try await ingestor.ingest(paths: [directory.path + "/docs"], tenant: "default")
            #expect(first.added == 2 && first.chunksEmbedded == embedder.texts.count && first.chunksEmbedded >= 2)
            let calledBefore = embedder.texts.count

            // A copy at a new path (and a moved file): new documents, nothing embedded.
            try FileManager.default.copyItem(
                atPath: directory.path + "/docs/pump.md", toPath: directory.path + "/docs/pump-copy.md")
            try FileManager.default.createDirectory(
                atPath: directory.path + "/docs/moved", withIntermediateDirectories: true)
            try FileManager.default.moveItem(
                atPath: directory.path + "/docs/gate.md", toPath: directory.path + "/docs/moved/gate.md")
            let second = try await ingestor.ingest(paths: [directory.path + "/docs"], tenant: "default")
            #expect(second.added == 2 && second.removed == 1 && second.unchanged == 1)
            #expect(second.chunksEmbedded == 0)
            #expect(embedder.texts.count == calledBefore)
            #expect(
                try await Appliance(client: client).count(
                    "SELECT count(*)::bigint FROM chunk_embeddings WHERE text_sha256 IS NULL") == 0)

            // A new text beside a reused one: only the new one is embedded.
            try directory.write(Self.pump + "\n## Parts\n\nSpare impellers are in cabinet 12.\n", to: "docs/pump.md")
            let third = try await ingestor.ingest(paths: [directory.path + "/docs"], tenant: "default")
            #expect(third.updated == 1 && third.chunksEmbedded == embedder.texts.count - calledBefore)
            #expect(embedder.texts.dropFirst(calledBefore).allSatisfy { !$0.contains("night crew") || $0.contains("impellers") })

            // Another tenant embeds its own: whether a text is stored is the tenant's business alone.
            let other = try await ingestor.ingest(paths: [directory.path + "/docs"], tenant: "other")
            #expect(other.added == 3 && other.chunksEmbedded > 0)
        }
    }

    @Test func aDocumentWhoseEmbeddingFailsFailsAloneAndKeepsItsStoredVersion() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        for index in 0..<20 {
            try directory.write("# Note \(index)\n\nShelf \(index) holds spare fuses of size \(index * 3).\n", to: "notes/\(index).md")
        }
        try directory.write(Self.pump, to: "notes/pump.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let embedder = CountingEmbedder()
            var configuration = Ingestor.Configuration()
            configuration.embedding.batchSize = 8
            configuration.embedding.maximumInFlight = 2
            let ingestor = Ingestor(
                configuration: configuration, store: KnowledgeStore(client: client), embedder: embedder,
                logger: TestDatabase.logger)
            let first = try await ingestor.ingest(paths: [directory.path + "/notes"], tenant: "default")
            #expect(first.added == 21 && first.failed == 0)

            for index in 0..<10 {
                try directory.write("# Note \(index)\n\nShelf \(index) now holds cables, \(index) metres.\n", to: "notes/\(index).md")
            }
            try directory.write(Self.pump + "\nPOISON: this text cannot be embedded.\n", to: "notes/pump.md")
            let second = try await ingestor.ingest(paths: [directory.path + "/notes"], tenant: "default")
            #expect(second.updated == 10 && second.failed == 1 && second.unchanged == 10)
            #expect(second.failures.map { ($0.path as NSString).lastPathComponent } == ["pump.md"])
            // The old version of the failed document stays, whole.
            let texts = try await Appliance(client: client).chunkTexts(sourceEndingWith: "/notes/pump.md")
            #expect(texts.joined().contains("night crew") && !texts.joined().contains("POISON"))
            #expect(
                try await Appliance(client: client).count(
                    "SELECT count(*)::bigint FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.source_uri LIKE '%/notes/pump.md' AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id)"
                ) == 0)
        }
    }

    @Test func watchModePicksUpANewAChangedAndADeletedFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(Self.pump, to: "watched/pump.md")
        try directory.write(Self.gate, to: "watched/gate.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let embedder = CountingEmbedder()
            let ingestor = ingestor(client, embedder)
            let appliance = Appliance(client: client)
            let (syncs, syncContinuation) = AsyncStream.makeStream(of: IngestSummary.self)
            let root = directory.path + "/watched"
            let watching = Task {
                try await ingestor.watch(path: root, tenant: "default") { syncContinuation.yield($0) }
            }
            defer { watching.cancel() }
            var iterator = syncs.makeAsyncIterator()
            let initial = await iterator.next()
            #expect(initial?.added == 2)

            try directory.write("# Dock\n\nTrucks unload at dock 4 after 14:00.\n", to: "watched/new/dock.md")
            try directory.write(Self.pump.replacingOccurrences(of: "90 days", with: "60 days"), to: "watched/pump.md")
            try directory.remove("watched/gate.md")

            // Generous bound: the changes are seen within 30 s (each sync re-checks the database).
            let deadline = ContinuousClock.now + .seconds(30)
            func settled() async throws -> Bool {
                let dock = try await appliance.chunkTexts(sourceEndingWith: "/watched/new/dock.md")
                let pump = try await appliance.chunkTexts(sourceEndingWith: "/watched/pump.md")
                let gate = try await appliance.chunkTexts(sourceEndingWith: "/watched/gate.md")
                return dock.joined().contains("dock 4") && pump.joined().contains("60 days") && gate.isEmpty
            }
            while !(try await settled()), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await settled())
            #expect(
                try await appliance.count(
                    "SELECT count(*)::bigint FROM documents WHERE source_uri LIKE '%/watched/new/dock.md' AND metadata->>'display_path' = 'watched/new/dock.md' AND metadata->>'root' = '\(root)'"
                ) == 1)
            watching.cancel()
            _ = await watching.result
        }
    }
}
