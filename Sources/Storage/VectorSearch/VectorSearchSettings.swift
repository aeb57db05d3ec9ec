/// How ``ChunkSearch/nearest(to:modelID:dimensions:tenantID:limit:logger:)`` finds a tenant's nearest vectors.
///
/// A model's HNSW index holds every tenant's vectors. Filtered to one tenant, an index scan must walk past the other
/// tenants' neighbours; a tenant with few rows is searched exactly instead (its rows by the `(model_id, tenant_id)`
/// btree, sorted by distance), which is both exact and, below ``exactScanMaxRows``, faster. Tenants with more rows
/// use an index: their own partial one when ``TenantVectorIndexes`` made it (the planner picks it: it matches the
/// query's filter and is smaller), otherwise the model's, with an iterative scan. The defaults are measured
/// (docs/benchmarks.md, "Vector search").
public struct VectorSearchSettings: Sendable, Equatable {
    /// Tenants with at most this many vectors of a model are searched exactly. Defaults to 3,000: an exact search
    /// costs about 1.7 ms per 1,000 384-dimensional rows on the loaded 2-core benchmark machine.
    public var exactScanMaxRows = 3000
    /// `hnsw.ef_search` for index scans: at least this, and at least twice the number of results asked for.
    /// Defaults to 100 (40, pgvector's, lost up to 0.04 recall@10 through the shared index).
    public var minimumEfSearch = 100
    /// `hnsw.max_scan_tuples`: how far an iterative scan may walk before it gives up. Defaults to 20,000
    /// (pgvector's): raising it to 50,000-100,000 bought no recall in the benchmark.
    public var maxScanTuples = 20_000
    /// `hnsw.iterative_scan`. Defaults to `relaxed_order`, which measured at least as good as `strict_order` at the
    /// same `ef_search` (the hits are sorted by score afterwards).
    public var iterativeScan = IterativeScan.relaxedOrder
    /// A tenant above ``exactScanMaxRows`` holding less than this share of its model's vectors gets an HNSW index of
    /// its own (``TenantVectorIndexes``). Defaults to 1: every such tenant but one holding all of the model's vectors,
    /// which the model's index serves unfiltered. A scan of the shared index filtered to a tenant lost recall even
    /// for a tenant with 11 % of the vectors (0.80 at 1M, docs/benchmarks.md), so the share limit is not what
    /// bounds the number of indexes; their total size is about the model index's again.
    public var ownIndexBelowShare = 1.0
    /// Dimensions from which a model's vectors are indexed as `halfvec` (pgvector indexes `vector` up to 2,000
    /// dimensions and `halfvec` up to 4,000). Defaults to 2,001.
    public var halfvecFromDimensions = 2001
    /// The most `maintenance_work_mem`, in kB, an index build raises its session to: builds ask for what their graph
    /// needs (``indexBuildMemoryKB(vectors:dimensions:)``), never less than the server's own setting. Defaults to 1 GB,
    /// the graph of about 330,000 384-dimensional vectors; a graph that outgrows it is finished on disk, more slowly.
    public var indexBuildMemoryKB = 1_048_576

    public init() {}

    /// pgvector's `hnsw.iterative_scan` modes.
    public enum IterativeScan: String, Sendable, Equatable {
        case strictOrder = "strict_order"
        case relaxedOrder = "relaxed_order"
        case off
    }

    /// `hnsw.ef_search` for a search of `limit` results: pgvector accepts 1...1000.
    public func efSearch(limit: Int) -> Int {
        let (twice, overflow) = limit.multipliedReportingOverflow(by: 2)
        return min(1000, max(minimumEfSearch, overflow ? 1000 : twice))
    }

    /// The type a model's HNSW index casts `embedding` to: `vector(N)`, or `halfvec(N)` from
    /// ``halfvecFromDimensions``. The index expression and every query's `ORDER BY` must name the same one.
    public func indexedType(dimensions: Int) -> String {
        dimensions >= halfvecFromDimensions ? "halfvec(\(dimensions))" : "vector(\(dimensions))"
    }

    /// The operator class of that index (cosine distance).
    public func operatorClass(dimensions: Int) -> String {
        dimensions >= halfvecFromDimensions ? "halfvec_cosine_ops" : "vector_cosine_ops"
    }
}
