import Testing

@testable import Routing

/// Load balancing and circuit breaking, driven by a manual clock (no sleeps).
@Suite struct EndpointPoolTests {
    let clock = ManualRouterClock()

    func pool(
        _ count: Int, weights: [Double]? = nil, policy: RoutingConfiguration.LoadBalancing = .roundRobin,
        concurrency: Int = 16, threshold: Int = 3, cooldown: Duration = .seconds(30)
    ) -> EndpointPool {
        EndpointPool(
            provider: "p", weights: weights ?? Array(repeating: 1, count: count),
            maximumConcurrency: Array(repeating: concurrency, count: count), policy: policy,
            breaker: .init(failureThreshold: threshold, cooldown: cooldown))
    }

    /// Acquires and immediately finishes successfully `n` times; returns the endpoints chosen.
    func picks(_ pool: EndpointPool, _ n: Int, latency: (Int) -> Duration = { _ in .milliseconds(10) }) -> [Int] {
        (0..<n).map { _ in
            let index = pool.acquire(at: clock.now())!
            pool.finish(index, .succeeded(latency: latency(index)), at: clock.now())
            return index
        }
    }

    @Test func roundRobinIsStrict() {
        #expect(picks(pool(3), 7) == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test func weightsShareTrafficSmoothly() {
        let chosen = picks(pool(2, weights: [2, 1]), 6)
        #expect(chosen == [0, 1, 0, 0, 1, 0])
    }

    @Test func leastConnectionsPicksTheIdlestEndpoint() {
        let pool = pool(3, policy: .leastConnections)
        let first = pool.acquire(at: clock.now())!
        let second = pool.acquire(at: clock.now())!
        let third = pool.acquire(at: clock.now())!
        #expect(Set([first, second, third]) == [0, 1, 2])
        pool.finish(second, .succeeded(latency: .milliseconds(5)), at: clock.now())
        // The other two are still busy: the freed one is chosen, twice in a row while the others stay busy.
        #expect(pool.acquire(at: clock.now()) == second)
        #expect(pool.snapshot()[second].inFlight == 1)
    }

    @Test func healthBasedWeighsByLatencyAndSkipsEndpointsThatAreDown() {
        let pool = pool(2, policy: .health, threshold: 2)
        // Endpoint 0 answers in 10 ms, endpoint 1 in 40 ms: after a warm-up, 0 gets about four times the traffic.
        _ = picks(pool, 4) { $0 == 0 ? .milliseconds(10) : .milliseconds(40) }
        let chosen = picks(pool, 50) { $0 == 0 ? .milliseconds(10) : .milliseconds(40) }
        let share = Double(chosen.filter { $0 == 0 }.count) / Double(chosen.count)
        #expect(share > 0.7 && share < 0.9)
        // Endpoint 0 fails twice: its circuit opens and every request goes to 1.
        for _ in 0..<2 {
            pool.finish(0, .failed(retryAfter: nil), at: clock.now())
        }
        #expect(pool.snapshot()[0].circuit != .closed)
        #expect(picks(pool, 5).allSatisfy { $0 == 1 })
    }

    @Test func theCircuitOpensAfterConsecutiveFailuresAndHalfOpensAfterTheCooldown() {
        let pool = pool(1, threshold: 3, cooldown: .seconds(30))
        for _ in 0..<3 {
            let index = pool.acquire(at: clock.now())!
            pool.finish(index, .failed(retryAfter: nil), at: clock.now())
        }
        #expect(pool.snapshot()[0].circuit == .open(until: clock.now() + .seconds(30)))
        #expect(pool.acquire(at: clock.now()) == nil)
        #expect(pool.earliestReopening(at: clock.now()) == .seconds(30))

        clock.advance(by: .seconds(30))
        // Half-open: one trial goes through, a second request waits for its verdict.
        let trial = pool.acquire(at: clock.now())
        #expect(trial == 0)
        #expect(pool.snapshot()[0].circuit == .halfOpen(trialInFlight: true))
        #expect(pool.acquire(at: clock.now()) == nil)
        // The trial fails: open again for another cooldown.
        pool.finish(0, .failed(retryAfter: nil), at: clock.now())
        #expect(pool.acquire(at: clock.now()) == nil)

        clock.advance(by: .seconds(30))
        let secondTrial = pool.acquire(at: clock.now())!
        pool.finish(secondTrial, .succeeded(latency: .milliseconds(3)), at: clock.now())
        #expect(pool.snapshot()[0].circuit == .closed)
        #expect(pool.acquire(at: clock.now()) == 0)
    }

    @Test func successesResetTheFailureCount() {
        let pool = pool(1, threshold: 3)
        for outcome in [false, false, true, false, false] {
            let index = pool.acquire(at: clock.now())!
            pool.finish(index, outcome ? .succeeded(latency: .milliseconds(1)) : .failed(retryAfter: nil), at: clock.now())
        }
        #expect(pool.snapshot()[0].circuit == .closed)
        #expect(pool.snapshot()[0].consecutiveFailures == 2)
    }

    @Test func retryAfterRestsAnEndpointWhileOthersCanServe() {
        let pool = pool(2, threshold: 10)
        let index = pool.acquire(at: clock.now())!
        pool.finish(index, .failed(retryAfter: .seconds(7)), at: clock.now())
        #expect(picks(pool, 3).allSatisfy { $0 != index })
        // With no other endpoint left it is still used rather than failing the request.
        #expect(pool.acquire(excluding: [1 - index], at: clock.now()) == index)
        pool.finish(index, .abandoned, at: clock.now())
        clock.advance(by: .seconds(7))
        #expect(Set(picks(pool, 4)) == [0, 1])
    }

    @Test func maxLoadMovesOnAboveTheShareOfConcurrency() {
        let pool = pool(1, concurrency: 4)
        // max_load 0.5 of 4: two requests in flight, the third is refused here (the router moves to the next candidate).
        #expect(pool.acquire(maximumLoad: 0.5, at: clock.now()) == 0)
        #expect(pool.acquire(maximumLoad: 0.5, at: clock.now()) == 0)
        #expect(pool.acquire(maximumLoad: 0.5, at: clock.now()) == nil)
        #expect(pool.acquire(at: clock.now()) == 0)
    }

    @Test func probesCloseAnOpenCircuitOnlyAfterTheCooldown() {
        let pool = pool(1, threshold: 1, cooldown: .seconds(10))
        pool.recordProbe(0, succeeded: false, at: clock.now())
        #expect(pool.acquire(at: clock.now()) == nil)
        pool.recordProbe(0, succeeded: true, at: clock.now())
        #expect(pool.acquire(at: clock.now()) == nil)
        clock.advance(by: .seconds(10))
        pool.recordProbe(0, succeeded: true, at: clock.now())
        #expect(pool.snapshot()[0].circuit == .closed)
    }

    @Test func latencyPercentilesComeFromRecentCalls() {
        let pool = pool(1)
        _ = picks(pool, 100) { _ in .milliseconds(10) }
        _ = picks(pool, 5) { _ in .milliseconds(500) }
        let health = pool.snapshot()[0]
        #expect(health.latencyP95 == 0.01)
        _ = picks(pool, 10) { _ in .milliseconds(500) }
        #expect(pool.snapshot()[0].latencyP95 == 0.5)
        #expect(pool.snapshot()[0].recentErrorRate == 0)
    }
}
