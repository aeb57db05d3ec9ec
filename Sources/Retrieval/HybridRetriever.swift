import Logging
import Providers
import Storage

/// Dense retrieval (pgvector cosine through HNSW) and lexical retrieval (PostgreSQL full-text search), fused by
/// reciprocal rank: a chunk's score is the sum of `1 / (k + rank)` over the rankings it appears in.
///
/// Both rankings are computed over `candidateCount` chunks of the tenant only. Lexical ranking is the seam for
/// BM25; fusion weights are the seam for tuning.
public struct HybridRetriever: Retriever {
    public struct Configuration: Sendable {
        /// Chunks taken from each ranking before fusion: at least this many, and at least four times the limit.
        /// Defaults to 40.
        public var candidateCount = 40
        /// The reciprocal-rank constant `k`. Defaults to 60.
        public var rankConstant = 60.0
        /// Weight of the dense ranking; the lexical one gets `1 - denseWeight`. Defaults to 0.5.
        public var denseWeight = 0.5
        /// Which rankings are used. Defaults to both.
        public var mode: Mode = .hybrid
        public init() {}
    }

    /// The rankings a retriever uses.
    public enum Mode: String, Sendable, CaseIterable {
        /// Vectors and words, fused.
        case hybrid
        /// Vectors only (pgvector, HNSW).
        case dense
        /// Words only (PostgreSQL full-text search).
        case lexical
    }

    public let configuration: Configuration
    public let search: ChunkSearch
    /// The configured embedding model: it embeds questions for tenants with no stored default space.
    public let embedder: any EmbeddingProvider
    /// Finds the space that answers a tenant (its stored default, else the configured model's), read-only.
    public let models: EmbeddingModelRegistry
    /// The embedder of another model, by name, for tenants whose default space `unity-ai reindex` switched to it;
    /// `nil` when this process cannot embed with it.
    public let embedderNamed: @Sendable (String) -> (any EmbeddingProvider)?
    let logger: Logger

    public init(
        configuration: Configuration = .init(), search: ChunkSearch, embedder: any EmbeddingProvider,
        models: EmbeddingModelRegistry, embedderNamed: @escaping @Sendable (String) -> (any EmbeddingProvider)? = { _ in nil },
        logger: Logger
    ) {
        self.configuration = configuration
        self.search = search
        self.embedder = embedder
        self.models = models
        self.embedderNamed = embedderNamed
        self.logger = logger
    }

    public func retrieve(question: String, tenantID: Int64, limit: Int) async throws -> [RetrievedPassage] {
        let candidates = max(configuration.candidateCount, limit * 4)
        let mode = configuration.mode
        async let lexical =
            mode == .dense ? [] : search.matching(words: question, tenantID: tenantID, limit: candidates, logger: logger)
        var dense: [ChunkSearch.Hit] = []
        if mode != .lexical, let serving = try await denseSpace(tenantID: tenantID),
            let vector = try await serving.embedder.embed([question]).first, vector.contains(where: { $0 != 0 })
        {
            dense = try await search.nearest(
                to: vector, modelID: serving.space.id, dimensions: serving.space.dimensions, tenantID: tenantID,
                limit: candidates, logger: logger)
        }
        let fused: [ChunkSearch.Hit]
        switch mode {
        case .dense: fused = dense
        case .lexical: fused = try await lexical
        case .hybrid:
            fused = Self.fuse(
                dense: dense, lexical: try await lexical, denseWeight: configuration.denseWeight,
                rankConstant: configuration.rankConstant)
        }
        let top = Array(fused.prefix(limit))
        let records = try await search.chunks(ids: top.map(\.chunkID), tenantID: tenantID, logger: logger)
        return top.compactMap { hit in
            guard let record = records[hit.chunkID] else { return nil }
            return RetrievedPassage(
                chunkID: record.id, documentID: record.documentID, source: record.displaySource,
                sourceURI: record.sourceURI, headingPath: record.headingPath, characterRange: record.characterRange,
                text: record.text, score: hit.score, isPrivate: record.isPrivate)
        }
    }

    /// The space that answers the tenant and the embedder for its questions, or `nil` when there is none to search
    /// (no vectors of the configured model, or this process cannot embed with the tenant's default model: then
    /// the answer comes from words alone, and the reason is logged).
    func denseSpace(tenantID: Int64) async throws -> (space: EmbeddingSpace, embedder: any EmbeddingProvider)? {
        guard let space = try await models.servingSpace(
            tenantID: tenantID, configuredModel: embedder.model.name, logger: logger)
        else { return nil }
        let queryEmbedder = space.name == embedder.model.name ? embedder : embedderNamed(space.name)
        guard let queryEmbedder, queryEmbedder.model.dimensions == space.dimensions else {
            logger.warning(
                "No embedder for the tenant's default embedding space; retrieving by words only",
                metadata: ["tenant.id": "\(tenantID)", "embedding.model": "\(space.name)"])
            return nil
        }
        return (space: space, embedder: queryEmbedder)
    }

    /// Weighted reciprocal-rank fusion, best first; ties broken by chunk id for a stable order.
    static func fuse(dense: [ChunkSearch.Hit], lexical: [ChunkSearch.Hit], denseWeight: Double, rankConstant: Double)
        -> [ChunkSearch.Hit]
    {
        var scores: [Int64: Double] = [:]
        for (rank, hit) in dense.enumerated() {
            scores[hit.chunkID, default: 0] += denseWeight / (rankConstant + Double(rank + 1))
        }
        for (rank, hit) in lexical.enumerated() {
            scores[hit.chunkID, default: 0] += (1 - denseWeight) / (rankConstant + Double(rank + 1))
        }
        return scores.map { ChunkSearch.Hit(chunkID: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
    }
}
