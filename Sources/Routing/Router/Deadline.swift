/// A shared ledger did not answer in time.
struct LedgerTimeout: Error, CustomStringConvertible {
    var timeout: Duration
    var description: String { "the database did not answer within \(timeout)" }
}

/// Runs `operation` on its own task, so that the caller's cancellation (a client that went away) does not cut a
/// ledger update short, and gives up waiting after `timeout` (a database that is down must not hold requests for the
/// connection pool's minute).
func withLedgerDeadline<Result: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await Task.detached {
        try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw LedgerTimeout(timeout: timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }.value
}
