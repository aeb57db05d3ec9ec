import Synchronization

/// One provider's endpoints and their health: picks the endpoint for each attempt by the provider's
/// load-balancing policy, skipping endpoints whose circuit is open, and learns from every outcome.
public final class EndpointPool: Sendable {
    /// How an attempt ended, as far as the endpoint's health is concerned.
    public enum Outcome: Sendable {
        /// It answered; `latency` is how long the whole call took (`nil`: no latency sample, e.g. a refused request).
        case succeeded(latency: Duration?)
        /// It failed in a way that counts against the endpoint (connection, timeout, 429, 5xx, overloaded).
        case failed(retryAfter: Duration?)
        /// The caller went away: no verdict.
        case abandoned
        /// A stream's first event arrived after `latency`: a success, and the stream stays in flight.
        case opened(latency: Duration)
        /// An opened stream ended (its verdict was recorded when it opened).
        case left
    }

    struct State: Sendable {
        var health: [EndpointHealth]
        /// Smooth weighted round-robin's running weights (nginx's algorithm: strict rotation for equal weights).
        var currentWeights: [Double]
    }

    public let provider: String
    public let policy: RoutingConfiguration.LoadBalancing
    public let breaker: EndpointHealth.BreakerPolicy
    let weights: [Double]
    let maximumConcurrency: [Int]
    private let state: Mutex<State>

    public init(
        provider: String, weights: [Double], maximumConcurrency: [Int], policy: RoutingConfiguration.LoadBalancing,
        breaker: EndpointHealth.BreakerPolicy
    ) {
        precondition(!weights.isEmpty && weights.count == maximumConcurrency.count)
        self.provider = provider
        self.weights = weights
        self.maximumConcurrency = maximumConcurrency
        self.policy = policy
        self.breaker = breaker
        state = Mutex(State(health: Array(repeating: EndpointHealth(), count: weights.count), currentWeights: Array(repeating: 0, count: weights.count)))
    }

    public var count: Int { weights.count }

    /// Chooses an endpoint for one attempt and counts it in flight, or `nil` when none may take it: every
    /// endpoint is excluded (already tried), has an open circuit, or is above `maximumLoad` of its concurrency.
    /// Endpoints that asked to be left alone (retry-after) are used only when no other is available.
    public func acquire(excluding tried: Set<Int> = [], maximumLoad: Double? = nil, at now: Duration) -> Int? {
        state.withLock { state in
            var eligible: [Int] = []
            for index in state.health.indices where !tried.contains(index) && state.health[index].admits(at: now) {
                if let maximumLoad,
                    Double(state.health[index].inFlight) >= maximumLoad * Double(maximumConcurrency[index])
                {
                    continue
                }
                eligible.append(index)
            }
            let rested = eligible.filter { !state.health[$0].isCooling(at: now) }
            let choices = rested.isEmpty ? eligible : rested
            guard !choices.isEmpty else { return nil }
            let chosen = Self.choose(among: choices, policy: policy, weights: weights, state: &state)
            state.health[chosen].begin(at: now)
            return chosen
        }
    }

    /// Records how the attempt on `index` ended; returns the endpoint's circuit when this changed it.
    @discardableResult
    public func finish(_ index: Int, _ outcome: Outcome, at now: Duration) -> EndpointHealth.Circuit? {
        state.withLock { state in
            let before = state.health[index].circuit.name
            switch outcome {
            case .succeeded(let latency): state.health[index].succeed(latency: latency)
            case .failed(let retryAfter): state.health[index].fail(retryAfter: retryAfter, at: now, policy: breaker)
            case .abandoned: state.health[index].abandon()
            case .opened(let latency): state.health[index].open(latency: latency)
            case .left: state.health[index].leave()
            }
            let after = state.health[index].circuit
            return after.name == before ? nil : after
        }
    }

    /// Records an active probe of `index`.
    public func recordProbe(_ index: Int, succeeded: Bool, at now: Duration) {
        state.withLock { $0.health[index].recordProbe(succeeded: succeeded, at: now, policy: breaker) }
    }

    /// Each endpoint's health, in configuration order.
    public func snapshot() -> [EndpointHealth] {
        state.withLock { $0.health }
    }

    /// Whether any endpoint would take a request now.
    public func isAvailable(at now: Duration) -> Bool {
        state.withLock { $0.health.contains { $0.admits(at: now) } }
    }

    /// The lowest p95 latency of the endpoints that take traffic, in seconds; `nil` when none has been measured.
    public func bestLatencyP95(at now: Duration) -> Double? {
        state.withLock { $0.health.filter { $0.admits(at: now) }.compactMap(\.latencyP95).min() }
    }

    /// The lowest latency EWMA of the endpoints that take traffic, in seconds; `nil` when none has been measured.
    public func bestLatencyEWMA(at now: Duration) -> Double? {
        state.withLock { $0.health.filter { $0.admits(at: now) }.compactMap(\.latencyEWMA).min() }
    }

    /// When the first open circuit lets a trial through, if every endpoint's circuit is open.
    public func earliestReopening(at now: Duration) -> Duration? {
        state.withLock { state in
            var earliest: Duration?
            for health in state.health {
                guard case .open(let until) = health.circuit, until > now else { return nil }
                earliest = min(earliest ?? until, until)
            }
            return earliest.map { $0 - now }
        }
    }

    private static func choose(
        among choices: [Int], policy: RoutingConfiguration.LoadBalancing, weights: [Double], state: inout State
    ) -> Int {
        switch policy {
        case .roundRobin:
            return smoothWeightedRoundRobin(choices, weight: { weights[$0] }, state: &state)
        case .leastConnections:
            let loads = choices.map { Double(state.health[$0].inFlight) / weights[$0] }
            let lightest = loads.min()!
            let tied = zip(choices, loads).filter { $0.1 == lightest }.map(\.0)
            return smoothWeightedRoundRobin(tied, weight: { weights[$0] }, state: &state)
        case .health:
            // Unmeasured endpoints count as fast as the fastest measured one, so they get traffic and are measured.
            let measured = choices.compactMap { state.health[$0].latencyEWMA }
            let fallback = measured.min() ?? 0.001
            let latencies = Dictionary(uniqueKeysWithValues: choices.map { ($0, max(state.health[$0].latencyEWMA ?? fallback, 0.000_1)) })
            return smoothWeightedRoundRobin(
                choices, weight: { weights[$0] / latencies[$0]! }, normalised: true, state: &state)
        }
    }

    /// nginx's smooth weighted round-robin: each choice adds its weight to its running weight, the largest is
    /// picked and loses the total. Equal weights give strict rotation; weights 2:1 give a, b, a, a, b, a, …
    /// `normalised` scales the weights to sum to 1, so that weights that change between picks (health-based) do not
    /// leave a large running balance behind; configured weights are used as they are, which keeps ties exact.
    private static func smoothWeightedRoundRobin(
        _ choices: [Int], weight: (Int) -> Double, normalised: Bool = false, state: inout State
    ) -> Int {
        if choices.count == 1 { return choices[0] }
        let weights = choices.map(weight)
        let total = weights.reduce(0, +)
        let scale = normalised ? 1 / total : 1
        var best = choices[0]
        for (index, value) in zip(choices, weights) {
            state.currentWeights[index] += value * scale
            if state.currentWeights[index] > state.currentWeights[best] { best = index }
        }
        state.currentWeights[best] -= total * scale
        return best
    }
}
