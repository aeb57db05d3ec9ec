import NIOCore
import NIOPosix
import Synchronization

/// Timeouts whose timers go away the moment they are not needed.
///
/// A `Task.sleep` that is cancelled returns at once, but on Linux its task stays allocated until the sleep's
/// original deadline, held by the dispatch timer that was armed for it. A per-request timeout built on it (the body
/// deadline, a provider call's total timeout, a database connection's deadline) therefore kept every request's
/// timer task alive for up to 30 s after the request ended: 60,000 of them at once in a 30,000-request load test
/// (heaptrack), scattered through the heap so that the allocator could not give the memory back. These timers are
/// NIO scheduled tasks, removed from their event loop when cancelled.
public enum Deadlines {
    /// Sleeps for `duration`; a cancellation ends it at once (throwing `CancellationError`) and frees its timer.
    public static func sleep(
        for duration: Duration, on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    ) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let timer = eventLoop.scheduleTask(in: TimeAmount(duration)) { sleeper.fire() }
                sleeper.start(continuation, timer: timer)
            }
        } onCancel: {
            sleeper.cancel()
        }
    }

    /// Runs `operation`; when `duration` passes first, cancels it and throws `timeoutError()`.
    ///
    /// The operation is a child task, so it must honour cancellation for the timeout to return promptly.
    public static func withTimeout<Result: Sendable>(
        _ duration: Duration,
        timeoutError: @escaping @Sendable () -> any Error,
        _ operation: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await sleep(for: duration)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else { throw timeoutError() }
            return result
        }
    }
}

/// One sleep's state: its continuation and timer, and whichever of start, fire and cancel came first.
private final class Sleeper: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, any Error>, Scheduled<Void>)
        case fired
        case cancelled
        case done
    }

    private let state = Mutex(State.idle)

    func start(_ continuation: CheckedContinuation<Void, any Error>, timer: Scheduled<Void>) {
        enum Next { case wait, resume, cancel }
        let next = state.withLock { state -> Next in
            switch state {
            case .idle:
                state = .waiting(continuation, timer)
                return .wait
            case .fired:
                state = .done
                return .resume
            case .cancelled, .waiting, .done:
                state = .done
                return .cancel
            }
        }
        switch next {
        case .wait: break
        case .resume: continuation.resume()
        case .cancel:
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }

    func fire() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            switch state {
            case .idle:
                state = .fired
                return nil
            case .waiting(let continuation, _):
                state = .done
                return continuation
            case .fired, .cancelled, .done:
                return nil
            }
        }
        continuation?.resume()
    }

    func cancel() {
        let waiting = state.withLock { state -> (CheckedContinuation<Void, any Error>, Scheduled<Void>)? in
            switch state {
            case .idle:
                state = .cancelled
                return nil
            case .waiting(let continuation, let timer):
                state = .done
                return (continuation, timer)
            case .fired, .cancelled, .done:
                return nil
            }
        }
        if let (continuation, timer) = waiting {
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }
}
