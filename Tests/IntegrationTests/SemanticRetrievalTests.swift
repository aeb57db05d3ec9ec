import Foundation
import Ingest
import MiniLM
import PostgresNIO
import Providers
import Retrieval
import Storage
import Testing

/// The native embedder through the real pipeline: pgvector finds meaning, not shared words.
@Suite struct SemanticRetrievalTests {
    @Test func aSynonymWithNoSharedWordFindsTheRightDocument() async throws {
        let directory = MiniLMEmbedder.defaultModelDirectory()
        let embedder: MiniLMEmbedder
        do {
            embedder = try MiniLMEmbedder(modelDirectory: directory)
        } catch {
            throw TestSetupError("\(error) (./deploy/test.sh installs the model)")
        }
        let documents = try TemporaryDirectory()
        defer { documents.delete() }
        try documents.write("# Vehicles\n\nThe car is parked in the garage next to the bicycle.\n", to: "vehicles.md")
        try documents.write("# Baking\n\nFlour, yeast and water make a simple bread dough.\n", to: "baking.md")
        try documents.write("# Weather\n\nHeavy rain is expected over the coast on Friday.\n", to: "weather.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            let summary = try await Ingestor(store: store, embedder: embedder, logger: TestDatabase.logger)
                .ingest(paths: [documents.path], tenant: "default")
            #expect(summary.added == 3)
            var configuration = HybridRetriever.Configuration()
            configuration.mode = .dense
            let retriever = HybridRetriever(
                configuration: configuration, search: ChunkSearch(client: client), embedder: embedder,
                models: EmbeddingModelRegistry(store: store), logger: TestDatabase.logger)
            let tenantID = try #require(try await store.tenantID(named: "default", logger: TestDatabase.logger))
            // "automobile" shares no word with "car"; the hashing embedder could not match it.
            let passages = try await retriever.retrieve(question: "Where is the automobile?", tenantID: tenantID, limit: 3)
            #expect(passages.first?.source.hasSuffix("vehicles.md") == true)
        }
    }

    @Test func embeddingSpacesStayApart() async throws {
        let minilm = try MiniLMEmbedder(modelDirectory: MiniLMEmbedder.defaultModelDirectory())
        let documents = try TemporaryDirectory()
        defer { documents.delete() }
        try documents.write("# Vehicles\n\nThe car is parked in the garage.\n", to: "vehicles.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            _ = try await Ingestor(store: store, embedder: HashingEmbedder(), logger: TestDatabase.logger)
                .ingest(paths: [documents.path], tenant: "default")
            // The same document under another model is embedded again, into its own space, beside the first.
            let again = try await Ingestor(store: store, embedder: minilm, logger: TestDatabase.logger)
                .ingest(paths: [documents.path], tenant: "default")
            #expect(again.updated == 1 && again.chunksEmbedded == 1)
            let rows = try await client.query(
                "SELECT m.name, vector_dims(e.embedding) FROM chunk_embeddings e JOIN embedding_models m ON m.id = e.model_id ORDER BY m.name",
                logger: TestDatabase.logger)
            var spaces: [String: Int] = [:]
            for (name, dimensions) in try rows.decode((String, Int).self) { spaces[name] = dimensions }
            #expect(spaces == ["minilm": 384, "local-hash-512": 512])
        }
    }
}
