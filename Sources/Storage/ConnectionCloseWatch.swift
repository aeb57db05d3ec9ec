import NIOCore
import PostgresNIO
import Synchronization

/// Ends a call whose connection closed under it and which did not end by itself.
///
/// PostgresNIO 1.33 hands a query to its channel with `write(_:promise: nil)`. When the server closes the
/// connection in the instant a query is sent (PostgreSQL shutting down while a connection is being leased), the
/// channel's handler is already gone, the write fails, and nothing ever completes the query: its caller waits
/// forever. That stopped `unity-ai ingest` from exiting after a PostgreSQL restart. Here a call's body runs in a task
/// of its own and the caller waits for whichever comes first: the body's result, or the connection's close followed
/// by ``gracePeriod`` without a result (in the usual case the body fails at once with the server's own error, such
/// as `57P01 admin_shutdown`, and that error is what the caller gets). A body abandoned this way stays suspended on
/// the dropped query; it holds nothing but its closed connection.
///
/// Each connection's close is watched once (a callback per call on a pooled connection's `closeFuture` would grow
/// without bound); the watch ends when the connection closes.
final class ConnectionCloseWatch: Sendable {
    /// How long a call may still end by itself after its connection closed.
    let gracePeriod: TimeAmount

    private struct Watched {
        var waiters: [Int: @Sendable () -> Void] = [:]
    }

    private struct State {
        var connections: [ObjectIdentifier: Watched] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    init(gracePeriod: TimeAmount = .seconds(1)) {
        self.gracePeriod = gracePeriod
    }

    /// Runs `body` with `connection`; throws ``ConnectionClosedUnderCall`` when the connection closed and `body` did
    /// not end within the grace period. Cancelling the caller cancels `body`.
    func run<Result: Sendable>(
        on connection: PostgresConnection, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let work = Task { try await body(connection) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
                let once = ResumeOnce(continuation)
                let eventLoop = connection.eventLoop
                let grace = gracePeriod
                let waiter = watch(connection) {
                    eventLoop.scheduleTask(in: grace) { once.resume(throwing: ConnectionClosedUnderCall()) }
                }
                Task {
                    let result = await work.result
                    self.unwatch(connection, waiter: waiter)
                    once.resume(with: result)
                }
            }
        } onCancel: {
            work.cancel()
        }
    }

    /// Registers `onClose` for `connection`; the first registration for a connection subscribes to its close.
    private func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> Int {
        let key = ObjectIdentifier(connection)
        let (waiter, isFirst) = state.withLock { state -> (Int, Bool) in
            let waiter = state.nextWaiter
            state.nextWaiter &+= 1
            let isFirst = state.connections[key] == nil
            state.connections[key, default: Watched()].waiters[waiter] = onClose
            return (waiter, isFirst)
        }
        if isFirst {
            connection.closeFuture.whenComplete { _ in
                let waiters = self.state.withLock { $0.connections.removeValue(forKey: key)?.waiters.values }
                waiters?.forEach { $0() }
            }
        }
        return waiter
    }

    private func unwatch(_ connection: PostgresConnection, waiter: Int) {
        let key = ObjectIdentifier(connection)
        state.withLock { state in
            _ = state.connections[key]?.waiters.removeValue(forKey: waiter)
        }
    }

    /// How many connections are watched (open ones that carried a call), for tests.
    var watchedConnections: Int { state.withLock { $0.connections.count } }
}

/// The connection closed under a call, which did not end by itself.
struct ConnectionClosedUnderCall: Error, CustomStringConvertible {
    var description: String { "the server closed the connection during the call" }
}

/// Resumes a continuation the first time it is asked to; later requests do nothing (two racing tasks, one result).
public final class ResumeOnce<Value: Sendable, Failure: Error>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Failure>?>

    public init(_ continuation: CheckedContinuation<Value, Failure>) {
        self.continuation = Mutex(continuation)
    }

    public func resume(with result: Result<Value, Failure>) {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume(with: result)
    }

    public func resume(throwing error: Failure) {
        resume(with: .failure(error))
    }
}

extension ResumeOnce where Value == Void, Failure == Never {
    public func resume() { resume(with: .success(())) }
}
