import CoreMetrics
import Foundation
import Logging
import Providers
import Synchronization
import Testing

@testable import Routing

/// Embeddings through the router, over scripted embeddings APIs and in-memory ledgers: the same admission as chat,
/// fallback only to the same provider and model, `dimensions` honoured or refused. No network, no sleeps.
@Suite struct AIRouterEmbeddingsTests {
    /// An embeddings API whose answers a test scripts; it records what it was asked.
    final class ScriptedEmbeddings: EmbeddingsAPI, Sendable {
        let name: String
        let embeddingBatchLimit: Int
        let acceptsDimensions: Bool
        /// The vector length it answers with when not asked for another.
        let length: Int
        private let state = Mutex<(failure: ProviderError?, requests: [EmbeddingsRequest])>((nil, []))

        init(name: String, length: Int = 4, batchLimit: Int = 2048, acceptsDimensions: Bool = false) {
            self.name = name
            self.length = length
            self.embeddingBatchLimit = batchLimit
            self.acceptsDimensions = acceptsDimensions
        }

        var requests: [EmbeddingsRequest] { state.withLock { $0.requests } }
        func fail(with error: ProviderError?) { state.withLock { $0.failure = error } }

        func embed(_ texts: [String], model: String) async throws -> [[Float]] {
            try await embed(EmbeddingsRequest(texts: texts, model: model)).vectors
        }

        func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult {
            let failure = state.withLock { state -> ProviderError? in
                state.requests.append(request)
                return state.failure
            }
            if let failure { throw failure }
            let size = acceptsDimensions ? (request.dimensions ?? length) : length
            return EmbeddingsResult(
                vectors: request.texts.map { _ in Array(repeating: 0.5, count: size) },
                inputTokens: 7 * request.texts.count)
        }
    }

    let clock = ManualRouterClock()
    let usage = InMemoryUsageLedger()
    let openAI = [
        ScriptedEmbeddings(name: "openai", acceptsDimensions: true),
        ScriptedEmbeddings(name: "openai", acceptsDimensions: true),
    ]
    let ollama = ScriptedEmbeddings(name: "ollama", length: 768, batchLimit: 2)
    let catalogue = [
        ModelCapabilities(
            provider: "openai", model: "text-embedding-3-small", inputPricePer1K: 0.02, embeddingDimensions: 1536)
    ]

    func router(_ configuration: RoutingConfiguration = .init()) -> AIRouter {
        let registry = scriptedRegistry(
            [
                ("ollama", true, [ScriptedProvider(name: "ollama")]),
                ("openai", false, openAI.map { _ in ScriptedProvider(name: "openai") }),
            ],
            catalogue: catalogue, health: configuration.health, embeddings: ["ollama": [ollama], "openai": openAI],
            clock: clock)
        var ledgers = AIRouter.Ledgers.inMemory()
        ledgers.usage = usage
        return AIRouter(
            configuration: configuration, registry: registry, ledgers: ledgers,
            metrics: RouterMetrics(factory: NOOPMetricsHandler.instance),
            clock: clock, logger: Logger(label: "test"))
    }

    func request(
        _ model: String, texts: [String] = ["backups run nightly", "forklift speed"], dimensions: Int? = nil,
        tenant: String = "default"
    )
        -> RoutedEmbeddingsRequest
    {
        RoutedEmbeddingsRequest(texts: texts, model: model, dimensions: dimensions, tenant: tenant)
    }

    @Test func wellKnownBareNamesFindTheirProviderWithoutConfiguredDimensions() async throws {
        let router = router()
        let (fromOllama, ollamaOutcome) = try await router.embed(request("nomic-embed-text:latest"))
        #expect(ollamaOutcome.provider == "ollama" && fromOllama.vectors.map(\.count) == [768, 768])
        let (_, openAIOutcome) = try await router.embed(request("text-embedding-3-small"))
        #expect(openAIOutcome.header == "openai/text-embedding-3-small/http://openai-0")
        // A name nobody offers is a 404, not a guess.
        let error = await #expect(throws: RoutingError.self) { try await router.embed(request("no-such-embedder")) }
        #expect(error?.code == .unknownModel)
    }

    @Test func aFailingEndpointFallsBackOnlyToTheSameModelOnAnotherEndpoint() async throws {
        let router = router()
        openAI[0].fail(with: ProviderError(code: .connectionFailed, message: "refused", provider: "openai"))
        let (answer, outcome) = try await router.embed(request("openai/text-embedding-3-small"))
        #expect(answer.vectors.count == 2)
        #expect(outcome.endpoint == "http://openai-1" && outcome.fallbacks == ["openai"])
        #expect((openAI[0].requests + openAI[1].requests).allSatisfy { $0.model == "text-embedding-3-small" })
        #expect(ollama.requests.isEmpty)
        // When the provider's every endpoint fails, the error lists them: nothing is sent to another provider.
        openAI[1].fail(with: ProviderError(code: .overloaded, message: "busy", provider: "openai"))
        let error = await #expect(throws: RoutingError.self) {
            try await router.embed(request("openai/text-embedding-3-small"))
        }
        #expect(error?.code == .allCandidatesFailed)
        #expect(error?.attempts.allSatisfy { $0.candidate == "openai/text-embedding-3-small" } == true)
        #expect(ollama.requests.isEmpty)
    }

    @Test func theCircuitIsTheOneChatUses() async throws {
        var configuration = RoutingConfiguration()
        configuration.health.failureThreshold = 1
        let router = router(configuration)
        openAI[0].fail(with: ProviderError(code: .timeout, message: "slow", provider: "openai"))
        _ = try await router.embed(request("openai/text-embedding-3-small"))
        let pool = try #require(router.pool(for: "openai"))
        #expect(pool.snapshot()[0].circuit != .closed)
        for _ in 0..<3 { _ = try await router.embed(request("openai/text-embedding-3-small")) }
        #expect(openAI[0].requests.count == 1 && openAI[1].requests.count == 4)
        #expect(router.providerStatus().first { $0.name == "openai" }?.endpoints[0].state == "down")
    }

    @Test func theUpstreamsTokenCountIsChargedAndRecorded() async throws {
        let router = router()
        let (answer, outcome) = try await router.embed(request("openai/text-embedding-3-small", tenant: "acme"))
        #expect(answer.inputTokens == 14)
        #expect(outcome.costUSD == 14 * 0.02 / 1000)
        try await router.usage.flush()
        let record = try #require(usage.records.last)
        #expect(record.tenant == "acme" && record.provider == "openai" && record.model == "text-embedding-3-small")
        #expect(record.inputTokens == 14 && record.outputTokens == 0 && record.status == "ok")
    }

    @Test func batchesFollowTheProvidersLimit() async throws {
        let router = router()
        let (answer, _) = try await router.embed(request("ollama/nomic-embed-text", texts: ["a", "b", "c", "d", "e"]))
        #expect(answer.vectors.count == 5)
        #expect(ollama.requests.map(\.texts.count) == [2, 2, 1])
    }

    @Test func dimensionsAreHonouredOrRefusedNeverIgnored() async throws {
        let router = router()
        // text-embedding-3 shortens its vectors: the field is passed on.
        let (short, _) = try await router.embed(request("openai/text-embedding-3-small", dimensions: 256))
        #expect(short.vectors.allSatisfy { $0.count == 256 })
        #expect(openAI.flatMap(\.requests).last?.dimensions == 256)
        // A fixed-size model asked for another size is refused before any call.
        let calls = ollama.requests.count
        let fixed = await #expect(throws: ProviderError.self) {
            try await router.embed(request("ollama/nomic-embed-text", dimensions: 256))
        }
        #expect(fixed?.code == .invalidRequest && fixed?.message.contains("768") == true)
        #expect(ollama.requests.count == calls)
        // Its own size is fine, and not sent.
        _ = try await router.embed(request("ollama/nomic-embed-text", dimensions: 768))
        #expect(ollama.requests.last?.dimensions == nil)
        // A model nothing describes: called, then refused when its answer is not the size asked for.
        let unknown = await #expect(throws: ProviderError.self) {
            try await router.embed(request("ollama/custom-embedder", dimensions: 100))
        }
        #expect(unknown?.code == .invalidRequest)
        // …and from then on its size is known, so the next such request is refused without a call.
        let before = ollama.requests.count
        _ = try await router.embed(request("ollama/custom-embedder"))
        _ = await #expect(throws: ProviderError.self) {
            try await router.embed(request("ollama/custom-embedder", dimensions: 100))
        }
        #expect(ollama.requests.count == before + 1)
        // The built-in embedder's size is fixed.
        await #expect(throws: ProviderError.self) { try await router.embed(request("local", dimensions: 256)) }
    }

    @Test func aRateLimitedTenantIsRefusedAndRecorded() async throws {
        var configuration = RoutingConfiguration()
        configuration.rateLimits.perTenant = RateLimit(requests: 1, period: .seconds(60))
        let router = router(configuration)
        _ = try await router.embed(request("local"))
        let error = await #expect(throws: RoutingError.self) { try await router.embed(request("local")) }
        #expect(error?.code == .rateLimited && error?.retryAfter != nil)
        try await router.usage.flush()
        #expect(usage.records.map(\.status) == ["ok", "rate_limit_exceeded"])
        #expect(usage.records.first?.provider == "local")
    }

    @Test func aPrivacyModeTenantIsKeptToLocalEmbedders() async throws {
        var configuration = RoutingConfiguration()
        var tenant = RoutingConfiguration.TenantPolicy(name: "vault")
        tenant.privacyMode = true
        configuration.tenants["vault"] = tenant
        let router = router(configuration)
        let error = await #expect(throws: RoutingError.self) {
            try await router.embed(request("openai/text-embedding-3-small", tenant: "vault"))
        }
        #expect(error?.code == .requirementsUnmet && error?.exclusions.first?.requirement == "privacy")
        #expect(openAI.allSatisfy { $0.requests.isEmpty })
        // Ollama is local: allowed.
        _ = try await router.embed(request("ollama/nomic-embed-text", tenant: "vault"))
    }
}
