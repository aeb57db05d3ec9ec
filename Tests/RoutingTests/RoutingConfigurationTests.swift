import Foundation
import Providers
import Testing

@testable import Routing

@Suite struct RoutingConfigurationTests {
    @Test func defaultsAreSensible() {
        let configuration = RoutingConfiguration()
        #expect(configuration.routing.defaultStrategy == "cost_optimized")
        #expect(configuration.embeddingModel == "auto")
    }

    @Test func aFileWithOnlyTheSeedRoutingBlockIsValid() throws {
        let configuration = try RoutingConfiguration.parse(yaml: "routing:\n  default_strategy: privacy_first\n", environment: [:])
        #expect(configuration.routing.defaultStrategy == "privacy_first")
        #expect(configuration.providers.isEmpty)
        let merged = configuration.mergingEnvironmentProviders(["OLLAMA_HOST": "gpu-box:11434"])
        #expect(merged.provider(named: "ollama")?.endpoints.first?.url == "http://gpu-box:11434")
        #expect(merged.provider(named: "openai")?.kind == .disabled)
    }

    @Test func parsesProvidersEndpointsKeysAndTheCatalogue() throws {
        let yaml = """
            routing:
              default_strategy: cost_optimized
            providers:
              ollama:
                endpoints:
                  - url: http://10.0.0.5:11434
                    weight: 2
                  - url: http://10.0.0.6:11434
                keep_alive: 10m
                default_model: llama3.2
              openai:
                endpoints:
                  - url: https://api.openai.com/v1
                    api_key_env: MY_OPENAI_KEY
                timeouts: {connect: 2s, first_byte: 500ms, total: 2m}
              vllm:
                type: openai
                endpoints:
                  - url: http://gpu:8000/v1
              google:
                endpoints: [{url: "https://generativelanguage.googleapis.com", api_key_env: GEMINI_API_KEY}]
                api_version: v1
            models:
              openai/gpt-4o-mini: {input_per_1k: 0.00015, output_per_1k: 0.0006, context_window: 128000, quality: medium}
              ollama/llama3.2: {quality: low, context_window: 8192}
              openai/text-embedding-3-small: {embedding_dimensions: 1536}
            embeddings:
              model: openai/text-embedding-3-small
            strategies:
              cost_optimized:
                - {provider: ollama, model: llama3.2}
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: ["MY_OPENAI_KEY": "sk-secret"])
        let ollama = try #require(configuration.provider(named: "ollama"))
        #expect(ollama.kind == .ollama && ollama.endpoints.count == 2 && ollama.endpoints[0].weight == 2)
        #expect(ollama.keepAlive == "10m" && ollama.defaultModel == "llama3.2")
        let openAI = try #require(configuration.provider(named: "openai"))
        #expect(openAI.endpoints[0].apiKey == Secret("sk-secret"))
        #expect(openAI.timeouts == ProviderTimeouts(connect: .seconds(2), firstByte: .milliseconds(500), total: .seconds(120)))
        #expect(configuration.provider(named: "vllm")?.kind == .openai)
        #expect(configuration.provider(named: "google")?.kind == .gemini)
        #expect(configuration.provider(named: "google")?.apiVersion == "v1")
        let llama = try #require(configuration.models.first { $0.model == "llama3.2" })
        #expect(llama.isLocal && llama.quality == .low && llama.contextWindow == 8192)
        #expect(configuration.models.first { $0.model == "text-embedding-3-small" }?.embeddingDimensions == 1536)
        #expect(configuration.embeddingModel == "openai/text-embedding-3-small")
    }

    @Test(arguments: [
        ("providers:\n  openai:\n    endpoints:\n      - url: not a url\n", "providers.openai.endpoints[0].url", 4),
        ("providers:\n  openai:\n    endpoints:\n      - url: https://x/v1\n        weight: heavy\n", "providers.openai.endpoints[0].weight", 5),
        ("providers:\n  mystery:\n    endpoints: [{url: 'http://x'}]\n", "providers.mystery", 3),
        ("models:\n  gpt-4o: {quality: high}\n", "models.gpt-4o", 2),
        ("models:\n  openai/gpt-4o: {quality: superb}\n", "models.openai/gpt-4o.quality", 2),
        ("routing:\n  default_strategy: x\nunknown_section: 1\n", "unknown_section", 3),
        ("providers:\n  openai:\n    endpoints:\n      - url: https://user:pw@x/v1\n", "providers.openai.endpoints[0].url", 4),
    ])
    func invalidFilesNameTheKeyAndLine(yaml: String, keyPath: String, line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.keyPath == keyPath)
        #expect(error?.line == line)
    }

    @Test func malformedYAMLIsRefusedWithALine() {
        let error = #expect(throws: ConfigurationError.self) {
            try RoutingConfiguration.parse(yaml: "routing:\n  default_strategy: [unclosed\n", environment: [:])
        }
        #expect(error?.line != nil)
    }

    @Test func environmentConfiguresProvidersAsTheirSDKsDo() {
        let configuration = RoutingConfiguration.fromEnvironment([
            "OLLAMA_HOST": "0.0.0.0", "OPENAI_API_KEY": "sk-1", "GOOGLE_API_KEY": "AIza-1",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999",
        ])
        #expect(configuration.provider(named: "ollama")?.endpoints.first?.url == "http://127.0.0.1:11434")
        #expect(configuration.provider(named: "openai")?.endpoints.first?.url == "https://api.openai.com/v1")
        #expect(configuration.provider(named: "openai")?.endpoints.first?.apiKey == Secret("sk-1"))
        #expect(configuration.provider(named: "google")?.kind == .gemini)
        #expect(configuration.provider(named: "anthropic")?.endpoints.first?.url == "http://127.0.0.1:9999")
        let none = RoutingConfiguration.fromEnvironment([:])
        #expect(none.providers.allSatisfy { $0.kind == .disabled })
    }

    @Test func secretsAreRedactedWhenPrinted() {
        let secret = Secret("sk-live-abcdef")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(!"\(RoutingConfiguration.Endpoint(url: "https://x", apiKey: secret))".contains("abcdef"))
    }

    @Test func parsesTheRoutersSections() throws {
        let yaml = """
            routing:
              default_strategy: support
            providers:
              ollama:
                endpoints: [{url: "http://a:11434", max_concurrency: 4}, {url: "http://b:11434", weight: 3}]
                load_balancing: least_connections
            strategies:
              support:
                - {provider: ollama, model: llama3.2, max_load: 0.8, require_local: true}
                - {provider: openai, model: gpt-4o-mini, max_cost_per_1k: 0.001}
            caching: {enabled: true, backend: redis, ttl: 10m}
            rate_limits: {per_tenant: "1000/hour", per_provider: 10000/hour}
            tenants:
              acme: {default_strategy: privacy_first, allowed_providers: [ollama], budget: {daily_usd: 5, monthly_usd: 100}, rate_limit: 20/minute, cache_ttl: 60s}
              hospital: {privacy_mode: true}
            tasks: {summarize: cost_optimized}
            health: {probe_interval: 15s, failure_threshold: 3, cooldown: 1m}
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: [:])
        #expect(configuration.routing.defaultStrategy == "support")
        #expect(configuration.provider(named: "ollama")?.loadBalancing == .leastConnections)
        #expect(configuration.provider(named: "ollama")?.endpoints.map(\.maximumConcurrency) == [4, 16])
        #expect(
            configuration.strategies["support"] == [
                .init(provider: "ollama", model: "llama3.2", maximumLoad: 0.8, requireLocal: true),
                .init(provider: "openai", model: "gpt-4o-mini", maximumCostPer1K: 0.001),
            ])
        #expect(configuration.caching.enabled && configuration.caching.backend == .postgres)
        #expect(configuration.caching.timeToLive == .seconds(600))
        #expect(configuration.rateLimits.perTenant == RateLimit(requests: 1000, period: .seconds(3600)))
        #expect(configuration.rateLimits.perProvider == RateLimit(requests: 10000, period: .seconds(3600)))
        let acme = try #require(configuration.tenants["acme"])
        #expect(acme.allowedProviders == ["ollama"] && acme.defaultStrategy == "privacy_first")
        #expect(acme.budget == .init(dailyUSD: 5, monthlyUSD: 100) && acme.rateLimit == RateLimit(requests: 20, period: .seconds(60)))
        #expect(acme.cacheTimeToLive == .seconds(60))
        #expect(configuration.tenants["hospital"]?.privacyMode == true)
        #expect(configuration.tasks == ["summarize": "cost_optimized"])
        #expect(configuration.health.failureThreshold == 3 && configuration.health.cooldown == .seconds(60))
    }

    @Test func mistakesInTheRoutersSectionsNameTheKeyAndLine() {
        func problem(_ yaml: String) -> ConfigurationError? {
            #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        }
        let unknownStrategy = problem("routing:\n  default_strategy: fastest\n")
        #expect(unknownStrategy?.keyPath == "routing.default_strategy" && unknownStrategy?.line == 2)
        #expect(unknownStrategy?.message.contains("unknown strategy 'fastest'") == true)
        let badLimit = problem("rate_limits:\n  per_tenant: lots\n")
        #expect(badLimit?.keyPath == "rate_limits.per_tenant" && badLimit?.message.contains("1000/hour") == true)
        let badLoad = problem("strategies:\n  s:\n    - {provider: ollama, max_load: 1.5}\n")
        #expect(badLoad?.keyPath == "strategies.s[0].max_load")
        let unknownProvider = problem("strategies:\n  s:\n    - {provider: mistral}\n")
        #expect(unknownProvider?.keyPath == "strategies.s[0]" && unknownProvider?.line == 3)
        let taskTarget = problem("tasks:\n  summarize: cheapest\n")
        #expect(taskTarget?.keyPath == "tasks.summarize")
        let tenantKey = problem("tenants:\n  acme: {budget: {weekly_usd: 1}}\n")
        #expect(tenantKey?.keyPath == "tenants.acme.budget.weekly_usd")
        let balancing = problem("providers:\n  ollama: {endpoints: [{url: 'http://a'}], load_balancing: random}\n")
        #expect(balancing?.keyPath == "providers.ollama.load_balancing")
        let price = problem("models:\n  openai/gpt-4o: {input_per_1k: -1}\n")
        #expect(price?.keyPath == "models.openai/gpt-4o.input_per_1k")
        let window = problem("models:\n  openai/gpt-4o: {context_window: 0}\n")
        #expect(window?.keyPath == "models.openai/gpt-4o.context_window")
        let forever = problem("caching: {ttl: inf}\n")
        #expect(forever?.keyPath == "caching.ttl")
        let tenant = problem("tenants:\n  acme corp: {privacy_mode: true}\n")
        #expect(tenant?.message.contains("not a valid tenant name") == true)
    }

    @Test func theSampleRoutingFileIsValid() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/ai_routing.yaml")
        let configuration = try RoutingConfiguration.parse(yaml: try String(contentsOf: sample, encoding: .utf8), environment: [:])
        #expect(configuration.strategies["support"]?.count == 3)
        #expect(configuration.tenants["hospital"]?.privacyMode == true)
    }
}
