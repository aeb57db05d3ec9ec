import Foundation
import Hummingbird
import Logging
import Prometheus
import Providers
import Routing

/// The router's overhead: the same chat request sent by the same provider client to a zero-latency local
/// upstream, directly (`provider.chat`) and through ``AIRouter`` (rate limit, plan, balancer, breaker, metrics,
/// usage record), in alternating phases of one run. Sequential latency percentiles and throughput at concurrency
/// 16 and 64.
enum RouterBench {
    /// A chat completion as OpenAI writes it.
    static let completion = #"{"id":"chatcmpl-bench","object":"chat.completion","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Rayleigh scattering."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}"#

    struct Phase {
        var latencies: [Double]  // seconds
        var seconds: Double

        var throughput: Double { Double(latencies.count) / seconds }
        func percentile(_ q: Double) -> Double {
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }

    static func run(requests: Int, rounds: Int) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let router = Router()
        router.post("/v1/chat/completions") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: completion)))
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let upstream = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await upstream.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { fail("the fake upstream did not start") }
            try await measure(upstreamURL: "http://127.0.0.1:\(port)/v1", requests: requests, rounds: rounds, logger: logger)
            group.cancelAll()
        }
    }

    static func measure(upstreamURL: String, requests: Int, rounds: Int, logger: Logger) async throws {
        let yaml = """
            providers:
              openai: {endpoints: [{url: '\(upstreamURL)', api_key_env: BENCH_KEY, max_concurrency: 256}], default_model: gpt-4o-mini}
            models:
              openai/gpt-4o-mini: {input_per_1k: 0.00015, output_per_1k: 0.0006, context_window: 128000}
            rate_limits: {per_tenant: 1000000000/hour, per_provider: 1000000000/hour}
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: ["BENCH_KEY": "sk-bench"])
        let transport = ProviderTransport()
        let registry = ProviderRegistry.make(configuration: configuration, transport: transport)
        let provider = registry.entry(named: "openai")!.chat
        let metrics = PrometheusCollectorRegistry()
        let aiRouter = AIRouter(
            configuration: configuration, registry: registry, ledgers: .inMemory(),
            metrics: RouterMetrics(factory: PrometheusMetricsFactory(registry: metrics)), logger: logger)
        let usageTask = Task { try await aiRouter.usage.run() }
        defer { usageTask.cancel() }

        let chat = ChatRequest(messages: [ChatMessage(role: .user, content: "Why is the sky blue?")], model: "gpt-4o-mini")
        let routed = RoutedChatRequest(
            chat: chat, route: RouteRequest(tenant: "bench", estimatedInputTokens: RoutePlanner.estimateTokens(chat.messages)))
        let direct: @Sendable () async throws -> Void = { _ = try await provider.chat(chat) }
        let throughRouter: @Sendable () async throws -> Void = { _ = try await aiRouter.chat(routed) }

        // Warm-up: connections, caches, code paths.
        _ = try await phase(direct, requests: 500, concurrency: 8)
        _ = try await phase(throughRouter, requests: 500, concurrency: 8)

        var results: [String: Any] = ["requests_per_phase": requests, "rounds": rounds]
        for concurrency in [1, 16, 64] {
            var directPhases: [Phase] = []
            var routedPhases: [Phase] = []
            // Paired phases, their order alternating (direct first, then routed first), so that drift in the
            // machine's load falls on both sides alike.
            for round in 0..<rounds {
                if round % 2 == 0 {
                    directPhases.append(try await phase(direct, requests: requests, concurrency: concurrency))
                    routedPhases.append(try await phase(throughRouter, requests: requests, concurrency: concurrency))
                } else {
                    routedPhases.append(try await phase(throughRouter, requests: requests, concurrency: concurrency))
                    directPhases.append(try await phase(direct, requests: requests, concurrency: concurrency))
                }
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let p50Direct = median(directPhases.map { $0.percentile(0.5) })
            let p50Routed = median(routedPhases.map { $0.percentile(0.5) })
            let p99Direct = median(directPhases.map { $0.percentile(0.99) })
            let p99Routed = median(routedPhases.map { $0.percentile(0.99) })
            let throughputDirect = median(directPhases.map(\.throughput))
            let throughputRouted = median(routedPhases.map(\.throughput))
            func ms(_ seconds: Double) -> Double { (seconds * 1_000_000).rounded() / 1000 }
            results["c\(concurrency)"] = [
                "p50_direct_ms": ms(p50Direct), "p50_routed_ms": ms(p50Routed), "p50_added_ms": ms(p50Routed - p50Direct),
                "p99_direct_ms": ms(p99Direct), "p99_routed_ms": ms(p99Routed), "p99_added_ms": ms(p99Routed - p99Direct),
                "throughput_direct_rps": throughputDirect.rounded(), "throughput_routed_rps": throughputRouted.rounded(),
                // The median of each round's own ratio: a paired comparison.
                "throughput_ratio": (median(zip(routedPhases, directPhases).map { $0.throughput / $1.throughput }) * 1000).rounded() / 1000,
            ]
        }
        results["in_process"] = try await inProcess(requests: requests * 5, logger: logger)
        try await aiRouter.usage.flush()
        print(String(decoding: try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys]), as: UTF8.self))
        _ = transport
    }

    /// An upstream that costs nothing: the router's own CPU time per request, without any network in the way.
    struct InstantProvider: ChatProvider {
        let name = "instant"
        func chat(_ request: ChatRequest) async throws -> ChatResponse {
            ChatResponse(
                text: "Rayleigh scattering.", finishReason: .stop, usage: TokenUsage(inputTokens: 12, outputTokens: 4),
                provider: name, model: request.model ?? "m", endpoint: "builtin", latency: .zero)
        }
    }

    /// Microseconds per call, sequentially: the provider called directly and through the router.
    static func inProcess(requests: Int, logger: Logger) async throws -> [String: Any] {
        let provider = InstantProvider()
        let registry = ProviderRegistry(
            entries: [
                .init(
                    name: "instant", kind: .openai, chat: provider, embeddings: nil,
                    capabilities: .init(chat: true, streaming: true, embeddings: false, isLocal: false), defaultModel: "m")
            ],
            catalogue: [ModelCapabilities(provider: "instant", model: "m", inputPricePer1K: 0.001, outputPricePer1K: 0.002)])
        var configuration = RoutingConfiguration()
        configuration.rateLimits = .init(
            perTenant: RateLimit(requests: 1_000_000_000, period: .seconds(3600)),
            perProvider: RateLimit(requests: 1_000_000_000, period: .seconds(3600)))
        let router = AIRouter(
            configuration: configuration, registry: registry, ledgers: .inMemory(),
            metrics: RouterMetrics(factory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())), logger: logger)
        let chat = ChatRequest(messages: [ChatMessage(role: .user, content: "Why is the sky blue?")], model: "m")
        let routed = RoutedChatRequest(
            chat: chat, route: RouteRequest(tenant: "bench", estimatedInputTokens: RoutePlanner.estimateTokens(chat.messages)))
        let clock = ContinuousClock()
        var best: (direct: Double, routed: Double) = (.infinity, .infinity)
        for _ in 0..<3 {
            let direct = try await clock.measure { for _ in 0..<requests { _ = try await provider.chat(chat) } }
            let through = try await clock.measure { for _ in 0..<requests { _ = try await router.chat(routed) } }
            best = (min(best.direct, direct.seconds), min(best.routed, through.seconds))
            try await router.usage.flush()
        }
        func microseconds(_ seconds: Double) -> Double { (seconds / Double(requests) * 1e7).rounded() / 10 }
        return [
            "requests": requests, "direct_us": microseconds(best.direct), "routed_us": microseconds(best.routed),
            "added_us": microseconds(best.routed - best.direct),
        ]
    }

    /// `requests` calls by `concurrency` workers; each call's latency and the phase's wall time.
    static func phase(_ call: @escaping @Sendable () async throws -> Void, requests: Int, concurrency: Int) async throws -> Phase {
        let clock = ContinuousClock()
        let started = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                let count = requests / concurrency + (worker < requests % concurrency ? 1 : 0)
                group.addTask {
                    var samples: [Double] = []
                    samples.reserveCapacity(count)
                    for _ in 0..<count {
                        let start = clock.now
                        try await call()
                        samples.append((clock.now - start).seconds)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        return Phase(latencies: latencies, seconds: (clock.now - started).seconds)
    }
}
