import Foundation
import Providers
import Testing

@testable import Routing

/// The design document's own `ai_routing.yaml` block, byte for byte, and the forms around it.
@Suite struct SeedRoutingFileTests {
    /// `../shared/seed/ai_routing.yaml`, verbatim (its blank lines keep their trailing spaces).
    static let seedBlock = """
        routing:
          default_strategy: cost_optimized
          
          strategies:
            cost_optimized:
              - provider: ollama
                max_load: 0.8
              - provider: openai
                model: gpt-3.5-turbo
                max_cost_per_1k: 0.002
              - provider: anthropic
                model: claude-3-haiku
            
            performance:
              - provider: openai
                model: gpt-4-turbo
              - provider: anthropic
                model: claude-3-opus
            
            privacy_first:
              - provider: ollama
                require_local: true

          caching:
            enabled: true
            backend: redis
            ttl: 3600
            
          rate_limits:
            per_tenant: 1000/hour
            per_provider: 10000/hour

        """

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func theBlockInTheTestIsTheDesignDocumentsOwn() throws {
        let shared = Self.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/seed/ai_routing.yaml")
        let text = try String(contentsOf: shared, encoding: .utf8)
        #expect(text == Self.seedBlock, "../shared/seed/ai_routing.yaml differs from the block this suite holds")
    }

    @Test func theDesignDocumentsBlockLoadsAndMeansWhatItSays() throws {
        let configuration = try RoutingConfiguration.parse(yaml: Self.seedBlock, environment: [:])
        #expect(configuration.routing.defaultStrategy == "cost_optimized")
        let cost = try #require(configuration.strategies["cost_optimized"])
        #expect(cost.map(\.provider) == ["ollama", "openai", "anthropic"])
        #expect(cost[0].model == nil && cost[0].maximumLoad == 0.8)
        #expect(cost[1].model == "gpt-3.5-turbo" && cost[1].maximumCostPer1K == 0.002)
        #expect(cost[2].model == "claude-3-haiku")
        #expect(configuration.strategies["performance"]?.map(\.model) == ["gpt-4-turbo", "claude-3-opus"])
        #expect(configuration.strategies["privacy_first"]?.first?.requireLocal == true)
        #expect(configuration.caching.enabled && configuration.caching.backend == .postgres)
        #expect(configuration.caching.timeToLive == .seconds(3600))
        #expect(configuration.rateLimits.perTenant == RateLimit(parsing: "1000/hour"))
        #expect(configuration.rateLimits.perProvider == RateLimit(parsing: "10000/hour"))
        // `redis` is served by PostgreSQL, and the appliance says so rather than silently meaning something else.
        #expect(configuration.notices.count == 1)
        #expect(configuration.notices.first?.contains("PostgreSQL") == true)
        #expect(configuration.notices.first?.contains("no Redis") == true)
    }

    @Test func theSampleRoutingFileHasTheDesignDocumentsShapeAndLoads() throws {
        let text = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("deploy/ai_routing.yaml"), encoding: .utf8)
        let configuration = try RoutingConfiguration.parse(yaml: text, environment: [:])
        #expect(configuration.strategies["support"]?.count == 3)
        #expect(configuration.rateLimits.perTenant == RateLimit(parsing: "1000/hour"))
        #expect(text.contains("routing:\n") && !text.contains("\nstrategies:") && !text.contains("\ncaching:"))
    }

    @Test func theTopLevelFormStillLoads() throws {
        let configuration = try RoutingConfiguration.parse(
            yaml: "strategies:\n  s: [{provider: openai, model: m}]\ncaching: {enabled: true}\nrate_limits: {per_tenant: 5/minute}\n",
            environment: [:])
        #expect(configuration.strategies["s"]?.first?.model == "m")
        #expect(configuration.caching.enabled)
        #expect(configuration.notices.isEmpty)
    }

    @Test func aSectionInBothPlacesIsRefusedNamingBothLines() throws {
        let yaml = """
            routing:
              strategies:
                a: [{provider: openai, model: m}]
            strategies:
              b: [{provider: openai, model: n}]
            """
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.line == 4)
        #expect(error?.message.contains("line 2") == true)
        #expect(error?.message.contains("both") == true)
    }

    @Test func nestedReferencesAreCheckedWithTheirLine() throws {
        let yaml = "routing:\n  strategies:\n    s:\n      - {provider: nobody}\n"
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.keyPath == "routing.strategies.s[0]")
        #expect(error?.line == 4)
    }

    /// Yams' YAML 1.1 integers include base 60 (`1:1:1`), whose parser overflows and traps; `.inf` is a float.
    @Test(arguments: [
        "health: {failure_threshold: '1:1:1:1:1:1:1:1:1:1:1'}",
        "health: {failure_threshold: 1:1:1:1:1:1:1:1:1:1:1}",
        "health: {failure_threshold: 153722867280912930:8}",
        "routing: {caching: {max_entries: 99999999999999999999999}}",
        "providers: {o: {type: openai, endpoints: [{url: 'http://h', weight: .inf}]}}",
        "providers: {o: {type: openai, endpoints: [{url: 'http://h', max_concurrency: 1:1:1:1:1:1:1:1:1:1:1}]}}",
        "models: {'openai/m': {context_window: 1:1:1:1:1:1:1:1:1:1:1}}",
        "models: {'openai/m': {input_per_1k: .nan}}",
        "health: {probe_interval: 0.0001ms}",
    ])
    func numbersTheFileCannotMeanAreRefusedNotTrapped(_ yaml: String) {
        #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
    }

    @Test func numbersInTheirUsualFormsStillRead() throws {
        let configuration = try RoutingConfiguration.parse(
            yaml: "health: {failure_threshold: 3}\nrouting: {caching: {max_entries: 1_000}}\nmodels: {'openai/m': {input_per_1k: 1.5e-4, context_window: 128000}}\n",
            environment: [:])
        #expect(configuration.health.failureThreshold == 3)
        #expect(configuration.caching.maximumEntries == 1000)
        #expect(configuration.models.first?.inputPricePer1K == 0.00015)
        #expect(configuration.models.first?.contextWindow == 128_000)
    }
}

/// The design document's block routes by itself: its steps, with providers from the environment.
@Suite struct SeedRoutingPlanTests {
    /// A provider that lists models, as Ollama does with what it has pulled.
    struct ListingProvider: ChatProvider {
        let name: String
        let listed: [String]
        func chat(_ request: ChatRequest) async throws -> ChatResponse {
            ChatResponse(
                text: "ok", finishReason: .stop, usage: TokenUsage(inputTokens: 1, outputTokens: 1), provider: name,
                model: request.model ?? "?", endpoint: "test", latency: .zero)
        }
        func listModels() async throws -> [ModelInfo] { listed.map { ModelInfo(id: $0) } }
    }

    static func registry(ollamaModels: [String]) -> ProviderRegistry {
        let entries = [("ollama", true, ollamaModels), ("openai", false, []), ("anthropic", false, [])].map { name, local, listed in
            ProviderRegistry.Entry(
                name: name, kind: local ? .ollama : .openai,
                endpoints: [.init(displayName: "http://\(name)", chat: ListingProvider(name: name, listed: listed), embeddings: nil)],
                capabilities: ProviderCapabilities(chat: true, streaming: true, embeddings: false, isLocal: local),
                defaultModel: nil)
        }
        return ProviderRegistry(entries: entries, catalogue: [], modelDirectory: "/nonexistent")
    }

    @Test func aStepNamingOnlyItsProviderUsesTheModelTheProviderLists() async throws {
        let configuration = try RoutingConfiguration.parse(yaml: SeedRoutingFileTests.seedBlock, environment: [:])
        let planner = RoutePlanner(configuration: configuration, registry: Self.registry(ollamaModels: ["llama3.2:latest"])) { _ in
            (nil, nil)
        }
        let plan = try await planner.plan(RouteRequest(estimatedInputTokens: 10))
        #expect(plan.strategy == "cost_optimized")
        #expect(plan.candidates.map(\.name) == ["ollama/llama3.2:latest", "openai/gpt-3.5-turbo", "anthropic/claude-3-haiku"])
        #expect(plan.candidates.first?.maximumLoad == 0.8)

        let privacy = try await planner.plan(RouteRequest(strategy: "privacy_first", estimatedInputTokens: 10))
        #expect(privacy.localOnly && privacy.candidates.map(\.provider) == ["ollama"])
    }

    @Test func aStepWithNoModelAnywhereIsExcludedWithTheReason() async throws {
        let configuration = try RoutingConfiguration.parse(yaml: SeedRoutingFileTests.seedBlock, environment: [:])
        let planner = RoutePlanner(configuration: configuration, registry: Self.registry(ollamaModels: [])) { _ in (nil, nil) }
        let error = await #expect(throws: RoutingError.self) {
            try await planner.plan(RouteRequest(strategy: "privacy_first", estimatedInputTokens: 10))
        }
        #expect(error?.exclusions.first?.requirement == "no_model")
    }

    /// `max_tokens` is the client's number: the context-window check must not overflow on it.
    @Test func theLargestMaxTokensIsExcludedByTheWindowNotATrap() async throws {
        let catalogue = [ModelCapabilities(provider: "openai", model: "gpt-4o", contextWindow: 128_000)]
        let registry = scriptedRegistry([("openai", false, [ScriptedProvider(name: "openai")])], catalogue: catalogue)
        let planner = RoutePlanner(configuration: .init(), registry: registry) { _ in (nil, nil) }
        let error = await #expect(throws: RoutingError.self) {
            try await planner.plan(RouteRequest(estimatedInputTokens: 100, maximumOutputTokens: Int.max))
        }
        #expect(error?.exclusions.first?.requirement == "context_window")
    }
}
