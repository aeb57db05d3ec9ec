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
    public let embedder: any EmbeddingProvider
    /// Resolves the stored id of the embedder's model.
    public let models: EmbeddingModelRegistry
    let logger: Logger

    public init(
        configuration: Configuration = .init(), search: ChunkSearch, embedder: any EmbeddingProvider,
        models: EmbeddingModelRegistry, logger: Logger
    ) {
        self.configuration = configuration
        self.search = search
        self.embedder = embedder
        self.models = models
        self.logger = logger
    }

    public func retrieve(question: String, tenantID: Int64, limit: Int) async throws -> [RetrievedPassage] {
        let candidates = max(configuration.candidateCount, limit * 4)
        let modelID = try await models.id(
            name: embedder.model.name, dimensions: embedder.model.dimensions, logger: logger)
        let mode = configuration.mode
        async let lexical =
            mode == .dense ? [] : search.matching(words: question, tenantID: tenantID, limit: candidates, logger: logger)
        var dense: [ChunkSearch.Hit] = []
        if mode != .lexical, let vector = try await embedder.embed([question]).first, vector.contains(where: { $0 != 0 }) {
            dense = try await search.nearest(
                to: vector, modelID: modelID, dimensions: embedder.model.dimensions, tenantID: tenantID,
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
