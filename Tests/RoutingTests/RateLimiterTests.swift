import Foundation
import Logging
import Synchronization
import Testing

@testable import Routing

/// Rate limits from leases of a shared ledger, with a manual clock.
@Suite struct RateLimiterTests {
    let clock = ManualRouterClock(date: Date(timeIntervalSince1970: 1_800_000_000))

    /// Counts claims, to show the hot path does not go to the ledger per request.
    final class CountingLedger: RateLimitLedger {
        let inner = InMemoryRateLimitLedger()
        let claims = Mutex(0)

        func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
            claims.withLock { $0 += 1 }
            return try await inner.claim(key: key, windowStart: windowStart, limit: limit, amount: amount)
        }
    }

    @Test func parsesTheSeedsFormat() {
        #expect(RateLimit(parsing: "1000/hour") == RateLimit(requests: 1000, period: .seconds(3600)))
        #expect(RateLimit(parsing: "5/s") == RateLimit(requests: 5, period: .seconds(1)))
        #expect(RateLimit(parsing: "10 / minute")?.description == "10/minute")
        #expect(RateLimit(parsing: "1000") == nil)
        #expect(RateLimit(parsing: "0/hour") == nil)
        #expect(RateLimit(parsing: "5/fortnight") == nil)
    }

    @Test func admitsTheLimitThenRefusesUntilTheWindowResets() async {
        let limiter = RateLimiter(ledger: InMemoryRateLimitLedger(), clock: clock, logger: Logger(label: "test"))
        let limit = RateLimit(requests: 5, period: .seconds(60))
        var admitted = 0
        for _ in 0..<8 where await limiter.acquire("tenant:a", limit: limit).allowed { admitted += 1 }
        #expect(admitted == 5)
        let refused = await limiter.acquire("tenant:a", limit: limit)
        #expect(!refused.allowed)
        #expect(refused.status.remaining == 0 && refused.status.limit == 5)
        // Another key has its own window.
        #expect(await limiter.acquire("tenant:b", limit: limit).allowed)
        clock.advance(by: .seconds(60))
        #expect(await limiter.acquire("tenant:a", limit: limit).allowed)
    }

    @Test func instancesSharingALedgerNeverAdmitMoreThanTheLimit() async {
        let ledger = CountingLedger()
        let limit = RateLimit(requests: 1000, period: .seconds(3600))
        let instances = (0..<3).map { _ in RateLimiter(ledger: ledger, clock: clock, logger: Logger(label: "test")) }
        let admitted = await withTaskGroup(of: Int.self) { group in
            for instance in instances {
                group.addTask {
                    var count = 0
                    for _ in 0..<600 where await instance.acquire("tenant:shared", limit: limit).allowed { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted <= 1000)
        // Unused leases are the only loss: at most (instances - 1) × lease.
        #expect(admitted >= 1000 - 2 * RateLimiter.leaseSize(for: limit))
        // Leases of 10 (1 % of 1,000): about one claim per 10 requests, not one per request.
        #expect(ledger.claims.withLock { $0 } <= 1800 / RateLimiter.leaseSize(for: limit) + 10)
    }

    @Test func anUnreachableLedgerAdmitsRatherThanFailing() async {
        struct Down: RateLimitLedger {
            func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
                throw CancellationError()
            }
        }
        let limiter = RateLimiter(ledger: Down(), clock: clock, logger: Logger(label: "test"))
        #expect(await limiter.acquire("tenant:a", limit: RateLimit(requests: 1, period: .seconds(60))).allowed)
    }

    @Test func aLedgerThatDoesNotAnswerCountsAsDown() async {
        struct Silent: RateLimitLedger {
            func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
                try await Task.sleep(for: .seconds(60))
                return (0, limit)
            }
        }
        let limiter = RateLimiter(ledger: Silent(), clock: clock, logger: Logger(label: "test"))
        // Admitted once the claim's deadline passes (not after the ledger's minute), and without asking again.
        #expect(await limiter.acquire("tenant:a", limit: RateLimit(requests: 1, period: .seconds(60))).allowed)
        #expect(await limiter.acquire("tenant:a", limit: RateLimit(requests: 1, period: .seconds(60))).allowed)
    }

    @Test func leasesAreSmallForSmallLimits() {
        #expect(RateLimiter.leaseSize(for: RateLimit(requests: 10, period: .seconds(60))) == 1)
        #expect(RateLimiter.leaseSize(for: RateLimit(requests: 1000, period: .seconds(3600))) == 10)
        #expect(RateLimiter.leaseSize(for: RateLimit(requests: 100_000, period: .seconds(60))) == 1000)
        #expect(RateLimiter.leaseSize(for: RateLimit(requests: 10_000_000, period: .seconds(60))) == 1000)
    }

    /// A ledger whose claims wait until the test lets them go.
    final class GatedLedger: RateLimitLedger {
        let inner = InMemoryRateLimitLedger()
        let gate = AsyncStream.makeStream(of: Void.self)
        let started = AsyncStream.makeStream(of: Void.self)

        func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
            started.continuation.yield()
            for await _ in gate.stream { break }
            return try await inner.claim(key: key, windowStart: windowStart, limit: limit, amount: amount)
        }
    }

    @Test(.timeLimit(.minutes(1))) func aCancelledWaiterIsLetGoWithoutWaitingForTheClaim() async {
        let ledger = GatedLedger()
        let limiter = RateLimiter(ledger: ledger, clock: clock, logger: Logger(label: "test"))
        let limit = RateLimit(requests: 1_000, period: .seconds(60))
        let claimer = Task { await limiter.acquire("tenant:a", limit: limit) }
        for await _ in ledger.started.stream { break }  // the first request is claiming and holds the gate
        let waiter = Task { await limiter.acquire("tenant:a", limit: limit) }
        try? await Task.sleep(for: .milliseconds(50))  // let it queue behind the claim (harmless if it has not yet)
        waiter.cancel()
        // Returns although the claim it waited for is still held: only its cancellation can have let it go.
        _ = await waiter.value
        ledger.gate.continuation.yield()
        #expect(await claimer.value.allowed)
    }
}
