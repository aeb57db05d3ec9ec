import Logging
import Providers
import ServiceLifecycle

/// Probes every endpoint of every enabled provider at the configured interval with a call that costs no tokens
/// (Ollama `GET /api/version`, OpenAI and Anthropic `GET /v1/models`, Gemini `GET models`), feeding the circuit breakers: an endpoint that went down
/// is found without spending a user's request on it, and one that came back is let in again.
public struct HealthProbeService: Service {
    let router: AIRouter
    let interval: Duration
    let logger: Logger

    public init(router: AIRouter, logger: Logger) {
        self.router = router
        self.interval = router.configuration.health.probeInterval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            await router.probeAll()
            // A shutdown ends the wait at once rather than after the interval.
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil else { return }
        }
    }
}

extension AIRouter {
    /// Probes each endpoint once, concurrently, and records the outcomes.
    public func probeAll() async {
        await withTaskGroup(of: Void.self) { group in
            for entry in registry.entries where entry.isEnabled && entry.kind != .local {
                guard let pool = pools[entry.name] else { continue }
                for (index, endpoint) in entry.endpoints.enumerated() {
                    group.addTask {
                        let succeeded: Bool
                        do {
                            try await endpoint.chat.checkHealth()
                            succeeded = true
                        } catch {
                            succeeded = false
                            self.logger.debug(
                                "Health probe failed",
                                metadata: ["provider": "\(entry.name)", "endpoint": "\(endpoint.displayName)", "error": "\(error)"])
                        }
                        pool.recordProbe(index, succeeded: succeeded, at: self.clock.now())
                        self.metrics.recordCircuit(
                            provider: entry.name, endpoint: endpoint.displayName, state: pool.snapshot()[index].circuit)
                    }
                }
            }
        }
    }

    /// Each provider and its endpoints' state, for `GET /api/providers`.
    public func providerStatus() -> [ProviderStatus] {
        let now = clock.now()
        return registry.entries.map { entry in
            let health = pools[entry.name]?.snapshot() ?? []
            let endpoints = zip(entry.endpoints, health).map { endpoint, health in
                let state: String
                if entry.kind == .disabled {
                    state = "disabled"
                } else if case .open(let until) = health.circuit, now < until {
                    state = "down"
                } else if health.circuit != .closed || health.isCooling(at: now) || health.lastProbeSucceeded == false {
                    state = "degraded"
                } else {
                    state = "up"
                }
                return ProviderStatus.Endpoint(
                    url: endpoint.displayName, state: state, circuit: health.circuit.name, inFlight: health.inFlight,
                    weight: endpoint.weight, maximumConcurrency: endpoint.maximumConcurrency,
                    latencyEWMAMilliseconds: health.latencyEWMA.map { ($0 * 1000 * 100).rounded() / 100 },
                    latencyP95Milliseconds: health.latencyP95.map { ($0 * 1000 * 100).rounded() / 100 },
                    errorRate: (health.recentErrorRate * 1000).rounded() / 1000, requests: health.totalRequests,
                    failures: health.totalFailures, consecutiveFailures: health.consecutiveFailures,
                    lastProbeSucceeded: health.lastProbeSucceeded)
            }
            return ProviderStatus(
                name: entry.name, kind: entry.kind.rawValue, enabled: entry.isEnabled, local: entry.capabilities.isLocal,
                loadBalancing: entry.loadBalancing.rawValue, endpoints: endpoints)
        }
    }
}

/// A provider as `GET /api/providers` shows it.
public struct ProviderStatus: Sendable, Encodable {
    public struct Endpoint: Sendable, Encodable {
        public var url: String
        /// `up`, `degraded` (half-open, cooling after a retry-after, or a failed probe), `down` (circuit open) or
        /// `disabled`.
        public var state: String
        public var circuit: String
        public var inFlight: Int
        public var weight: Double
        public var maximumConcurrency: Int
        public var latencyEWMAMilliseconds: Double?
        public var latencyP95Milliseconds: Double?
        /// Share of failures among the last 100 calls.
        public var errorRate: Double
        public var requests: Int
        public var failures: Int
        public var consecutiveFailures: Int
        public var lastProbeSucceeded: Bool?

        enum CodingKeys: String, CodingKey {
            case url, state, circuit, weight, requests, failures
            case inFlight = "in_flight", maximumConcurrency = "max_concurrency"
            case latencyEWMAMilliseconds = "latency_ewma_ms", latencyP95Milliseconds = "latency_p95_ms"
            case errorRate = "error_rate", consecutiveFailures = "consecutive_failures", lastProbeSucceeded = "last_probe_ok"
        }
    }

    public var name: String
    public var kind: String
    public var enabled: Bool
    public var local: Bool
    public var loadBalancing: String
    public var endpoints: [Endpoint]

    enum CodingKeys: String, CodingKey {
        case name, kind, enabled, local, endpoints
        case loadBalancing = "load_balancing"
    }
}
