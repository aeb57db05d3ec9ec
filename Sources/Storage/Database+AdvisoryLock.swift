import Logging
import PostgresNIO

extension Database {
    /// Runs `body` on one connection holding the session advisory lock `key`, released after it (or with the
    /// connection, should the call be cut off).
    ///
    /// A waiter polls `pg_try_advisory_lock` every `pollInterval` instead of blocking in `pg_advisory_lock`: a session
    /// blocked inside a statement holds a snapshot, and a `CREATE INDEX CONCURRENTLY` run by the lock's holder waits
    /// for every older snapshot to end — the holder's build and the waiter would wait for each other (PostgreSQL
    /// aborts one as a deadlock when the build runs on the holding connection, and sees no cycle at all when it runs
    /// on another, so both wait forever).
    public func withSessionAdvisoryLock<Result: Sendable>(
        _ key: Int64, logger: Logger, pollInterval: Duration = .milliseconds(100),
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection(logger: logger) { connection in
            while true {
                let acquired = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
                    .collect().first?.decode(Bool.self) ?? false
                if acquired { break }
                try await Task.sleep(for: pollInterval)
            }
            do {
                let result = try await body(connection)
                try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                return result
            } catch {
                // In a task of its own: a cancelled call (the usual reason to be here) would not send the unlock,
                // and the lock would stay with the pooled connection.
                _ = try? await Task {
                    try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                }.value
                throw error
            }
        }
    }
}
