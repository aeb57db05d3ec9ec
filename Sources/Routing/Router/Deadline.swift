import Deadlines

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
        try await Deadlines.withTimeout(timeout) { LedgerTimeout(timeout: timeout) } _: { try await operation() }
    }.value
}
