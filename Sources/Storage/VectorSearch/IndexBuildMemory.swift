import Logging
import PostgresNIO

extension VectorSearchSettings {
    /// Runs `body` (a vector index build) on `connection` with `maintenance_work_mem` raised to at least
    /// ``indexBuildMemoryKB``, and resets it to the server's setting after it, whether `body` succeeded or not: the
    /// connection returns to a pool.
    ///
    /// pgvector builds an HNSW graph in `maintenance_work_mem` and, once the graph outgrows it, goes on inserting
    /// vector by vector on disk ("hnsw graph no longer fits into maintenance_work_mem"): with PostgreSQL's 64 MB
    /// default a build of 40,000 384-dimensional vectors took twice as long (docs/benchmarks.md, "Index builds in
    /// memory"). A larger setting of the server's own is kept: the setting is only ever raised.
    func withIndexBuildMemory<Result: Sendable>(
        on connection: PostgresConnection, logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let kilobytes = max(1024, indexBuildMemoryKB)
        try await connection.query(
            """
            SELECT set_config('maintenance_work_mem',
                greatest(\(kilobytes)::bigint,
                         (SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'))::text || 'kB',
                false)
            """, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.query("RESET maintenance_work_mem", logger: logger)
            return result
        } catch {
            // In a task of its own, as an advisory unlock is: a cancelled call would not send it.
            _ = try? await Task { try await connection.query("RESET maintenance_work_mem", logger: logger) }.value
            throw error
        }
    }
}
