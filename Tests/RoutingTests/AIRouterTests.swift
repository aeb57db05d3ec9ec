import CoreMetrics
import Foundation
import Logging
import Providers
import Testing

@testable import Routing

/// The router end to end over scripted providers and in-memory ledgers: fallback chains, streams, budgets,
/// the cache and usage records. No network, no sleeps.
@Suite struct AIRouterTests {
    let clock = ManualRouterClock()
    let catalogue = [
        ModelCapabilities(provider: "ollama", model: "llama3.2", contextWindow: 8192, quality: .low, isLocal: true),
        ModelCapabilities(
            provider: "openai", model: "gpt-4o-mini", contextWindow: 16_000, inputPricePer1K: 0.001, outputPricePer1K: 0.002,
            quality: .medium),
        ModelCapabilities(
            provider: "anthropic", model: "claude", contextWindow: 200_000, inputPricePer1K: 0.003, outputPricePer1K: 0.015,
            quality: .high),
    ]
    let ollama = ScriptedProvider(name: "ollama", .answer("local answer"))
    let openAI = [ScriptedProvider(name: "openai", .answer("openai one")), ScriptedProvider(name: "openai", .answer("openai two"))]
    let anthropic = ScriptedProvider(name: "anthropic", .answer("anthropic answer"))
    let usage = InMemoryUsageLedger()

    func router(_ configuration: RoutingConfiguration = .init()) -> AIRouter {
        let registry = scriptedRegistry(
            [("ollama", true, [ollama]), ("openai", false, openAI), ("anthropic", false, [anthropic])], catalogue: catalogue,
            health: configuration.health, clock: clock)
        var ledgers = AIRouter.Ledgers.inMemory()
        ledgers.usage = usage
        return AIRouter(
            configuration: configuration, registry: registry, ledgers: ledgers, metrics: RouterMetrics(factory: NOOPMetricsHandler.instance),
            clock: clock, logger: Logger(label: "test"))
    }

    func request(
        _ text: String = "hello", tenant: String = "default", model: String? = nil, strategy: String? = nil, cache: Bool = true,
        fallbacks: [String] = []
    ) -> RoutedChatRequest {
        let messages = [ChatMessage(role: .user, content: text)]
        return RoutedChatRequest(
            chat: ChatRequest(messages: messages),
            route: RouteRequest(
                tenant: tenant, model: model, strategy: strategy, fallbackProviders: fallbacks,
                estimatedInputTokens: RoutePlanner.estimateTokens(messages)),
            useCache: cache)
    }

    @Test func retryableFailuresFallBackAcrossEndpointsThenProviders() async throws {
        let router = router()
        ollama.set(.fail(.server("ollama")))
        openAI[0].set(.fail(ProviderError(code: .timeout, message: "slow", provider: "openai")))
        let (response, outcome) = try await router.chat(request())
        // cost_optimized: ollama (free) failed, then openai's first endpoint timed out, its second answered.
        #expect(response.text == "openai two")
        #expect(outcome.fallbacks == ["ollama", "openai"])
        #expect(outcome.header == "openai/gpt-4o-mini/http://openai-1")
        #expect(outcome.costUSD == (1000 * 0.001 + 500 * 0.002) / 1000)
        #expect(anthropic.calls == 0)
        try await router.usage.flush()
        #expect(usage.records.last?.fallbacks == 2 && usage.records.last?.status == "ok")
    }

    @Test func nonRetryableErrorsAreReturnedNotSprayedOverOtherProviders() async throws {
        let router = router()
        ollama.set(.fail(ProviderError(code: .invalidRequest, message: "bad", provider: "ollama")))
        let error = await #expect(throws: ProviderError.self) { try await router.chat(request()) }
        #expect(error?.code == .invalidRequest)
        #expect(openAI.allSatisfy { $0.calls == 0 } && anthropic.calls == 0)
    }

    @Test func aContextLengthErrorMovesToALargerWindow() async throws {
        let router = router()
        ollama.set(.fail(ProviderError(code: .contextLengthExceeded, message: "too long", provider: "ollama")))
        openAI.forEach { $0.set(.fail(ProviderError(code: .contextLengthExceeded, message: "too long", provider: "openai"))) }
        let (response, outcome) = try await router.chat(request())
        #expect(response.text == "anthropic answer")
        // One attempt at openai: a context error is about the model, not the endpoint, so the second endpoint is skipped.
        #expect(outcome.fallbacks == ["ollama", "openai"])
        #expect(openAI.map(\.calls).reduce(0, +) == 1)
    }

    @Test func whenEverythingFailsTheErrorListsTheAttemptsAndWhenToRetry() async throws {
        let router = router()
        ollama.set(.fail(ProviderError(code: .rateLimited, message: "slow down", provider: "ollama", retryAfter: .seconds(12))))
        openAI.forEach { $0.set(.fail(.server("openai"))) }
        anthropic.set(.fail(ProviderError(code: .overloaded, message: "busy", provider: "anthropic", retryAfter: .seconds(40))))
        let error = await #expect(throws: RoutingError.self) { try await router.chat(request()) }
        #expect(error?.code == .allCandidatesFailed)
        #expect(error?.attempts.count == 4)
        #expect(error?.retryAfter == .seconds(12))
        #expect(error?.message.contains("anthropic/claude at http://anthropic-0 (overloaded)") == true)
    }

    @Test func openCircuitsAreSkippedWithoutACall() async throws {
        var configuration = RoutingConfiguration()
        configuration.health.failureThreshold = 2
        let router = router(configuration)
        ollama.set(.fail(.server("ollama")))
        _ = try await router.chat(request("one"))
        _ = try await router.chat(request("two"))
        #expect(ollama.calls == 2)
        // Open now: the third request goes straight to openai.
        let (_, outcome) = try await router.chat(request("three"))
        #expect(ollama.calls == 2)
        #expect(outcome.provider == "openai" && outcome.fallbacks.isEmpty)
        // After the cooldown one trial goes through and closes the circuit.
        ollama.set(.answer("back"))
        clock.advance(by: configuration.health.cooldown)
        #expect(try await router.chat(request("four")).0.text == "back")
    }

    @Test func privacyFirstNeverCallsARemoteProviderEvenWhenTheLocalOneIsDown() async throws {
        let router = router()
        ollama.set(.fail(ProviderError(code: .connectionFailed, message: "down", provider: "ollama")))
        await #expect(throws: ProviderError.self) {
            try await router.chat(request(strategy: "privacy_first", fallbacks: ["openai", "anthropic"]))
        }
        #expect(openAI.allSatisfy { $0.calls == 0 } && anthropic.calls == 0)
    }

    @Test func aStreamFallsBackUntilItsFirstEvent() async throws {
        let router = router()
        ollama.set(.cutStream)
        let (stream, outcome) = try await router.stream(request())
        var text = ""
        for try await event in stream { if case .delta(let piece) = event { text += piece } }
        #expect(outcome.provider == "openai" && outcome.fallbacks == ["ollama"])
        #expect(text == "openai one ")
    }

    @Test func aBudgetStopsTheTenantOnceSpent() async throws {
        var configuration = RoutingConfiguration()
        var tenant = RoutingConfiguration.TenantPolicy(name: "acme")
        tenant.budget = .init(dailyUSD: 0.005)
        tenant.allowedProviders = ["anthropic"]
        configuration.tenants["acme"] = tenant
        let router = router(configuration)
        // Each call costs 1000 × 0.003/1k + 500 × 0.015/1k = 0.0105 USD real, estimated 0.0038 before it.
        _ = try await router.chat(request("first", tenant: "acme"))
        let error = await #expect(throws: RoutingError.self) { try await router.chat(request("second", tenant: "acme")) }
        #expect(error?.code == .budgetExceeded)
        #expect(anthropic.calls == 1)
        // Another tenant is not affected, and the next day the budget is back.
        _ = try await router.chat(request("other", tenant: "default"))
        clock.advance(by: .seconds(86_400))
        _ = try await router.chat(request("next day", tenant: "acme"))
        #expect(anthropic.calls == 2)
    }

    @Test func aCacheHitMakesNoUpstreamCallAndReplaysStreams() async throws {
        var configuration = RoutingConfiguration()
        configuration.caching.enabled = true
        configuration.caching.backend = .memory
        let router = router(configuration)
        let (first, firstOutcome) = try await router.chat(request("what is RAID?"))
        let (second, secondOutcome) = try await router.chat(request("  what is RAID?  "))
        #expect(ollama.calls == 1)
        #expect(firstOutcome.cache == .miss && secondOutcome.cache == .hit)
        #expect(second.text == first.text && secondOutcome.costUSD == 0)
        // Another tenant has its own entries; `cache: false` bypasses.
        _ = try await router.chat(request("what is RAID?", tenant: "other"))
        let (_, bypass) = try await router.chat(request("what is RAID?", cache: false))
        #expect(ollama.calls == 3 && bypass.cache == .bypass)
        // A streamed answer is cached and replayed as a stream.
        let (stream, _) = try await router.stream(request("stream me"))
        for try await _ in stream {}
        let (replayed, replayOutcome) = try await router.stream(request("stream me"))
        var text = ""
        for try await event in replayed { if case .delta(let piece) = event { text += piece } }
        #expect(replayOutcome.cache == .hit && text == "local answer ")
        #expect(ollama.calls == 4)
        // The entry expires with its TTL.
        clock.advance(by: configuration.caching.timeToLive)
        _ = try await router.chat(request("what is RAID?"))
        #expect(ollama.calls == 5)
    }

    @Test func aTenantRateLimitRefusesWithTheWindowsNumbers() async throws {
        var configuration = RoutingConfiguration()
        configuration.rateLimits.perTenant = RateLimit(requests: 2, period: .seconds(60))
        let router = router(configuration)
        _ = try await router.chat(request("1"))
        let (_, second) = try await router.chat(request("2"))
        #expect(second.rateLimit?.remaining == 0 && second.rateLimit?.limit == 2)
        let error = await #expect(throws: RoutingError.self) { try await router.chat(request("3")) }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter != nil)
        #expect(ollama.calls == 2)
    }

    @Test func aStreamTheClientAbandonsIsStillChargedAndRecorded() async throws {
        let router = router()
        ollama.set(.stallAfter("one two three four five"))
        // The client reads one piece and goes away (the stream is released when the function returns).
        func readOnePiece() async throws {
            let (stream, _) = try await router.stream(request("abandon me"))
            for try await event in stream {
                if case .delta = event { break }
            }
        }
        try await readOnePiece()
        // The relay notices the cancellation on its own task: wait for its record.
        for _ in 0..<1000 where usage.records.isEmpty {
            try await router.usage.flush()
            await Task.yield()
        }
        let record = try #require(usage.records.last)
        #expect(record.provider == "ollama" && record.status == "cancelled")
        #expect(record.outputTokens == 6)  // the 23 characters that reached the client, about 4 per token
    }

    @Test func aBudgetedTenantIsRefusedWhenTheLedgerIsDown() async throws {
        struct Down: BudgetLedger {
            func reserve(tenant: String, period: BudgetPeriod, start: Date, limitUSD: Double, amountUSD: Double) async throws -> Bool {
                throw CancellationError()
            }
            func settle(tenant: String, period: BudgetPeriod, start: Date, reservedUSD: Double, actualUSD: Double) async throws {}
        }
        var configuration = RoutingConfiguration()
        var tenant = RoutingConfiguration.TenantPolicy(name: "acme")
        tenant.budget = .init(monthlyUSD: 10)
        configuration.tenants["acme"] = tenant
        let registry = scriptedRegistry([("ollama", true, [ollama]), ("anthropic", false, [anthropic])], catalogue: catalogue)
        var ledgers = AIRouter.Ledgers.inMemory()
        ledgers.budgets = Down()
        let router = AIRouter(
            configuration: configuration, registry: registry, ledgers: ledgers, metrics: RouterMetrics(factory: NOOPMetricsHandler.instance),
            clock: clock, logger: Logger(label: "test"))
        let error = await #expect(throws: RoutingError.self) {
            try await router.chat(request(tenant: "acme", model: "anthropic/claude"))
        }
        #expect(error?.code == .budgetUnavailable)
        #expect(anthropic.calls == 0)
        // A free (local) answer needs no budget, and tenants without a budget do not need the ledger.
        _ = try await router.chat(request(tenant: "acme", model: "ollama/llama3.2"))
        _ = try await router.chat(request(tenant: "default", model: "anthropic/claude"))
    }

    @Test func healthProbesOpenTheCircuitOfAnEndpointThatIsDownWithoutSpendingARequest() async throws {
        var configuration = RoutingConfiguration()
        configuration.health.failureThreshold = 2
        let router = router(configuration)
        ollama.set(.fail(ProviderError(code: .connectionFailed, message: "down", provider: "ollama")))
        await router.probeAll()
        await router.probeAll()
        let status = try #require(router.providerStatus().first { $0.name == "ollama" })
        #expect(status.endpoints[0].state == "down" && status.endpoints[0].lastProbeSucceeded == false)
        // The next request skips ollama without calling it.
        let calls = ollama.calls
        let (_, outcome) = try await router.chat(request())
        #expect(outcome.provider == "openai" && ollama.calls == calls)
        // Ollama comes back: after the cooldown a successful probe closes the circuit.
        ollama.set(.answer("back"))
        clock.advance(by: configuration.health.cooldown)
        await router.probeAll()
        #expect(router.providerStatus().first { $0.name == "ollama" }?.endpoints[0].state == "up")
    }

    @Test func aStreamHoldsItsEndpointUntilItEnds() async throws {
        let router = router()
        ollama.set(.stallAfter("first piece"))
        let pool = try #require(router.pool(for: "ollama"))
        do {
            let (stream, _) = try await router.stream(request("long answer"))
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
            #expect(pool.snapshot()[0].inFlight == 1)
        }
        for _ in 0..<1000 where pool.snapshot()[0].inFlight > 0 { await Task.yield() }
        #expect(pool.snapshot()[0].inFlight == 0)
        #expect(pool.snapshot()[0].circuit == .closed)
    }

    @Test func usageRecordsKeepNoControlCharactersOrHugeNames() {
        #expect(UsageRecorder.clean("gpt-4o") == "gpt-4o")
        #expect(UsageRecorder.clean("evil\u{0}name\n") == "evilname")
        #expect(UsageRecorder.clean(String(repeating: "m", count: 5000)).count == 200)
    }

    @Test func anUnknownFallbackProviderIsAnError() async throws {
        let error = await #expect(throws: RoutingError.self) { try await router().chat(request(fallbacks: ["mistral"])) }
        #expect(error?.code == .unknownProvider)
    }

    @Test func aStreamedTrialClosesTheCircuitAtItsFirstEvent() async throws {
        var configuration = RoutingConfiguration()
        configuration.health.failureThreshold = 1
        let router = router(configuration)
        let pool = try #require(router.pool(for: "ollama"))
        ollama.set(.fail(.server("ollama")))
        _ = try await router.chat(request("opens the circuit"))
        #expect(pool.snapshot()[0].circuit != .closed)
        clock.advance(by: configuration.health.cooldown)
        // The trial is a long stream: once its first event is in, the circuit closes and other requests flow again.
        ollama.set(.stallAfter("still talking"))
        let (stream, outcome) = try await router.stream(request("a long answer"))
        #expect(outcome.provider == "ollama")
        #expect(pool.snapshot()[0].circuit == .closed && pool.snapshot()[0].inFlight == 1)
        ollama.set(.answer("next"))
        #expect(try await router.chat(request("meanwhile")).0.text == "next")
        _ = stream
    }
}
