import Foundation
import Routing
import Storage

/// Scores a retriever on a BEIR dataset's judgements (nDCG@10, MRR@10, recall@100) and times its queries; a sweep
/// scores several fusions (from one pair of rankings per question) or several BM25 heading weights (one BM25 query
/// per question and weight) in the same run. Documents are ranked by their best chunk.
public struct RetrievalEvaluation: Sendable {
    /// Ranking quality, averaged over queries.
    public struct Scores: Sendable, Equatable, Codable {
        public var ndcgAt10 = 0.0
        public var mrrAt10 = 0.0
        public var recallAt100 = 0.0

        public init(ndcgAt10: Double = 0, mrrAt10: Double = 0, recallAt100: Double = 0) {
            self.ndcgAt10 = ndcgAt10
            self.mrrAt10 = mrrAt10
            self.recallAt100 = recallAt100
        }

        enum CodingKeys: String, CodingKey {
            case ndcgAt10 = "ndcg_at_10", mrrAt10 = "mrr_at_10", recallAt100 = "recall_at_100"
        }
    }

    /// Query latency percentiles, in milliseconds: from the question to its ranked chunk ids (embedding the
    /// question, both searches and the fusion; reading the passages' text is not included).
    public struct Latency: Sendable, Equatable, Codable {
        public var p50: Double
        public var p99: Double

        /// Nearest-rank percentiles of `milliseconds` (0 for none).
        public init(milliseconds: [Double]) {
            let sorted = milliseconds.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
                return sorted[min(max(rank, 1), sorted.count) - 1]
            }
            p50 = percentile(50)
            p99 = percentile(99)
        }
    }

    /// One setting scored: a fusion (hybrid), a BM25 heading weight, or the mode's one ranking.
    public struct Variant: Sendable, Equatable, Codable {
        /// `rrf` or `convex`, in hybrid mode.
        public var fusionMethod: String?
        public var denseWeight: Double?
        public var rankConstant: Double?
        public var headingWeight: Double?
        public var scores: Scores

        enum CodingKeys: String, CodingKey {
            case fusionMethod = "fusion_method", denseWeight = "dense_weight", rankConstant = "rank_constant"
            case headingWeight = "heading_weight", scores
        }
    }

    public let dataset: BEIRDataset
    public let retriever: HybridRetriever
    public let tenantID: Int64

    public init(dataset: BEIRDataset, retriever: HybridRetriever, tenantID: Int64) {
        self.dataset = dataset
        self.retriever = retriever
        self.tenantID = tenantID
    }

    /// Scores every fusion of `fusions` (hybrid mode; the retriever's own when empty) for every heading weight of
    /// `headingWeights` (the retriever's own when empty); the latency is that of the first pass. Variants come in
    /// the order heading weight, then fusion.
    public func run(
        fusions: [Fusion] = [], headingWeights: [Double] = [], progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> (variants: [Variant], latency: Latency) {
        let mode = retriever.configuration.mode
        let fusions = mode == .hybrid ? (fusions.isEmpty ? [retriever.fusion] : fusions) : []
        let weights = headingWeights.isEmpty ? [retriever.configuration.bm25.headingWeight] : headingWeights
        let queryIDs = dataset.judgements.keys.sorted()
        guard !queryIDs.isEmpty else { throw EvaluationError(message: "The split holds no judged queries.") }
        var variants: [Variant] = []
        var milliseconds: [Double] = []
        let clock = ContinuousClock()
        for (pass, weight) in weights.enumerated() {
            var configuration = retriever.configuration
            configuration.bm25.headingWeight = weight
            let passRetriever = HybridRetriever(
                configuration: configuration, search: retriever.search, embedder: retriever.embedder,
                models: retriever.models, logger: retriever.logger)
            var totals = [Scores](repeating: Scores(), count: max(fusions.count, 1))
            for (done, queryID) in queryIDs.enumerated() {
                guard let question = dataset.queries[queryID], let judgements = dataset.judgements[queryID] else {
                    throw EvaluationError(message: "Query \(queryID) of the judgements is not in queries.jsonl.")
                }
                let start = clock.now
                let rankings = try await passRetriever.rankings(question: question, tenantID: tenantID, limit: 100)
                let rankedLists: [[ChunkSearch.Hit]] =
                    switch mode {
                    case .hybrid: fusions.map { $0.fuse(dense: rankings.dense, lexical: rankings.lexical) }
                    case .dense: [rankings.dense]
                    case .bm25, .tsRank: [rankings.lexical]
                    }
                if pass == 0 { milliseconds.append((clock.now - start).seconds * 1_000) }
                let ids = Set(rankings.dense.map(\.chunkID) + rankings.lexical.map(\.chunkID))
                let sources = try await retriever.search.chunks(ids: Array(ids), tenantID: tenantID, logger: retriever.logger)
                    .mapValues(\.displaySource)
                for (index, hits) in rankedLists.enumerated() {
                    var seen: Set<String> = []
                    let ranked = hits.prefix(100).compactMap { sources[$0.chunkID] }.filter { seen.insert($0).inserted }
                    totals[index].ndcgAt10 += RankingMetrics.ndcg(ranked: ranked, judgements: judgements, k: 10)
                    totals[index].mrrAt10 += RankingMetrics.reciprocalRank(ranked: ranked, judgements: judgements, k: 10)
                    totals[index].recallAt100 += RankingMetrics.recall(ranked: ranked, judgements: judgements, k: 100)
                }
                progress?(pass * queryIDs.count + done + 1, weights.count * queryIDs.count)
            }
            let count = Double(queryIDs.count)
            let averaged = totals.map {
                Scores(ndcgAt10: $0.ndcgAt10 / count, mrrAt10: $0.mrrAt10 / count, recallAt100: $0.recallAt100 / count)
            }
            let lexicalWeight: Double? = mode == .dense ? nil : weight
            if fusions.isEmpty {
                variants.append(Variant(headingWeight: lexicalWeight, scores: averaged[0]))
            } else {
                for (fusion, scores) in zip(fusions, averaged) {
                    variants.append(
                        Variant(
                            fusionMethod: fusion.method.rawValue, denseWeight: fusion.denseWeight,
                            rankConstant: fusion.method == .reciprocalRank ? fusion.rankConstant : nil,
                            headingWeight: lexicalWeight, scores: scores))
                }
            }
        }
        return (variants, Latency(milliseconds: milliseconds))
    }

    /// The sweep's fusions: both methods at dense weights 0, 0.05, …, 1 (the ends are the parts alone), reciprocal
    /// rank at each of ``sweptRankConstants``.
    public static let sweptFusions: [Fusion] = Fusion.Method.allCases.flatMap { method in
        (method == .reciprocalRank ? sweptRankConstants : [60]).flatMap { constant in
            (0...20).map { Fusion(method: method, denseWeight: Double($0) / 20, rankConstant: constant) }
        }
    }

    /// The reciprocal-rank constants `k` the sweep tries: a small `k` lets the top few ranks of each part dominate,
    /// a large one flattens them.
    public static let sweptRankConstants: [Double] = [10, 20, 30, 60, 100]

    /// The sweep's BM25 heading weights.
    public static let sweptHeadingWeights: [Double] = [0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3]

    /// The best variant by nDCG@10 (ties: the earlier), as a sweep chooses.
    public static func best(of variants: [Variant]) -> Variant? {
        variants.enumerated().max { a, b in
            a.element.scores.ndcgAt10 != b.element.scores.ndcgAt10
                ? a.element.scores.ndcgAt10 < b.element.scores.ndcgAt10 : a.offset > b.offset
        }?.element
    }
}
