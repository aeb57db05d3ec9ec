import Foundation

extension RoutingConfiguration {
    /// The `retrieval:` section: how chunks are indexed for words and how questions are ranked. Every key is
    /// optional; what is not given keeps the built-in default.
    ///
    /// ```yaml
    /// retrieval:
    ///   text_search_config: english        # PostgreSQL text search configuration for the lexical indexes
    ///   bm25: {k1: 0.9, b: 0.4, heading_weight: 1.0}
    ///   fusion: {method: convex, dense_weight: 0.6, rank_constant: 60}
    /// ```
    public struct Retrieval: Sendable, Equatable {
        /// `text_search_config`: the PostgreSQL text search configuration chunks are parsed and stemmed with
        /// (`english` when not given). Part of the chunker fingerprint: changing it re-indexes documents on their
        /// next ingest.
        public var textSearchConfiguration: String?
        /// `bm25.k1`: term-frequency saturation (0-10, default 0.9).
        public var bm25K1: Double?
        /// `bm25.b`: length normalisation (0-1, default 0.4).
        public var bm25B: Double?
        /// `bm25.heading_weight`: a heading word against a text word (0-10, default chosen on SciFact train).
        public var bm25HeadingWeight: Double?
        /// `fusion.method`: `rrf` or `convex` (default: the embedding model's tuned default).
        public var fusionMethod: String?
        /// `fusion.dense_weight`: weight of the dense ranking (0-1, default: the embedding model's tuned default).
        public var fusionDenseWeight: Double?
        /// `fusion.rank_constant`: reciprocal-rank fusion's `k` (0-10000, default 60).
        public var fusionRankConstant: Double?

        /// The defaults.
        public init() {}
    }

    /// Whether `name` can name a PostgreSQL text search configuration (`english`, `simple`, `pg_catalog.german`):
    /// a lowercase identifier, optionally schema-qualified. Whether it exists is PostgreSQL's to say.
    public static func isTextSearchConfigurationName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && name.utf8.count <= 127
            && parts.allSatisfy { part in
                guard let first = part.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else {
                    return false
                }
                return part.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
            }
    }

    /// The `retrieval:` section.
    static func parseRetrieval(_ node: YAMLNode) throws -> Retrieval {
        let fields = try node.mapping()
        try fields.rejectUnknown(["text_search_config", "bm25", "fusion"])
        var retrieval = Retrieval()
        if let value = fields.value("text_search_config") {
            let name = try value.string()
            guard isTextSearchConfigurationName(name) else {
                throw value.error(
                    "'\(name.prefix(80))' is not a text search configuration name (e.g. english, simple, "
                        + "pg_catalog.german; `SELECT cfgname FROM pg_ts_config` lists them)")
            }
            retrieval.textSearchConfiguration = name
        }
        if let bm25 = fields.value("bm25") {
            let keys = try bm25.mapping()
            try keys.rejectUnknown(["k1", "b", "heading_weight"])
            if let value = keys.value("k1") { retrieval.bm25K1 = try value.number(in: 0...10) }
            if let value = keys.value("b") { retrieval.bm25B = try value.number(in: 0...1) }
            if let value = keys.value("heading_weight") { retrieval.bm25HeadingWeight = try value.number(in: 0...10) }
        }
        if let fusion = fields.value("fusion") {
            let keys = try fusion.mapping()
            try keys.rejectUnknown(["method", "dense_weight", "rank_constant"])
            if let value = keys.value("method") {
                let method = try value.string()
                guard ["rrf", "convex"].contains(method) else { throw value.error("expected rrf or convex") }
                retrieval.fusionMethod = method
            }
            if let value = keys.value("dense_weight") { retrieval.fusionDenseWeight = try value.number(in: 0...1) }
            if let value = keys.value("rank_constant") { retrieval.fusionRankConstant = try value.number(in: 0...10_000) }
        }
        return retrieval
    }
}
