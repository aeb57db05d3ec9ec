import Foundation
import Logging
import Providers

/// An embeddings request with what the router needs to route it.
public struct RoutedEmbeddingsRequest: Sendable {
    /// The texts, each non-empty; at most ``AIRouter/maximumEmbeddingInputs`` (callers bound them).
    public var texts: [String]
    /// `provider/model`, a bare model name, `local`, `minilm` or `auto`.
    public var model: String
    /// The vector length asked for; `nil` for the model's own.
    public var dimensions: Int?
    public var tenant: String

    public init(texts: [String], model: String, dimensions: Int? = nil, tenant: String = "default") {
        self.texts = texts
        self.model = model
        self.dimensions = dimensions
        self.tenant = tenant
    }
}

/// The vectors of a routed embeddings request.
public struct RoutedEmbeddings: Sendable {
    /// One vector per text, in order, all of one length.
    public var vectors: [[Float]]
    /// The input tokens: the upstream's count when it gave one, else estimated (UTF-8 bytes ÷ 4).
    public var inputTokens: Int
}

extension AIRouter {
    /// The most texts one embeddings request may carry: OpenAI's own limit.
    public static let maximumEmbeddingInputs = 2048

    /// Answers one embeddings request as chat is answered: the tenant's rate limit, its policy (privacy mode, allowed
    /// providers) and budget (priced at the catalogue's `input_per_1k`), then the provider's endpoints through their
    /// pool (load balancing, circuit breakers, the provider's rate limit), falling back only to another endpoint of the
    /// same provider and model — vectors of two models never mix. Every request, answered, failed or refused, is
    /// counted in metrics and usage records.
    ///
    /// `dimensions` is honoured or refused, never ignored: a model that can shorten its vectors (OpenAI's
    /// text-embedding-3) is asked to; one whose length is known and fixed is refused before a call when the length
    /// differs; and an answer whose length is not the one asked for is refused (`invalidRequest`).
    public func embed(_ request: RoutedEmbeddingsRequest) async throws -> (RoutedEmbeddings, RouteOutcome) {
        let started = clock.now()
        let estimated = Self.estimateTokens(request.texts)
        let route = RouteRequest(tenant: request.tenant, model: request.model, estimatedInputTokens: estimated)
        let rateLimit = try await admitTenant(route)

        let target: ProviderRegistry.EmbeddingTarget
        let provider: String
        let model: String
        let passDimensions: Int?
        do {
            target = try await registry.embeddingTarget(named: request.model)
            switch target {
            case .builtin(let embedder):
                (provider, model) = ("local", embedder.model.name)
            case .remote(let entry, let name):
                (provider, model) = (entry.name, name)
            }
            if let exclusion = exclusion(provider: provider, model: model, tenant: request.tenant) {
                throw RoutingError.requirementsUnmet([exclusion])
            }
            passDimensions = try dimensionsToPass(request.dimensions, target: target, provider: provider, model: model)
        } catch {
            rejectRecord(route, status: Self.statusCode(of: error))
            throw error
        }

        let capabilities = registry.capabilities(provider: provider, model: model)
        var reservation: BudgetGuard.Reservation?
        let estimate = Double(estimated) * capabilities.inputPricePer1K / 1000
        if let budget = configuration.tenants[request.tenant]?.budget, estimate > 0 {
            do {
                reservation = try await budgets.reserve(tenant: request.tenant, budget: budget, amountUSD: estimate)
            } catch let error as RoutingError {
                metrics.recordRejection(scope: "budget")
                rejectRecord(route, status: error.code.rawValue)
                throw error
            }
        }

        var failures: [RoutingError.Attempt] = []
        do {
            let vectors: [[Float]]
            var tokens = 0
            var endpoint = "builtin"
            switch target {
            case .builtin(let embedder):
                vectors = try await embedder.embedAll(request.texts)
                tokens = estimated
            case .remote(let entry, _):
                if let refusal = await admitProvider(entry) {
                    failures.append(.init(candidate: "\(provider)/\(model)", endpoint: "-", error: "rate_limited"))
                    throw refusal
                }
                let api = try registry.pooledEmbeddings(of: entry, clock: clock, observer: observer(for: entry.name))
                var collected: [[Float]] = []
                collected.reserveCapacity(request.texts.count)
                var start = 0
                while start < request.texts.count {
                    let end = min(start + max(1, api.embeddingBatchLimit), request.texts.count)
                    let batch = Array(request.texts[start..<end])
                    let answer: FailoverEmbeddingsAPI.Answer
                    do {
                        answer = try await api.attempt(
                            EmbeddingsRequest(texts: batch, model: model, dimensions: passDimensions))
                    } catch let error as RoutingError {
                        failures += error.attempts
                        throw error
                    }
                    failures += answer.failures
                    guard answer.result.vectors.count == batch.count else {
                        throw ProviderError.malformedResponse(
                            provider: provider,
                            reason: "it returned \(answer.result.vectors.count) embeddings for \(batch.count) texts")
                    }
                    collected += answer.result.vectors
                    tokens += answer.result.inputTokens ?? Self.estimateTokens(batch)
                    endpoint = answer.endpoint
                    start = end
                }
                vectors = collected
            }
            try checkDimensions(of: vectors, asked: request.dimensions, provider: provider, model: model)
            if request.dimensions == nil, let length = vectors.first?.count, case .remote = target {
                registry.learn(dimensions: length, provider: provider, model: model)
            }
            let cost = Double(tokens) * capabilities.inputPricePer1K / 1000
            await settle(reservation, costUSD: cost)
            let fallbacks = failures.filter { $0.endpoint != "-" }.count
            let latency = clock.now() - started
            metrics.recordRequest(
                provider: provider, model: embeddingMetricLabel(provider: provider, model: model), status: "ok",
                latency: latency,
                usage: (tokens, 0), costUSD: cost, cacheHit: false, fallbacks: fallbacks)
            usage.record(
                UsageRecord(
                    date: clock.date(), tenant: request.tenant, provider: provider, model: model, endpoint: endpoint,
                    inputTokens: tokens, outputTokens: 0, costUSD: cost, latencyMilliseconds: latency.milliseconds,
                    cacheHit: false, fallbacks: fallbacks, status: "ok", strategy: nil))
            let outcome = RouteOutcome(
                provider: provider, model: model, endpoint: endpoint,
                fallbacks: failures.filter { $0.endpoint != "-" }.map { _ in provider }, cache: .disabled,
                costUSD: cost,
                strategy: nil, rateLimit: rateLimit)
            return (RoutedEmbeddings(vectors: vectors, inputTokens: tokens), outcome)
        } catch {
            await settle(reservation, costUSD: 0)
            let status = Self.statusCode(of: error)
            let fallbacks = failures.filter { $0.endpoint != "-" }.count
            let latency = clock.now() - started
            metrics.recordRequest(
                provider: provider, model: embeddingMetricLabel(provider: provider, model: model), status: status,
                latency: latency,
                usage: (0, 0), costUSD: 0, cacheHit: false, fallbacks: fallbacks)
            usage.record(
                UsageRecord(
                    date: clock.date(), tenant: request.tenant, provider: provider, model: model, endpoint: "-",
                    inputTokens: 0,
                    outputTokens: 0, costUSD: 0, latencyMilliseconds: latency.milliseconds, cacheHit: false,
                    fallbacks: fallbacks,
                    status: status, strategy: nil))
            throw error
        }
    }

    /// About four characters per token, as for chat.
    static func estimateTokens(_ texts: [String]) -> Int {
        texts.reduce(0) { $0 + ($1.utf8.count + 3) / 4 }
    }

    /// Why the tenant may not send its texts to `provider`, if it may not: a privacy-mode tenant's texts never leave
    /// for a remote provider, and a tenant's `allowed_providers` bounds its embeddings as its chat.
    func exclusion(provider: String, model: String, tenant name: String) -> RouteExclusion? {
        guard let tenant = configuration.tenants[name] else { return nil }
        let candidate = "\(provider)/\(model)"
        let isLocal = provider == "local" || registry.capabilities(provider: provider, model: model).isLocal
        if tenant.privacyMode, !isLocal {
            return RouteExclusion(
                candidate: candidate, requirement: "privacy",
                detail: "remote providers are never used for local-only (privacy) traffic")
        }
        if let allowed = tenant.allowedProviders, !allowed.contains(provider) {
            return RouteExclusion(
                candidate: candidate, requirement: "allowed_providers",
                detail: "the tenant '\(name)' may not use \(provider)")
        }
        return nil
    }

    /// The `dimensions` to send upstream: the asked length for a model that can shorten its vectors (or one whose
    /// length is unknown, on an API that takes the field), `nil` otherwise. A length a model cannot give is refused
    /// here, before any call, when the model's length is known.
    func dimensionsToPass(_ asked: Int?, target: ProviderRegistry.EmbeddingTarget, provider: String, model: String)
        throws -> Int?
    {
        guard let asked else { return nil }
        guard asked > 0 else {
            throw ProviderError.invalidRequest(provider: provider, reason: "'dimensions' must be a positive integer.")
        }
        let native: Int?
        let adjustable: Bool
        switch target {
        case .builtin(let embedder):
            native = embedder.model.dimensions
            adjustable = false
        case .remote(let entry, _):
            native = registry.nativeDimensions(provider: provider, model: model)
            let acceptsField = entry.endpoints.contains { $0.embeddings?.acceptsDimensions == true }
            // Known adjustable models shorten; unknown ones are asked when the API takes the field, and checked after.
            adjustable = acceptsField && (KnownEmbeddingModel.named(model)?.adjustable ?? (native == nil))
        }
        if adjustable {
            if let native, asked > native {
                throw ProviderError.invalidRequest(
                    provider: provider,
                    reason: "The model '\(model)' gives at most \(native) dimensions; 'dimensions' cannot be larger.")
            }
            return asked
        }
        if let native, native != asked {
            throw Self.fixedDimensions(model: model, dimensions: native, provider: provider)
        }
        return nil
    }

    /// Every vector has one length, and it is the one asked for, if any.
    func checkDimensions(of vectors: [[Float]], asked: Int?, provider: String, model: String) throws {
        guard let length = vectors.first?.count else { return }
        guard vectors.allSatisfy({ $0.count == length }) else {
            throw ProviderError.malformedResponse(provider: provider, reason: "its vectors are not all of one length")
        }
        if let asked, asked != length {
            throw Self.fixedDimensions(model: model, dimensions: length, provider: provider)
        }
    }

    static func fixedDimensions(model: String, dimensions: Int, provider: String) -> ProviderError {
        ProviderError.invalidRequest(
            provider: provider,
            reason: "The model '\(model.prefix(200))' gives \(dimensions) dimensions; 'dimensions' cannot change that.")
    }

    /// The model as a metric label: catalogue, default and well-known embedding models by name, any other `other`.
    func embeddingMetricLabel(provider: String, model: String) -> String {
        provider == "local" || registry.isKnown(provider: provider, model: model)
            || KnownEmbeddingModel.named(model) != nil
            ? model : "other"
    }

    /// Fallbacks and circuit changes of the pooled calls, into the router's metrics.
    func observer(for provider: String) -> FailoverEmbeddingsAPI.Observer {
        var observer = FailoverEmbeddingsAPI.Observer()
        let metrics = metrics
        let logger = logger
        observer.failed = { endpoint, error in
            metrics.recordFallback(from: provider, reason: error.code.description)
            logger.debug(
                "Embeddings attempt failed, moving on",
                metadata: ["provider": "\(provider)", "endpoint": "\(endpoint)", "error.code": "\(error.code)"])
        }
        observer.circuitChanged = { endpoint, circuit in
            metrics.recordCircuit(provider: provider, endpoint: endpoint, state: circuit)
        }
        return observer
    }
}
