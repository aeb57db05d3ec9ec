import Foundation
import Logging
import ServiceLifecycle

/// One aggregate for the seed's unified monitoring table (`plugin_metrics`).
public struct PluginMetric: Sendable, Equatable {
    public var metric: String
    public var value: Double
    public var unit: String
    public var labels: [String: String]

    public init(metric: String, value: Double, unit: String, labels: [String: String]) {
        self.metric = metric
        self.value = value
        self.unit = unit
        self.labels = labels
    }
}

/// Where plugin aggregates are written.
public protocol PluginMetricsSink: Sendable {
    func write(plugin: String, host: String, metrics: [PluginMetric]) async throws
}

/// Writes the router's aggregates as plugin `ai-router` every `interval`: per provider, the requests, errors,
/// tokens, cost, cache hits and fallbacks since the last write, and each endpoint's latency, error rate and
/// circuit state.
public struct PluginMetricsService: Service {
    public static let plugin = "ai-router"

    let router: AIRouter
    let sink: any PluginMetricsSink
    let interval: Duration
    let host: String
    let logger: Logger

    public init(
        router: AIRouter, sink: any PluginMetricsSink, interval: Duration = .seconds(60),
        host: String = ProcessInfo.processInfo.hostName, logger: Logger
    ) {
        self.router = router
        self.sink = sink
        self.interval = interval
        self.host = host
        self.logger = logger
    }

    public func run() async throws {
        let interval = interval
        // A shutdown ends the wait at once; the aggregates gathered so far are written before leaving.
        while (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil {
            await writeOnce()
        }
        await writeOnce()
    }

    /// Writes the aggregates gathered since the last write.
    public func writeOnce() async {
        let metrics = Self.aggregates(totals: router.metrics.drainTotals(), providers: router.providerStatus())
        do {
            try await sink.write(plugin: Self.plugin, host: host, metrics: metrics)
        } catch {
            logger.warning("Writing router metrics to plugin_metrics failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    static func aggregates(totals: [String: RouterMetrics.Totals], providers: [ProviderStatus]) -> [PluginMetric] {
        var metrics: [PluginMetric] = []
        for (provider, total) in totals.sorted(by: { $0.key < $1.key }) {
            if provider == "_router" {
                metrics.append(.init(metric: "rate_limit_rejections", value: Double(total.rateLimited), unit: "count", labels: [:]))
                continue
            }
            let labels = ["provider": provider]
            metrics.append(.init(metric: "requests", value: Double(total.requests), unit: "count", labels: labels))
            metrics.append(.init(metric: "errors", value: Double(total.errors), unit: "count", labels: labels))
            metrics.append(.init(metric: "input_tokens", value: Double(total.inputTokens), unit: "tokens", labels: labels))
            metrics.append(.init(metric: "output_tokens", value: Double(total.outputTokens), unit: "tokens", labels: labels))
            metrics.append(.init(metric: "cost", value: total.costUSD, unit: "usd", labels: labels))
            metrics.append(.init(metric: "cache_hits", value: Double(total.cacheHits), unit: "count", labels: labels))
            metrics.append(.init(metric: "fallbacks", value: Double(total.fallbacks), unit: "count", labels: labels))
        }
        for provider in providers where provider.enabled {
            for endpoint in provider.endpoints {
                let labels = ["provider": provider.name, "endpoint": endpoint.url]
                if let latency = endpoint.latencyP95Milliseconds {
                    metrics.append(.init(metric: "latency_p95", value: latency, unit: "ms", labels: labels))
                }
                metrics.append(.init(metric: "error_rate", value: endpoint.errorRate, unit: "ratio", labels: labels))
                let circuit: Double = endpoint.circuit == "closed" ? 0 : endpoint.circuit == "half_open" ? 1 : 2
                metrics.append(.init(metric: "circuit_state", value: circuit, unit: "state", labels: labels))
            }
        }
        return metrics
    }
}
