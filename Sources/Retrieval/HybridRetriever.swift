import Logging
import Providers
import Storage

/// Dense retrieval (pgvector cosine through HNSW) and lexical retrieval (BM25 over PostgreSQL's own parser and
/// stemmer, scored in SQL), fused by ``Fusion``: weighted reciprocal rank or a convex combination of normalised
/// scores, with the method and weight tuned per embedding model on SciFact's train split.
///
/// Both rankings are computed over `candidateCount` chunks of the tenant only.
public struct HybridRetriever: Retriever {
    public struct Configuration: Sendable {
        /// Chunks taken from each ranking before fusion: at least this many, and at least four times the limit.
        /// Defaults to 40.
        public var candidateCount = 40
        /// How the rankings are fused; `nil` takes ``Fusion/defaults(forEmbeddingModel:)`` for the embedder.
        public var fusion: Fusion?
        /// BM25's k1, b and heading weight.
        public var bm25 = LexicalIndex.Parameters()
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
        /// Words only, BM25.
        case bm25
        /// Words only, PostgreSQL's `ts_rank` over the full-text index: the baseline BM25 replaced.
        case tsRank = "ts_rank"
    }

    /// A question's two rankings before fusion, each best first.
    public struct Rankings: Sendable {
        public var dense: [ChunkSearch.Hit]
        public var lexical: [ChunkSearch.Hit]
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

    /// The fusion in use: the configured one, or the embedder's tuned default.
    public var fusion: Fusion { configuration.fusion ?? Fusion.defaults(forEmbeddingModel: embedder.model.name) }

    public func retrieve(question: String, tenantID: Int64, limit: Int) async throws -> [RetrievedPassage] {
        let rankings = try await self.rankings(question: question, tenantID: tenantID, limit: limit)
        let ranked: [ChunkSearch.Hit]
        switch configuration.mode {
        case .dense: ranked = rankings.dense
        case .bm25, .tsRank: ranked = rankings.lexical
        case .hybrid: ranked = fusion.fuse(dense: rankings.dense, lexical: rankings.lexical)
        }
        return try await passages(Array(ranked.prefix(limit)), tenantID: tenantID)
    }

    /// The dense and lexical rankings of `question` the mode asks for (the other one empty), each of
    /// `max(candidateCount, limit × 4)` chunks at most.
    public func rankings(question: String, tenantID: Int64, limit: Int) async throws -> Rankings {
        let candidates = max(configuration.candidateCount, limit * 4)
        let mode = configuration.mode
        async let lexical = lexicalRanking(question: question, tenantID: tenantID, limit: candidates)
        var dense: [ChunkSearch.Hit] = []
        if mode == .dense || mode == .hybrid, let vector = try await embedder.embed([question]).first,
            vector.contains(where: { $0 != 0 })
        {
            let modelID = try await models.id(
                name: embedder.model.name, dimensions: embedder.model.dimensions, logger: logger)
            dense = try await search.nearest(
                to: vector, modelID: modelID, dimensions: embedder.model.dimensions, tenantID: tenantID,
                limit: candidates, logger: logger)
        }
        return Rankings(dense: dense, lexical: try await lexical)
    }

    /// The lexical ranking of the mode: BM25, `ts_rank`, or none.
    func lexicalRanking(question: String, tenantID: Int64, limit: Int) async throws -> [ChunkSearch.Hit] {
        switch configuration.mode {
        case .dense: []
        case .tsRank: try await search.matching(words: question, tenantID: tenantID, limit: limit, logger: logger)
        case .bm25, .hybrid:
            try await search.bm25(
                words: question, tenantID: tenantID, limit: limit, parameters: configuration.bm25, logger: logger)
        }
    }

    /// The passages of `hits`, in their order; a hit whose chunk is gone (or not the tenant's) is dropped.
    public func passages(_ hits: [ChunkSearch.Hit], tenantID: Int64) async throws -> [RetrievedPassage] {
        let records = try await search.chunks(ids: hits.map(\.chunkID), tenantID: tenantID, logger: logger)
        return hits.compactMap { hit in
            guard let record = records[hit.chunkID] else { return nil }
            return RetrievedPassage(
                chunkID: record.id, documentID: record.documentID, source: record.displaySource,
                sourceURI: record.sourceURI, headingPath: record.headingPath, characterRange: record.characterRange,
                text: record.text, score: hit.score, isPrivate: record.isPrivate)
        }
    }
}
