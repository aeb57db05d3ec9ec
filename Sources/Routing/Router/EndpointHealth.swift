/// What the router knows of one endpoint: requests in flight, latency, recent outcomes and its circuit breaker.
/// A value type with no clock of its own: every change takes the time, so tests drive it with a manual clock.
public struct EndpointHealth: Sendable {
    /// The circuit breaker's state.
    public enum Circuit: Sendable, Equatable {
        /// Traffic flows.
        case closed
        /// Too many consecutive failures: no traffic until `until`.
        case open(until: Duration)
        /// The cooldown is over: one trial request is let through; its outcome closes or reopens the circuit.
        case halfOpen(trialInFlight: Bool)

        /// `closed`, `open` or `half_open`, for metrics and `GET /api/providers`.
        public var name: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half_open"
            }
        }
    }

    /// When to open the circuit and for how long.
    public struct BreakerPolicy: Sendable, Equatable {
        public var failureThreshold: Int
        public var cooldown: Duration

        public init(failureThreshold: Int = 5, cooldown: Duration = .seconds(30)) {
            self.failureThreshold = failureThreshold
            self.cooldown = cooldown
        }
    }

    public private(set) var inFlight = 0
    public private(set) var circuit = Circuit.closed
    public private(set) var consecutiveFailures = 0
    /// Exponentially weighted moving average of successful calls' latency (α = 0.2), in seconds.
    public private(set) var latencyEWMA: Double?
    /// The upstream asked (retry-after) not to be called before this instant.
    public private(set) var coolingUntil: Duration?
    public private(set) var totalRequests = 0
    public private(set) var totalFailures = 0
    /// The last outcome of an active probe: `nil` before the first.
    public private(set) var lastProbeSucceeded: Bool?

    private var recentLatencies = RingBuffer<Double>(capacity: 128)
    private var recentOutcomes = RingBuffer<Bool>(capacity: 100)

    public init() {}

    static let smoothing = 0.2

    /// Whether a request may be sent now: the circuit is closed, or its cooldown is over and no trial is running.
    public func admits(at now: Duration) -> Bool {
        switch circuit {
        case .closed: true
        case .open(let until): now >= until
        case .halfOpen(let trialInFlight): !trialInFlight
        }
    }

    /// Whether the upstream asked to be left alone until later.
    public func isCooling(at now: Duration) -> Bool {
        coolingUntil.map { now < $0 } ?? false
    }

    /// The 95th percentile of recent successful latencies, in seconds; `nil` before any.
    public var latencyP95: Double? { recentLatencies.percentile(0.95) }

    /// Share of failures among the last 100 calls.
    public var recentErrorRate: Double {
        let outcomes = recentOutcomes.elements
        guard !outcomes.isEmpty else { return 0 }
        return Double(outcomes.filter { !$0 }.count) / Double(outcomes.count)
    }

    /// A request starts. An open circuit whose cooldown is over lets this one through as its trial.
    public mutating func begin(at now: Duration) {
        inFlight += 1
        totalRequests += 1
        switch circuit {
        case .open(let until) where now >= until: circuit = .halfOpen(trialInFlight: true)
        case .halfOpen(trialInFlight: false): circuit = .halfOpen(trialInFlight: true)
        default: break
        }
    }

    /// The request succeeded after `latency` (`nil`: it reached the upstream but says nothing of its speed, e.g. the
    /// upstream refused it as a bad request).
    public mutating func succeed(latency: Duration?) {
        inFlight = max(0, inFlight - 1)
        recordSuccess(latency: latency)
    }

    /// The request failed in a way that counts against the endpoint (connection, timeout, 5xx, 429).
    public mutating func fail(retryAfter: Duration?, at now: Duration, policy: BreakerPolicy) {
        inFlight = max(0, inFlight - 1)
        recordFailure(retryAfter: retryAfter, at: now, policy: policy)
    }

    /// A stream's first event arrived: the endpoint answered (`latency` to that event), and the stream stays in
    /// flight until ``leave()``.
    public mutating func open(latency: Duration) {
        recordSuccess(latency: latency)
    }

    /// A request whose verdict is already recorded (an opened stream) is no longer in flight.
    public mutating func leave() {
        inFlight = max(0, inFlight - 1)
    }

    /// The request ended without saying anything about the endpoint (the caller went away).
    public mutating func abandon() {
        inFlight = max(0, inFlight - 1)
        if case .halfOpen(trialInFlight: true) = circuit { circuit = .halfOpen(trialInFlight: false) }
    }

    /// An active probe answered (or not). A successful probe after the cooldown closes the circuit; a failed one
    /// counts as a failure.
    public mutating func recordProbe(succeeded: Bool, at now: Duration, policy: BreakerPolicy) {
        lastProbeSucceeded = succeeded
        if succeeded {
            if admits(at: now) || circuit == .closed {
                consecutiveFailures = 0
                circuit = .closed
            }
        } else {
            consecutiveFailures += 1
            if consecutiveFailures >= policy.failureThreshold || circuit != .closed {
                circuit = .open(until: now + policy.cooldown)
            }
        }
    }

    private mutating func recordSuccess(latency: Duration?) {
        consecutiveFailures = 0
        circuit = .closed
        recentOutcomes.append(true)
        guard let latency else { return }
        let seconds = latency.seconds
        latencyEWMA = latencyEWMA.map { $0 + Self.smoothing * (seconds - $0) } ?? seconds
        recentLatencies.append(seconds)
    }

    private mutating func recordFailure(retryAfter: Duration?, at now: Duration, policy: BreakerPolicy) {
        totalFailures += 1
        consecutiveFailures += 1
        recentOutcomes.append(false)
        if let retryAfter { coolingUntil = now + retryAfter }
        switch circuit {
        case .halfOpen:
            circuit = .open(until: now + policy.cooldown)
        case .closed where consecutiveFailures >= policy.failureThreshold:
            circuit = .open(until: now + policy.cooldown)
        default:
            break
        }
    }
}

/// The last `capacity` values.
struct RingBuffer<Element: Sendable>: Sendable {
    let capacity: Int
    private(set) var elements: [Element] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = capacity
        elements.reserveCapacity(capacity)
    }

    mutating func append(_ element: Element) {
        if elements.count < capacity {
            elements.append(element)
        } else {
            elements[next] = element
        }
        next = (next + 1) % capacity
    }
}

extension RingBuffer where Element == Double {
    /// The `quantile` (0…1) of the values, nearest-rank.
    func percentile(_ quantile: Double) -> Double? {
        guard !elements.isEmpty else { return nil }
        let sorted = elements.sorted()
        let rank = Int((quantile * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}
