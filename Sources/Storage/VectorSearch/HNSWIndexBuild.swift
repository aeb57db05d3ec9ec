import Logging
import PostgresNIO

/// One HNSW index build over `chunk_embeddings`: the statement, and the memory it is given.
///
/// pgvector builds the graph in `maintenance_work_mem` and finishes a graph that outgrows it on disk, vector by
/// vector: with PostgreSQL's 64 MB default a build of 40,000 384-dimensional vectors took twice as long
/// (docs/benchmarks.md, "Index builds in memory"). So a build whose graph would not fit raises its session's setting
/// to what the graph needs, up to ``VectorSearchSettings/indexBuildMemoryKB``, and resets it after. A parallel build
/// reserves the whole setting in shared memory (`/dev/shm`) at its start; where that is too small (a container's
/// 64 MB default) the raise is refused, and the build runs again at the server's own setting, with a warning.
struct HNSWIndexBuild: Sendable {
    /// The index's name.
    var name: String
    /// `WHERE` of the partial index, made of integers only (`model_id = 3 AND tenant_id = 7`).
    var predicate: String
    var dimensions: Int
    var settings: VectorSearchSettings

    /// The `CREATE INDEX CONCURRENTLY` statement (m 16, ef_construction 64: pgvector's defaults). Only integers and
    /// fixed type names go into it.
    var statement: String {
        """
        CREATE INDEX CONCURRENTLY IF NOT EXISTS \(name) ON chunk_embeddings
        USING hnsw ((embedding::\(settings.indexedType(dimensions: dimensions))) \(settings.operatorClass(dimensions: dimensions)))
        WITH (m = 16, ef_construction = 64)
        WHERE \(predicate)
        """
    }

    /// Builds the index on `connection` (outside any transaction), with the memory its graph needs.
    func run(on connection: PostgresConnection, logger: Logger) async throws {
        let vectors = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT count(*)::bigint FROM chunk_embeddings WHERE \(predicate)"), logger: logger
        ).collect().first?.decode(Int64.self) ?? 0
        try await Self.run(
            statement, name: name, memoryKB: settings.indexBuildMemoryKB(vectors: Int(vectors), dimensions: dimensions),
            on: connection, logger: logger)
    }

    /// Runs `statement` (which creates index `name`) with `maintenance_work_mem` raised to `memoryKB` when the
    /// session's setting is lower, and reset after. A build refused for want of memory at the raised setting (SQLSTATE
    /// class 53: a parallel build's shared memory) leaves an invalid index, which is dropped before the build runs
    /// again at the session's own setting.
    static func run(
        _ statement: String, name: String, memoryKB: Int, on connection: PostgresConnection, logger: Logger
    ) async throws {
        let own = try await connection.query(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'", logger: logger
        ).collect().first?.decode(Int64.self) ?? 0
        guard Int64(memoryKB) > own else {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            return
        }
        try await connection.query(
            "SELECT set_config('maintenance_work_mem', \(memoryKB)::text || 'kB', false)", logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("53") == true {
            try await connection.query("RESET maintenance_work_mem", logger: logger)
            logger.warning(
                """
                The index build was refused \(memoryKB / 1024) MB of memory (a parallel build takes it from the \
                database server's shared memory, /dev/shm: a container's is 64 MB unless given --shm-size); building \
                at the server's own maintenance_work_mem instead, more slowly.
                """,
                metadata: ["embedding.index": "\(name)", "error": "\(error.serverInfo?[.message] ?? "")"])
            try await connection.query(PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(name)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            return
        } catch {
            // In a task of its own, as an advisory unlock is: a cancelled call would not send it.
            _ = try? await Task { try await connection.query("RESET maintenance_work_mem", logger: logger) }.value
            throw error
        }
        try await connection.query("RESET maintenance_work_mem", logger: logger)
    }
}

extension VectorSearchSettings {
    /// `maintenance_work_mem`, in kB, that keeps the HNSW graph of `vectors` vectors of `dimensions` in memory (m
    /// 16), at most ``indexBuildMemoryKB``. Per vector: its value (4 bytes a dimension, 2 as `halfvec`) and about 1
    /// kB of neighbour lists and element header (pgvector reported a 64 MB graph full after 28,373 384-dimensional
    /// vectors: 2.4 kB each), with a quarter more and 16 MB to spare.
    public func indexBuildMemoryKB(vectors: Int, dimensions: Int) -> Int {
        let valueBytes = (dimensions >= halfvecFromDimensions ? 2 : 4) * max(0, dimensions) + 8
        let (bytes, overflow) = max(0, vectors).multipliedReportingOverflow(by: valueBytes + 1024)
        guard !overflow else { return indexBuildMemoryKB }
        return min(indexBuildMemoryKB, bytes / 1024 / 4 * 5 + 16 * 1024)
    }
}
