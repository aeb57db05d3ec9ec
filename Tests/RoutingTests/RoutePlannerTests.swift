import Providers
import Testing

@testable import Routing

/// Strategies, tenant policies and per-request requirements, decided without any network call.
@Suite struct RoutePlannerTests {
    static let catalogue = [
        ModelCapabilities(provider: "ollama", model: "llama3.2", contextWindow: 8192, quality: .low, isLocal: true),
        ModelCapabilities(
            provider: "openai", model: "gpt-4o-mini", contextWindow: 128_000, inputPricePer1K: 0.00015, outputPricePer1K: 0.0006,
            quality: .medium),
        ModelCapabilities(
            provider: "openai", model: "gpt-4o", contextWindow: 128_000, inputPricePer1K: 0.0025, outputPricePer1K: 0.01, quality: .high),
        ModelCapabilities(
            provider: "anthropic", model: "claude-sonnet-4-6", contextWindow: 200_000, inputPricePer1K: 0.003,
            outputPricePer1K: 0.015, quality: .high),
    ]

    let registry = scriptedRegistry(
        [
            ("ollama", true, [ScriptedProvider(name: "ollama")]), ("openai", false, [ScriptedProvider(name: "openai")]),
            ("anthropic", false, [ScriptedProvider(name: "anthropic")]),
        ], catalogue: catalogue)

    func planner(_ configuration: RoutingConfiguration = .init(), latency: [String: Double] = [:]) -> RoutePlanner {
        RoutePlanner(configuration: configuration, registry: registry) { provider in (latency[provider], latency[provider]) }
    }

    func names(_ plan: RoutePlan) -> [String] { plan.candidates.map(\.name) }

    @Test func costOptimizedTriesTheCheapestFirst() async throws {
        let plan = try await planner().plan(RouteRequest(estimatedInputTokens: 1000, maximumOutputTokens: 100))
        #expect(plan.strategy == "cost_optimized")
        #expect(names(plan) == ["ollama/llama3.2", "openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-sonnet-4-6"])
        // 1000 input tokens and 100 output tokens at gpt-4o's prices.
        #expect(abs(plan.candidates[2].estimatedCostUSD - (0.0025 + 0.001)) < 1e-12)
    }

    @Test func performanceTriesTheFastestFirstAndUnmeasuredOnesBeforeThat() async throws {
        let plan = try await planner(latency: ["ollama": 2.0, "openai": 0.3]).plan(
            RouteRequest(strategy: "performance", estimatedInputTokens: 10))
        #expect(names(plan) == ["anthropic/claude-sonnet-4-6", "openai/gpt-4o-mini", "openai/gpt-4o", "ollama/llama3.2"])
    }

    @Test func privacyFirstNeverPlansARemoteProviderNotEvenAsAFallback() async throws {
        let plan = try await planner().plan(
            RouteRequest(strategy: "privacy_first", fallbackProviders: ["openai"], estimatedInputTokens: 10))
        #expect(plan.localOnly)
        #expect(names(plan) == ["ollama/llama3.2"])
        // An explicit remote model under privacy_first is refused with the reason.
        let error = await #expect(throws: RoutingError.self) {
            try await planner().plan(RouteRequest(model: "openai/gpt-4o", strategy: "privacy_first", estimatedInputTokens: 10))
        }
        #expect(error?.code == .requirementsUnmet)
        #expect(error?.exclusions.first?.requirement == "privacy")
    }

    @Test func requirementsFilterByCostLatencyQualityAndContextWindow() async throws {
        let planner = planner(latency: ["openai": 0.4, "anthropic": 3.0])
        var request = RouteRequest(estimatedInputTokens: 1000, maximumOutputTokens: 500)
        request.requirements = .init(maximumCostUSD: 0.01, maximumLatencyMilliseconds: 2000, minimumQuality: .high)
        let plan = try await planner.plan(request)
        // gpt-4o: 0.0025 + 0.005 = 0.0075 USD, p95 400 ms, high quality. Claude is too slow, the others too weak.
        #expect(names(plan) == ["openai/gpt-4o"])

        request.requirements = .init(maximumCostUSD: 0.0001, minimumQuality: .high)
        let error = await #expect(throws: RoutingError.self) { try await planner.plan(request) }
        #expect(error?.code == .requirementsUnmet)
        let reasons = Dictionary(uniqueKeysWithValues: (error?.exclusions ?? []).map { ($0.candidate, $0.requirement) })
        #expect(reasons["ollama/llama3.2"] == "min_quality")
        #expect(reasons["openai/gpt-4o"] == "max_cost")
        #expect(reasons["anthropic/claude-sonnet-4-6"] == "max_cost")
        #expect(error?.message.contains("openai/gpt-4o (max_cost") == true)

        // 10,000 prompt tokens do not fit llama3.2's 8k window.
        let long = try await planner.plan(RouteRequest(estimatedInputTokens: 10_000))
        #expect(!names(long).contains("ollama/llama3.2"))
    }

    @Test func namedStrategiesKeepTheirOrderAndApplyTheirSteps() async throws {
        var configuration = RoutingConfiguration()
        configuration.strategies["support"] = [
            .init(provider: "anthropic", model: "claude-sonnet-4-6", maximumCostPer1K: 0.005),
            .init(provider: "openai", model: "gpt-4o", maximumLoad: 0.8),
            .init(provider: "ollama", model: "llama3.2"),
        ]
        configuration.strategies["on_prem"] = [.init(provider: "openai", model: "gpt-4o", requireLocal: true), .init(provider: "ollama", requireLocal: true)]
        let plan = try await planner(configuration).plan(RouteRequest(strategy: "support", estimatedInputTokens: 10))
        // Claude is priced 0.009 per 1k on average, above the step's 0.005.
        #expect(names(plan) == ["openai/gpt-4o", "ollama/llama3.2"])
        #expect(plan.candidates[0].maximumLoad == 0.8)
        let local = try await planner(configuration).plan(RouteRequest(strategy: "on_prem", estimatedInputTokens: 10))
        #expect(names(local) == ["ollama/llama3.2"])
        #expect(local.localOnly)
    }

    @Test func taskTenantAndDefaultStrategiesApplyInThatOrder() async throws {
        var configuration = RoutingConfiguration()
        configuration.routing.defaultStrategy = "cost_optimized"
        configuration.tasks["code_review"] = "performance"
        var acme = RoutingConfiguration.TenantPolicy(name: "acme")
        acme.defaultStrategy = "privacy_first"
        configuration.tenants["acme"] = acme
        let planner = planner(configuration)
        #expect(try planner.strategyName(for: RouteRequest(estimatedInputTokens: 1)) == "cost_optimized")
        #expect(try planner.strategyName(for: RouteRequest(tenant: "acme", estimatedInputTokens: 1)) == "privacy_first")
        #expect(try planner.strategyName(for: RouteRequest(tenant: "acme", task: "code_review", estimatedInputTokens: 1)) == "performance")
        #expect(try planner.strategyName(for: RouteRequest(tenant: "acme", strategy: "cost_optimized", task: "code_review", estimatedInputTokens: 1)) == "cost_optimized")
        #expect(throws: RoutingError.self) { try planner.strategyName(for: RouteRequest(strategy: "fastest", estimatedInputTokens: 1)) }
        #expect(throws: RoutingError.self) { try planner.strategyName(for: RouteRequest(task: "poetry", estimatedInputTokens: 1)) }
    }

    @Test func tenantsArePinnedToTheirProvidersAndPrivacyMode() async throws {
        var configuration = RoutingConfiguration()
        var pinned = RoutingConfiguration.TenantPolicy(name: "pinned")
        pinned.allowedProviders = ["anthropic"]
        configuration.tenants["pinned"] = pinned
        var secret = RoutingConfiguration.TenantPolicy(name: "secret")
        secret.privacyMode = true
        configuration.tenants["secret"] = secret
        let planner = planner(configuration)
        #expect(names(try await planner.plan(RouteRequest(tenant: "pinned", estimatedInputTokens: 1))) == ["anthropic/claude-sonnet-4-6"])
        #expect(names(try await planner.plan(RouteRequest(tenant: "secret", estimatedInputTokens: 1))) == ["ollama/llama3.2"])
        let refused = await #expect(throws: RoutingError.self) {
            try await planner.plan(RouteRequest(tenant: "secret", model: "openai/gpt-4o", estimatedInputTokens: 1))
        }
        #expect(refused?.exclusions.map(\.requirement) == ["privacy"])
    }

    @Test func anExplicitModelIsUsedWithItsFallbacks() async throws {
        let plan = try await planner().plan(
            RouteRequest(model: "openai/gpt-4o", fallbackProviders: ["anthropic"], estimatedInputTokens: 1))
        #expect(plan.strategy == nil)
        #expect(names(plan) == ["openai/gpt-4o", "anthropic/claude-sonnet-4-6"])
    }

    @Test func tokenEstimatesCountCharactersAndMessages() {
        let messages = [ChatMessage(role: .system, content: String(repeating: "a", count: 400)), ChatMessage(role: .user, content: "hi")]
        #expect(RoutePlanner.estimateTokens(messages) == 4 + 100 + 4 + 1)
    }

    @Test func withNoModelServerTheLocalAnswererStandsIn() async throws {
        let registry = ProviderRegistry.make(configuration: RoutingConfiguration(), transport: ProviderTransport())
        let planner = RoutePlanner(configuration: RoutingConfiguration(), registry: registry) { _ in (nil, nil) }
        let plan = try await planner.plan(RouteRequest(estimatedInputTokens: 10))
        #expect(plan.candidates.map(\.provider) == ["local"])
        // With a model server configured, `local` is not a candidate of the built-in strategies.
        #expect(try await self.planner().plan(RouteRequest(estimatedInputTokens: 10)).candidates.allSatisfy { $0.provider != "local" })
    }
}
