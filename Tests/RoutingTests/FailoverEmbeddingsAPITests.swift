import Providers
import Synchronization
import Testing

@testable import Routing

/// Embeddings fall back across one provider's endpoints only (the same model, the same vector space), through the
/// provider's endpoint pool: load balancing, in-flight counts and circuit breakers are the ones chat uses.
@Suite struct FailoverEmbeddingsAPITests {
    final class ScriptedEmbeddings: EmbeddingsAPI, Sendable {
        let name = "ollama"
        let embeddingBatchLimit: Int
        let failure: ProviderError?
        let models = Mutex<[String]>([])

        init(batchLimit: Int = 64, failure: ProviderError? = nil) {
            embeddingBatchLimit = batchLimit
            self.failure = failure
        }

        func embed(_ texts: [String], model: String) async throws -> [[Float]] {
            models.withLock { $0.append(model) }
            if let failure { throw failure }
            return texts.map { _ in [1, 0, 0] }
        }
    }

    let clock = ManualRouterClock()

    func pooled(_ apis: [ScriptedEmbeddings], failureThreshold: Int = 5) -> (FailoverEmbeddingsAPI, EndpointPool) {
        let pool = EndpointPool(
            provider: "ollama", weights: apis.map { _ in 1 }, maximumConcurrency: apis.map { _ in 16 },
            policy: .roundRobin,
            breaker: .init(failureThreshold: failureThreshold, cooldown: .seconds(30)))
        let endpoints = apis.enumerated().map {
            (displayName: "http://ollama-\($0.offset)", api: $0.element as (any EmbeddingsAPI)?)
        }
        return (FailoverEmbeddingsAPI(provider: "ollama", endpoints: endpoints, pool: pool, clock: clock), pool)
    }

    @Test func aRetryableFailureMovesTheSameCallToTheNextEndpointAndCountsAgainstIt() async throws {
        let down = ScriptedEmbeddings(
            failure: ProviderError(code: .connectionFailed, message: "down", provider: "ollama"))
        let up = ScriptedEmbeddings(batchLimit: 16)
        let (api, pool) = pooled([down, up], failureThreshold: 1)
        #expect(api.embeddingBatchLimit == 16)
        let first = try await api.attempt(EmbeddingsRequest(texts: ["a", "b"], model: "nomic-embed-text"))
        #expect(first.result.vectors.count == 2 && first.endpoint == "http://ollama-1")
        #expect(first.failures.map(\.error) == ["connectionFailed"])
        // The failure opened the endpoint's circuit: later calls go straight to the other one.
        for _ in 0..<3 { #expect(try await api.embed(["a", "b"], model: "nomic-embed-text").count == 2) }
        #expect(down.models.withLock { $0 } == ["nomic-embed-text"])
        #expect(
            up.models.withLock { $0 }.count == 4 && up.models.withLock { $0 }.allSatisfy { $0 == "nomic-embed-text" })
        let health = pool.snapshot()
        #expect(health[0].circuit != .closed && health[0].totalFailures == 1)
        #expect(health[1].totalRequests == 4 && health.allSatisfy { $0.inFlight == 0 })
    }

    @Test func callsAreBalancedOverHealthyEndpoints() async throws {
        let endpoints = [ScriptedEmbeddings(), ScriptedEmbeddings()]
        let (api, _) = pooled(endpoints)
        for _ in 0..<4 { _ = try await api.embed(["a"], model: "m") }
        #expect(endpoints.map { $0.models.withLock(\.count) } == [2, 2])
    }

    @Test func aNonRetryableFailureIsReturned() async throws {
        let refusing = ScriptedEmbeddings(
            failure: ProviderError(code: .modelNotFound, message: "no model", provider: "ollama"))
        let other = ScriptedEmbeddings()
        let (api, pool) = pooled([refusing, other])
        let error = await #expect(throws: ProviderError.self) { try await api.embed(["a"], model: "missing") }
        #expect(error?.code == .modelNotFound)
        #expect(other.models.withLock { $0 }.isEmpty)
        // Not the endpoint's fault: its circuit stays closed.
        #expect(pool.snapshot()[0].consecutiveFailures == 0)
    }

    @Test func everyCircuitOpenFailsWithoutACallAndSaysWhenToRetry() async throws {
        let down = ScriptedEmbeddings(failure: ProviderError(code: .timeout, message: "slow", provider: "ollama"))
        let (api, _) = pooled([down], failureThreshold: 1)
        let first = await #expect(throws: ProviderError.self) { try await api.embed(["a"], model: "m") }
        #expect(first?.code == .timeout)
        let second = await #expect(throws: RoutingError.self) { try await api.embed(["a"], model: "m") }
        #expect(second?.code == .allCandidatesFailed)
        #expect(second?.attempts.map(\.error) == ["circuit_open"])
        #expect(second?.retryAfter == .seconds(30))
        #expect(down.models.withLock(\.count) == 1)
    }
}
