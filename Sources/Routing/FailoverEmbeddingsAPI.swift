import Providers

/// One provider's embeddings across its endpoints, through the provider's ``EndpointPool`` — the same pool chat uses:
/// each call takes the endpoint the pool's load balancing picks, skips endpoints whose circuit is open, counts in
/// flight and in latency, and a failure counts against the endpoint's circuit. A retryable failure moves the same
/// call to the next endpoint. It never leaves the provider: an embedding falls back only to the same model (and so
/// the same vector space and dimension).
struct FailoverEmbeddingsAPI: EmbeddingsAPI {
    /// What the router learns from the calls (fallback metrics, circuit changes).
    public struct Observer: Sendable {
        /// An attempt at `endpoint` failed with `error` and the call moved on.
        public var failed: @Sendable (_ endpoint: String, _ error: ProviderError) -> Void = { _, _ in }
        /// An endpoint's circuit changed.
        public var circuitChanged: @Sendable (_ endpoint: String, _ circuit: EndpointHealth.Circuit) -> Void = { _, _ in
        }

        public init() {}
    }

    /// A call that was answered: by which endpoint, after which failures.
    public struct Answer: Sendable {
        public var result: EmbeddingsResult
        /// The display name of the endpoint that answered.
        public var endpoint: String
        /// The attempts that failed before (or were skipped for an open circuit, endpoint `-`).
        public var failures: [RoutingError.Attempt]
    }

    /// The provider's name.
    public let name: String
    /// Each endpoint's display name and embeddings API, in the pool's order (`nil`: the endpoint cannot embed).
    let endpoints: [(displayName: String, api: (any EmbeddingsAPI)?)]
    let pool: EndpointPool
    let clock: any RouterClock
    let observer: Observer

    init(
        provider: String, endpoints: [(displayName: String, api: (any EmbeddingsAPI)?)], pool: EndpointPool,
        clock: any RouterClock, observer: Observer = .init()
    ) {
        self.name = provider
        self.endpoints = endpoints
        self.pool = pool
        self.clock = clock
        self.observer = observer
    }

    /// The smallest of the endpoints' limits.
    public var embeddingBatchLimit: Int { endpoints.compactMap { $0.api?.embeddingBatchLimit }.min() ?? 1 }

    /// Whether every endpoint takes `dimensions`.
    public var acceptsDimensions: Bool {
        let apis = endpoints.compactMap(\.api)
        return !apis.isEmpty && apis.allSatisfy(\.acceptsDimensions)
    }

    public func embed(_ texts: [String], model: String) async throws -> [[Float]] {
        try await attempt(EmbeddingsRequest(texts: texts, model: model)).result.vectors
    }

    public func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult {
        try await attempt(request).result
    }

    /// Sends `request` to the endpoints the pool picks until one answers. A retryable or malformed answer moves on;
    /// any other failure is returned at once. One failed attempt throws its own error; several throw
    /// ``RoutingError/Code/allCandidatesFailed`` listing them, as does a provider whose every circuit is open.
    public func attempt(_ request: EmbeddingsRequest) async throws -> Answer {
        let candidate = "\(name)/\(request.model)"
        var tried = Set(endpoints.indices.filter { endpoints[$0].api == nil })
        var failures: [RoutingError.Attempt] = []
        var lastError: (any Error)?
        var retryAfter: Duration?
        while let index = pool.acquire(excluding: tried, at: clock.now()) {
            tried.insert(index)
            let endpoint = endpoints[index].displayName
            guard let api = endpoints[index].api else {
                pool.finish(index, .abandoned, at: clock.now())
                continue
            }
            let started = clock.now()
            do {
                let result = try await api.embed(request)
                finish(index, endpoint, .succeeded(latency: clock.now() - started))
                return Answer(result: result, endpoint: endpoint, failures: failures)
            } catch let error as ProviderError where error.isRetryable || error.code == .malformedResponse {
                finish(index, endpoint, .failed(retryAfter: error.retryAfter))
                failures.append(.init(candidate: candidate, endpoint: endpoint, error: error.code.description))
                observer.failed(endpoint, error)
                lastError = error
                if let wait = error.retryAfter { retryAfter = min(retryAfter ?? wait, wait) }
            } catch let error as ProviderError where error.code == .disabled {
                pool.finish(index, .abandoned, at: clock.now())
                failures.append(.init(candidate: candidate, endpoint: endpoint, error: error.code.description))
                lastError = error
            } catch let error as ProviderError where error.code == .cancelled {
                pool.finish(index, .abandoned, at: clock.now())
                throw error
            } catch is CancellationError {
                pool.finish(index, .abandoned, at: clock.now())
                throw ProviderError(code: .cancelled, message: "The request was cancelled.", provider: name)
            } catch {
                // Not the endpoint's fault (a bad request, a refused key, an unknown model): returned as it is.
                finish(index, endpoint, .succeeded(latency: nil))
                throw error
            }
        }
        if failures.isEmpty {
            // Nothing was tried: every endpoint's circuit is open.
            failures.append(.init(candidate: candidate, endpoint: "-", error: "circuit_open"))
            throw AIRouter.exhausted(failures, retryAfter: pool.earliestReopening(at: clock.now()))
        }
        if failures.count == 1, let lastError { throw lastError }
        throw AIRouter.exhausted(failures, retryAfter: retryAfter)
    }

    private func finish(_ index: Int, _ endpoint: String, _ outcome: EndpointPool.Outcome) {
        if let changed = pool.finish(index, outcome, at: clock.now()) { observer.circuitChanged(endpoint, changed) }
    }
}
