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
        /// The model of the space the dense ranking searched (the tenant's default), `nil` when there was none.
        public var denseModel: String?
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

    /// The fusion for the configured embedder: the configured one, or the embedder's tuned default.
    public var fusion: Fusion { fusion(forEmbeddingModel: embedder.model.name) }

    /// The fusion for a dense ranking of `model`'s space: the configured one, or that model's tuned default (a
    /// tenant that `unity-ai reindex` switched to another model fuses with that model's weight).
    public func fusion(forEmbeddingModel model: String) -> Fusion {
        configuration.fusion ?? Fusion.defaults(forEmbeddingModel: model)
    }

    public func retrieve(question: String, tenantID: Int64, limit: Int) async throws -> [RetrievedPassage] {
        let rankings = try await self.rankings(question: question, tenantID: tenantID, limit: limit)
        let ranked: [ChunkSearch.Hit]
        switch configuration.mode {
        case .dense: ranked = rankings.dense
        case .bm25, .tsRank: ranked = rankings.lexical
        case .hybrid:
            ranked = fusion(forEmbeddingModel: rankings.denseModel ?? embedder.model.name)
                .fuse(dense: rankings.dense, lexical: rankings.lexical)
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
        var denseModel: String?
        if mode == .dense || mode == .hybrid, let serving = try await denseSpace(tenantID: tenantID),
            let vector = try await serving.embedder.embed([question]).first, vector.contains(where: { $0 != 0 })
        {
            denseModel = serving.space.name
            dense = try await search.nearest(
                to: vector, modelID: serving.space.id, dimensions: serving.space.dimensions, tenantID: tenantID,
                limit: candidates, logger: logger)
        }
        return Rankings(dense: dense, lexical: try await lexical, denseModel: denseModel)
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
}
