import CoreMetrics
import Foundation
import Synchronization

/// The router's Prometheus metrics (through swift-metrics, on the factory the appliance exposes at `/metrics`)
/// and the running totals it writes to `plugin_metrics`. Labels take only bounded values: configured providers,
/// their models and endpoints, status codes.
public final class RouterMetrics: Sendable {
    /// Totals per provider since the last ``drainTotals()``.
    public struct Totals: Sendable, Equatable {
        public var requests = 0
        public var errors = 0
        public var inputTokens = 0
        public var outputTokens = 0
        public var costUSD = 0.0
        public var cacheHits = 0
        public var fallbacks = 0
        public var rateLimited = 0
    }

    /// The metrics of one provider, model and status, made once.
    struct RequestMetrics: Sendable {
        var requests: CoreMetrics.Counter
        var duration: CoreMetrics.Timer
        var inputTokens: CoreMetrics.Counter
        var outputTokens: CoreMetrics.Counter
        var cost: FloatingPointCounter
    }

    struct RequestKey: Hashable, Sendable {
        var provider: String
        var model: String
        var status: String
    }

    let factory: any MetricsFactory
    private let requestMetrics = Mutex<[RequestKey: RequestMetrics]>([:])
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let totals = Mutex<[String: Totals]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// One request answered or failed.
    public func recordRequest(
        provider: String, model: String, status: String, latency: Duration?, usage: (input: Int, output: Int), costUSD: Double,
        cacheHit: Bool, fallbacks: Int
    ) {
        let handles = metrics(provider: provider, model: model, status: status)
        handles.requests.increment()
        if let latency { handles.duration.recordNanoseconds(Int64(latency.seconds * 1e9)) }
        if usage.input > 0 { handles.inputTokens.increment(by: usage.input) }
        if usage.output > 0 { handles.outputTokens.increment(by: usage.output) }
        if costUSD > 0 { handles.cost.increment(by: costUSD) }
        totals.withLock { totals in
            var total = totals[provider] ?? Totals()
            total.requests += 1
            if status != "ok" { total.errors += 1 }
            total.inputTokens += usage.input
            total.outputTokens += usage.output
            total.costUSD += costUSD
            if cacheHit { total.cacheHits += 1 }
            total.fallbacks += fallbacks
            totals[provider] = total
        }
    }

    /// A cache lookup: `hit`, `miss`, or `bypass` (`"cache": false`).
    public func recordCache(_ outcome: String) {
        counter("unity_ai_router_cache_requests_total", [("outcome", outcome)]).increment()
    }

    /// An attempt failed and the router moved on.
    public func recordFallback(from provider: String, reason: String) {
        counter("unity_ai_router_fallbacks_total", [("provider", provider), ("reason", reason)]).increment()
    }

    /// A request refused by a rate limit (`tenant` or `provider`) or a budget.
    public func recordRejection(scope: String) {
        counter("unity_ai_router_rate_limit_rejections_total", [("scope", scope)]).increment()
        totals.withLock { $0["_router", default: Totals()].rateLimited += 1 }
    }

    /// An endpoint's circuit: 0 closed, 1 half-open, 2 open.
    public func recordCircuit(provider: String, endpoint: String, state: EndpointHealth.Circuit) {
        let value: Double =
            switch state {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        // Circuits change rarely: the registry finds the series by its labels, no cache of our own needed.
        Gauge(label: "unity_ai_router_circuit_state", dimensions: [("provider", provider), ("endpoint", endpoint)], factory: factory)
            .record(value)
    }

    /// Totals per provider since the last call, which resets them.
    public func drainTotals() -> [String: Totals] {
        totals.withLock { totals in
            defer { totals.removeAll() }
            return totals
        }
    }

    private func metrics(provider: String, model: String, status: String) -> RequestMetrics {
        let key = RequestKey(provider: provider, model: model, status: status)
        if let existing = requestMetrics.withLock({ $0[key] }) { return existing }
        let labels = [("provider", provider), ("model", model)]
        let made = RequestMetrics(
            requests: counter("unity_ai_router_requests_total", labels + [("status", status)]),
            duration: CoreMetrics.Timer(label: "unity_ai_router_request_duration_seconds", dimensions: labels, factory: factory),
            inputTokens: counter("unity_ai_router_tokens_total", labels + [("direction", "input")]),
            outputTokens: counter("unity_ai_router_tokens_total", labels + [("direction", "output")]),
            cost: FloatingPointCounter(label: "unity_ai_router_cost_usd_total", dimensions: labels, factory: factory))
        return requestMetrics.withLock { Self.entry(key, made, in: &$0) }
    }

    /// The cached value for `key`, or `made`, which is then cached (another thread may have made one first).
    private static func entry<Key: Hashable, Value>(_ key: Key, _ made: Value, in cache: inout [Key: Value]) -> Value {
        if let existing = cache[key] { return existing }
        cache[key] = made
        return made
    }

    private func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(label) { $0 + "|" + $1.0 + "=" + $1.1 }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = key(label, dimensions)
        if let existing = counters.withLock({ $0[key] }) { return existing }
        let made = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
        return counters.withLock { Self.entry(key, made, in: &$0) }
    }
}
