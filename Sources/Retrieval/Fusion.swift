import Storage

/// How a dense ranking and a lexical ranking become one: weighted reciprocal-rank fusion or a convex combination of
/// min-max-normalised scores. A weight of 1 (or 0) keeps the dense (or lexical) part's order at the top, so a
/// weight chosen from a sweep that includes both ends is never below the better part on the data it was chosen on.
public struct Fusion: Sendable, Equatable, CustomStringConvertible {
    /// The ways to fuse.
    public enum Method: String, Sendable, CaseIterable {
        /// Weighted reciprocal rank: a chunk scores `w / (k + rank)` in the dense ranking plus `(1 − w) / (k + rank)`
        /// in the lexical one. Scores are ignored; only ranks count.
        case reciprocalRank = "rrf"
        /// Convex combination of scores, each ranking's scores scaled to [0, 1] by its own minimum and maximum: a
        /// chunk scores `w × dense + (1 − w) × lexical`, 0 where a ranking does not list it.
        case convex
    }

    public var method: Method
    /// Weight of the dense ranking, from 0 (lexical only) to 1 (dense only).
    public var denseWeight: Double
    /// The reciprocal-rank constant `k` (reciprocal-rank fusion only). Defaults to 60.
    public var rankConstant: Double

    public init(method: Method, denseWeight: Double, rankConstant: Double = 60) {
        self.method = method
        self.denseWeight = denseWeight
        self.rankConstant = rankConstant
    }

    public var description: String {
        switch method {
        case .reciprocalRank: "rrf(k \(rankConstant), dense weight \(denseWeight))"
        case .convex: "convex(dense weight \(denseWeight))"
        }
    }

    /// Why this fusion cannot be used, or `nil` when it can.
    public var problem: String? {
        guard denseWeight.isFinite, (0...1).contains(denseWeight) else { return "the dense weight must be between 0 and 1" }
        guard rankConstant.isFinite, rankConstant >= 0, rankConstant <= 10_000 else {
            return "the rank constant must be between 0 and 10000"
        }
        return nil
    }

    /// The defaults chosen on SciFact's **train** split with `unity-ai evaluate --split train --sweep` (BM25 with
    /// the default parameters as the lexical side; see docs/benchmarks.md), by embedding model name. Another model
    /// gets ``standard``. The hashing `local` embedder (`local-hash-512`) is weak: convex with dense weight 0.1 was
    /// the best of the sweep on train (0.698 against BM25's 0.696; every RRF weight above 0 was below BM25).
    /// `minilm` (all-MiniLM-L6-v2): convex with dense weight 0.4 was the best of the sweep on train (0.740 against
    /// BM25's 0.696 and the vectors' 0.658; the best RRF, k 10 and weight 0.45, 0.723).
    public static let tunedDefaults: [String: Fusion] = [
        "local-hash-512": Fusion(method: .convex, denseWeight: 0.1),
        "minilm": Fusion(method: .convex, denseWeight: 0.4),
    ]

    /// Weighted reciprocal-rank fusion with equal weights: for an embedding model never tuned.
    public static let standard = Fusion(method: .reciprocalRank, denseWeight: 0.5)

    /// The tuned default for `embeddingModel`, or ``standard``.
    public static func defaults(forEmbeddingModel embeddingModel: String) -> Fusion {
        tunedDefaults[embeddingModel] ?? standard
    }

    /// The fused ranking, best first; ties broken by chunk id for a stable order.
    public func fuse(dense: [ChunkSearch.Hit], lexical: [ChunkSearch.Hit]) -> [ChunkSearch.Hit] {
        var scores: [Int64: Double] = [:]
        switch method {
        case .reciprocalRank:
            for (rank, hit) in dense.enumerated() {
                scores[hit.chunkID, default: 0] += denseWeight / (rankConstant + Double(rank + 1))
            }
            for (rank, hit) in lexical.enumerated() {
                scores[hit.chunkID, default: 0] += (1 - denseWeight) / (rankConstant + Double(rank + 1))
            }
        case .convex:
            for (hit, normalised) in Self.normalised(dense) { scores[hit, default: 0] += denseWeight * normalised }
            for (hit, normalised) in Self.normalised(lexical) { scores[hit, default: 0] += (1 - denseWeight) * normalised }
        }
        return scores.map { ChunkSearch.Hit(chunkID: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
    }

    /// Each hit's score scaled to [0, 1] by the ranking's minimum and maximum (all 1 when they are equal).
    static func normalised(_ hits: [ChunkSearch.Hit]) -> [(Int64, Double)] {
        guard let low = hits.map(\.score).min(), let high = hits.map(\.score).max() else { return [] }
        let span = high - low
        return hits.map { ($0.chunkID, span > 0 ? ($0.score - low) / span : 1) }
    }
}
