import Deadlines
import Synchronization
import Testing

@Suite struct DeadlinesTests {
    struct TimedOut: Error {}

    @Test func aSleepEndsAfterItsDuration() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        try await Deadlines.sleep(for: .milliseconds(50))
        #expect(clock.now - start >= .milliseconds(50))
    }

    @Test func aCancelledSleepEndsAtOnceWithCancellationError() async throws {
        let sleeper = Task { try await Deadlines.sleep(for: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(20))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func aSleepInAnAlreadyCancelledTaskDoesNotWait() async throws {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await Deadlines.sleep(for: .seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func aTimeoutReturnsWhatTheOperationReturns() async throws {
        let value = try await Deadlines.withTimeout(.seconds(3600), timeoutError: { TimedOut() }) { 42 }
        #expect(value == 42)
    }

    @Test func anOperationThatOutlastsItsTimeoutIsCancelledAndTheTimeoutErrorThrown() async throws {
        let operationCancelled = Mutex(false)
        await #expect(throws: TimedOut.self) {
            try await Deadlines.withTimeout(.milliseconds(50), timeoutError: { TimedOut() }) {
                do { try await Deadlines.sleep(for: .seconds(3600)) } catch { operationCancelled.withLock { $0 = true } }
                return 0
            }
        }
        let cancelled = operationCancelled.withLock { $0 }
        #expect(cancelled)
    }

    @Test func theOperationsOwnErrorPassesThrough() async throws {
        struct Own: Error {}
        await #expect(throws: Own.self) {
            try await Deadlines.withTimeout(.seconds(3600), timeoutError: { TimedOut() }) { () async throws -> Int in throw Own() }
        }
    }

    /// Thousands of timeouts that are not reached end with their operations (before, each left a timer task alive
    /// until its deadline; the reliability suite's leak check measures the memory).
    @Test func manyTimeoutsThatAreNotReachedEndWithTheirOperations() async throws {
        var total = 0
        for value in 0..<5000 {
            total += try await Deadlines.withTimeout(.seconds(3600), timeoutError: { TimedOut() }) { value }
        }
        #expect(total == 5000 * 4999 / 2)
    }
}
