import Storage
import Testing

@testable import Retrieval

/// Fusion: both methods, and a choice from the sweep never below the better of its parts.
@Suite struct FusionTests {
    static func hits(_ ids: [Int64], scores: [Double]? = nil) -> [ChunkSearch.Hit] {
        ids.enumerated().map { ChunkSearch.Hit(chunkID: $1, score: scores?[$0] ?? Double(ids.count - $0)) }
    }

    /// Four questions where each part gets some right that the other misses: dense finds 1 and 3 first, words find
    /// 2 and 4 first (chunk ids stand for documents; the relevant one is `relevant`).
    static let questions: [(dense: [ChunkSearch.Hit], lexical: [ChunkSearch.Hit], relevant: Int64)] = [
        (hits([10, 11, 12, 13], scores: [0.9, 0.5, 0.4, 0.3]), hits([11, 12, 10, 14], scores: [9, 8, 2, 1]), 10),
        (hits([21, 22, 20, 23], scores: [0.8, 0.7, 0.6, 0.2]), hits([20, 24, 21, 25], scores: [12, 3, 2, 1]), 20),
        (hits([30, 31, 32, 33], scores: [0.95, 0.4, 0.3, 0.2]), hits([32, 30, 33, 34], scores: [5, 4.5, 1, 0.5]), 30),
        (hits([41, 40, 42, 43], scores: [0.6, 0.58, 0.2, 0.1]), hits([40, 41, 44, 45], scores: [20, 2, 1, 0.5]), 40),
    ]

    static func ndcg(rank: ([ChunkSearch.Hit], [ChunkSearch.Hit]) -> [ChunkSearch.Hit]) -> Double {
        questions.map { question in
            RankingMetrics.ndcg(
                ranked: rank(question.dense, question.lexical).map { "\($0.chunkID)" },
                judgements: ["\(question.relevant)": 1], k: 10)
        }.reduce(0, +) / Double(questions.count)
    }

    @Test func theSweptChoiceIsNeverBelowTheBetterPart() {
        let dense = Self.ndcg { dense, _ in dense }
        let lexical = Self.ndcg { _, lexical in lexical }
        let scored = RetrievalEvaluation.sweptFusions.map { fusion in
            (fusion, Self.ndcg { fusion.fuse(dense: $0, lexical: $1) })
        }
        let best = scored.max { $0.1 < $1.1 }
        #expect((best?.1 ?? 0) >= max(dense, lexical))
        #expect((best?.1 ?? 0) > max(dense, lexical), "this fixture rewards fusing: each part misses what the other finds")
        // The sweep's ends are the parts alone.
        for method in Fusion.Method.allCases {
            let denseOnly = Fusion(method: method, denseWeight: 1)
            let lexicalOnly = Fusion(method: method, denseWeight: 0)
            for question in Self.questions {
                let top = question.dense.count - 1  // a convex combination puts a part's lowest score at 0
                #expect(Array(denseOnly.fuse(dense: question.dense, lexical: question.lexical).prefix(top).map(\.chunkID))
                    == Array(question.dense.prefix(top).map(\.chunkID)))
                #expect(Array(lexicalOnly.fuse(dense: question.dense, lexical: question.lexical).prefix(top).map(\.chunkID))
                    == Array(question.lexical.prefix(top).map(\.chunkID)))
            }
        }
    }

    @Test func reciprocalRankIgnoresScoresAndConvexUsesThem() {
        let dense = Self.hits([1, 2], scores: [0.9, 0.1])
        let lexical = Self.hits([2, 1], scores: [10, 9.9])
        // Ranks only: 1 and 2 are first once each; equal weights tie, broken by id.
        let rrf = Fusion(method: .reciprocalRank, denseWeight: 0.5).fuse(dense: dense, lexical: lexical)
        #expect(rrf.map(\.chunkID) == [1, 2])
        #expect(abs(rrf[0].score - rrf[1].score) < 1e-12)
        // Normalised: dense 1 → 1, 2 → 0; lexical 2 → 1, 1 → 0. At weight 0.6 the dense side wins.
        let convex = Fusion(method: .convex, denseWeight: 0.6).fuse(dense: dense, lexical: lexical)
        #expect(convex.map(\.chunkID) == [1, 2])
        #expect(abs(convex[0].score - 0.6) < 1e-12 && abs(convex[1].score - 0.4) < 1e-12)
        // A ranking whose scores are all equal counts each of its chunks fully.
        let flat = Fusion(method: .convex, denseWeight: 0.5).fuse(dense: Self.hits([7], scores: [0.3]), lexical: [])
        #expect(flat == [ChunkSearch.Hit(chunkID: 7, score: 0.5)])
    }

    @Test func theSweepTriesEveryRankConstantAndConvexOnce() {
        let swept = RetrievalEvaluation.sweptFusions
        for constant in RetrievalEvaluation.sweptRankConstants {
            let weights = swept.filter { $0.method == .reciprocalRank && $0.rankConstant == constant }.map(\.denseWeight)
            #expect(weights.count == 21 && weights.first == 0 && weights.last == 1, "rrf k \(constant)")
        }
        #expect(Set(RetrievalEvaluation.sweptRankConstants).count > 1)
        #expect(swept.filter { $0.method == .convex }.count == 21)
        #expect(swept.allSatisfy { $0.problem == nil })
    }

    @Test func tunedModelsGetTheirTrainChoiceOthersEqualWeightReciprocalRank() {
        #expect(Fusion.defaults(forEmbeddingModel: "openai/text-embedding-3-small") == Fusion.standard)
        #expect(Fusion.defaults(forEmbeddingModel: "local-hash-512") == Fusion(method: .convex, denseWeight: 0.1))
        // docs/benchmarks.md: chosen on SciFact's train split.
        #expect(Fusion.defaults(forEmbeddingModel: "minilm") == Fusion(method: .convex, denseWeight: 0.4))
        #expect(Fusion(method: .convex, denseWeight: 1.5).problem != nil)
    }
}
