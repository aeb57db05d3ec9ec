import Foundation
import Logging
import Providers
import Synchronization

/// A chat request with what the router needs to route it.
public struct RoutedChatRequest: Sendable {
    public var chat: ChatRequest
    public var route: RouteRequest
    /// `false` (the request's `"cache": false`) skips the response cache both ways.
    public var useCache: Bool
    /// For grounded answers: a digest of the retrieved context, so a cached answer changes with the knowledge.
    public var cacheContext: String?

    public init(chat: ChatRequest, route: RouteRequest, useCache: Bool = true, cacheContext: String? = nil) {
        self.chat = chat
        self.route = route
        self.useCache = useCache
        self.cacheContext = cacheContext
    }
}

/// How a request was routed: for the `x-unity-*` headers and the response body.
public struct RouteOutcome: Sendable {
    /// Whether the answer came from the response cache.
    public enum CacheStatus: String, Sendable {
        case hit, miss
        /// The request said `"cache": false`.
        case bypass
        /// Caching is off in the routing file.
        case disabled
    }

    public var provider: String
    public var model: String
    public var endpoint: String
    /// The providers of the attempts that failed before this one, in order.
    public var fallbacks: [String]
    public var cache: CacheStatus
    /// USD; `nil` for a stream until it ends.
    public var costUSD: Double?
    public var strategy: String?
    /// The tenant's rate limit after this request, when it has one.
    public var rateLimit: RateLimitStatus?

    /// `provider/model/endpoint`, for `x-unity-route`.
    public var header: String { "\(provider)/\(model)/\(endpoint)" }
}

/// Routes chat requests: rate limits, plan (strategy, tenant policy, requirements), cache, budget, then the
/// fallback chain over the plan's candidates and each candidate's endpoints, with circuit breakers and load
/// balancing; every request is counted in metrics and usage records. Embeddings go the same way (see
/// `AIRouter+Embeddings.swift`), falling back only to the same model on another endpoint.
public final class AIRouter: Sendable {
    /// Where the router keeps what instances share.
    public struct Ledgers: Sendable {
        public var rateLimits: any RateLimitLedger
        public var budgets: any BudgetLedger
        /// The shared response cache behind the in-memory LRU; `nil` keeps the cache in memory only.
        public var responses: (any ResponseCacheStore)?
        public var usage: any UsageLedger

        public init(
            rateLimits: any RateLimitLedger, budgets: any BudgetLedger, responses: (any ResponseCacheStore)?, usage: any UsageLedger
        ) {
            self.rateLimits = rateLimits
            self.budgets = budgets
            self.responses = responses
            self.usage = usage
        }

        /// Everything in this process's memory: one instance, no database.
        public static func inMemory() -> Ledgers {
            Ledgers(
                rateLimits: InMemoryRateLimitLedger(), budgets: InMemoryBudgetLedger(), responses: nil, usage: InMemoryUsageLedger())
        }
    }

    public let configuration: RoutingConfiguration
    public let registry: ProviderRegistry
    public let metrics: RouterMetrics
    public let usage: UsageRecorder
    public let cache: ResponseCache
    /// The registry's endpoint pools (shared with the embedders it makes).
    let pools: [String: EndpointPool]
    let planner: RoutePlanner
    let limiter: RateLimiter
    let budgets: BudgetGuard
    let clock: any RouterClock
    let logger: Logger

    /// A router over `registry`'s providers. The endpoints' pools — and so their circuit-breaker policy — are the
    /// registry's (``ProviderRegistry/make(configuration:transport:)`` builds them from the same configuration's
    /// `health`), shared with the embedders the registry makes for ingest and retrieval.
    public init(
        configuration: RoutingConfiguration, registry: ProviderRegistry, ledgers: Ledgers, metrics: RouterMetrics,
        clock: any RouterClock = SystemRouterClock(), logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
        let pools = registry.pools
        self.pools = pools
        planner = RoutePlanner(configuration: configuration, registry: registry) { [pools, clock] provider in
            guard let pool = pools[provider] else { return (nil, nil) }
            let now = clock.now()
            return (pool.bestLatencyP95(at: now), pool.bestLatencyEWMA(at: now))
        }
        limiter = RateLimiter(ledger: ledgers.rateLimits, clock: clock, logger: logger)
        budgets = BudgetGuard(ledger: ledgers.budgets, clock: clock)
        usage = UsageRecorder(ledger: ledgers.usage, logger: logger)
        cache = ResponseCache(
            capacity: configuration.caching.maximumEntries,
            shared: configuration.caching.backend == .postgres ? ledgers.responses : nil, clock: clock, logger: logger)
    }

    /// The endpoint pool of a provider.
    public func pool(for provider: String) -> EndpointPool? { pools[provider] }

    // MARK: Requests

    /// Answers one chat request.
    public func chat(_ request: RoutedChatRequest) async throws -> (ChatResponse, RouteOutcome) {
        let admission = try await admit(request)
        if let cached = admission.cached {
            return (cached.response, admission.outcome(for: cached))
        }
        let started = clock.now()
        do {
            let (response, attempt) = try await runFallbackChain(admission) { client, routed in
                let response = try await client.chat(routed)
                return (response, nil)
            }
            let cost = Self.cost(of: response.usage, capabilities: attempt.candidate.capabilities)
            await settle(admission, costUSD: cost)
            if let key = admission.cacheKey {
                await cache.save(key, tenant: request.route.tenant, answer: CachedAnswer(response), timeToLive: admission.cacheTimeToLive)
            }
            var outcome = admission.outcome(attempt: attempt, endpoint: attempt.endpoint)
            outcome.costUSD = cost
            finishRecord(admission, attempt: attempt, usage: response.usage, cost: cost, latency: clock.now() - started, status: "ok")
            return (response, outcome)
        } catch {
            await settle(admission, costUSD: 0)
            failRecord(admission, error: error, latency: clock.now() - started)
            throw error
        }
    }

    /// Answers one chat request as a stream. Until the first event arrives a failed attempt falls back to the next
    /// endpoint or candidate; after it, a failure ends the stream with the error.
    public func stream(_ request: RoutedChatRequest) async throws -> (ChatStream, RouteOutcome) {
        let admission = try await admit(request)
        if let cached = admission.cached {
            return (Self.replay(cached), admission.outcome(for: cached))
        }
        let started = clock.now()
        let opened: (stream: ChatStream, attempt: Attempt)
        do {
            opened = try await runFallbackChain(admission, holdingEndpoint: true) { client, routed in
                try await Self.openStream(client, routed)
            }
        } catch {
            await settle(admission, costUSD: 0)
            failRecord(admission, error: error, latency: clock.now() - started)
            throw error
        }
        let attempt = opened.attempt
        let relay = ChatStream { continuation in
            let task = Task {
                var text = ""
                var ended = false
                do {
                    for try await event in opened.stream {
                        switch event {
                        case .delta(let piece):
                            text += piece
                        case .end(let reason, let reported):
                            ended = true
                            // The client gets its last event first; the accounting follows.
                            continuation.yield(event)
                            let usage =
                                reported
                                ?? TokenUsage(inputTokens: admission.request.route.estimatedInputTokens, outputTokens: (text.utf8.count + 3) / 4)
                            let cost = Self.cost(of: usage, capabilities: attempt.candidate.capabilities)
                            await self.settle(admission, costUSD: cost)
                            self.finishRecord(admission, attempt: attempt, usage: usage, cost: cost, latency: self.clock.now() - started, status: "ok")
                            if let key = admission.cacheKey {
                                let answer = CachedAnswer(
                                    ChatResponse(
                                        text: text, finishReason: reason, usage: usage, provider: attempt.candidate.provider,
                                        model: attempt.candidate.model, endpoint: attempt.endpoint, latency: .zero))
                                await self.cache.save(key, tenant: admission.request.route.tenant, answer: answer, timeToLive: admission.cacheTimeToLive)
                            }
                            continue
                        }
                        continuation.yield(event)
                    }
                    if !ended {
                        // The client went away, or the upstream stopped without an end: what was produced is charged.
                        await self.chargePartial(admission, attempt: attempt, text: text, status: "cancelled", started: started)
                    }
                    self.release(attempt, .left)
                    continuation.finish()
                } catch {
                    if !ended {
                        await self.chargePartial(admission, attempt: attempt, text: text, status: Self.statusCode(of: error), started: started)
                    }
                    // A stream cut or failing upstream counts against its endpoint, as a failed attempt does.
                    let code = (error as? ProviderError)?.code
                    let endpointFailed = (error as? ProviderError)?.isRetryable == true || code == .malformedResponse
                    self.release(attempt, endpointFailed ? .failed(retryAfter: nil) : .left)
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return (relay, admission.outcome(attempt: attempt, endpoint: attempt.endpoint))
    }

    // MARK: Admission: rate limit, plan, cache, budget

    /// A request that passed the rate limit, with its plan, cache key and budget reservation.
    struct Admission: Sendable {
        var request: RoutedChatRequest
        var plan: RoutePlan
        var rateLimit: RateLimitStatus?
        var cacheKey: String?
        var cacheStatus: RouteOutcome.CacheStatus
        var cacheTimeToLive: Duration
        var cached: CachedAnswer?
        var reservation: BudgetGuard.Reservation?

        func outcome(for cached: CachedAnswer) -> RouteOutcome {
            RouteOutcome(
                provider: cached.provider, model: cached.model, endpoint: cached.endpoint, fallbacks: [], cache: .hit, costUSD: 0,
                strategy: plan.strategy, rateLimit: rateLimit)
        }

        func outcome(attempt: Attempt, endpoint: String) -> RouteOutcome {
            RouteOutcome(
                provider: attempt.candidate.provider, model: attempt.candidate.model, endpoint: endpoint,
                fallbacks: attempt.failures.filter { $0.endpoint != "-" }.map {
                    $0.candidate.split(separator: "/").first.map(String.init) ?? $0.candidate
                },
                cache: cacheStatus, costUSD: nil, strategy: plan.strategy, rateLimit: rateLimit)
        }
    }

    /// Claims one request from the tenant's rate limit, when it has one; a refusal is recorded and thrown.
    func admitTenant(_ route: RouteRequest) async throws -> RateLimitStatus? {
        guard let limit = configuration.tenants[route.tenant]?.rateLimit ?? configuration.rateLimits.perTenant else { return nil }
        let decision = await limiter.acquire("tenant:\(route.tenant)", limit: limit)
        guard decision.allowed else {
            metrics.recordRejection(scope: "tenant")
            rejectRecord(route, status: RoutingError.Code.rateLimited.rawValue)
            throw Self.rateLimited(decision.status, now: clock.date(), who: "The tenant '\(route.tenant)'")
        }
        return decision.status
    }

    /// Claims one request from `provider`'s rate limit, when the routing file sets one (local providers have none);
    /// a refusal is the error to report.
    func admitProvider(_ entry: ProviderRegistry.Entry) async -> RoutingError? {
        guard let limit = configuration.rateLimits.perProvider, entry.kind != .local else { return nil }
        let decision = await limiter.acquire("provider:\(entry.name)", limit: limit)
        guard decision.allowed else {
            metrics.recordRejection(scope: "provider")
            return Self.rateLimited(decision.status, now: clock.date(), who: "The provider '\(entry.name)'")
        }
        return nil
    }

    func admit(_ request: RoutedChatRequest) async throws -> Admission {
        let tenant = configuration.tenants[request.route.tenant]
        let rateLimit = try await admitTenant(request.route)
        let plan: RoutePlan
        do {
            plan = try await planner.plan(request.route)
        } catch let error as RoutingError {
            rejectRecord(request.route, status: error.code.rawValue)
            throw error
        }
        var admission = Admission(
            request: request, plan: plan, rateLimit: rateLimit, cacheKey: nil, cacheStatus: .disabled,
            cacheTimeToLive: tenant?.cacheTimeToLive ?? configuration.caching.timeToLive)
        if configuration.caching.enabled {
            if request.useCache {
                let route = Set(plan.candidates.map(\.name)).sorted().joined(separator: ",")
                let key = ResponseCache.key(tenant: request.route.tenant, route: route, request: request.chat, context: request.cacheContext)
                admission.cacheKey = key
                if let cached = await cache.lookup(key, tenant: request.route.tenant) {
                    metrics.recordCache("hit")
                    admission.cached = cached
                    metrics.recordRequest(
                        provider: cached.provider,
                        model: registry.isKnown(provider: cached.provider, model: cached.model) ? cached.model : "other", status: "ok", latency: nil, usage: (0, 0), costUSD: 0,
                        cacheHit: true, fallbacks: 0)
                    usage.record(
                        UsageRecord(
                            date: clock.date(), tenant: request.route.tenant, provider: cached.provider, model: cached.model,
                            endpoint: cached.endpoint, inputTokens: cached.usage.inputTokens, outputTokens: cached.usage.outputTokens,
                            costUSD: 0, latencyMilliseconds: 0, cacheHit: true, fallbacks: 0, status: "ok", strategy: plan.strategy))
                    admission.cacheStatus = .hit
                    return admission
                }
                metrics.recordCache("miss")
                admission.cacheStatus = .miss
            } else {
                metrics.recordCache("bypass")
                admission.cacheStatus = .bypass
            }
        }
        // A request that costs nothing (local providers, free models) is not held to the budget.
        if let budget = tenant?.budget, let estimate = plan.candidates.map(\.estimatedCostUSD).max(), estimate > 0 {
            do {
                admission.reservation = try await budgets.reserve(tenant: request.route.tenant, budget: budget, amountUSD: estimate)
            } catch let error as RoutingError {
                metrics.recordRejection(scope: "budget")
                rejectRecord(request.route, status: error.code.rawValue)
                throw error
            }
        }
        return admission
    }

    static func rateLimited(_ status: RateLimitStatus, now: Date, who: String) -> RoutingError {
        let wait = max(1, Int(status.reset.timeIntervalSince(now).rounded(.up)))
        var error = RoutingError(
            code: .rateLimited,
            message: "\(who) has used its \(status.limit) requests for this window. Retry in \(wait) s.")
        error.retryAfter = .seconds(wait)
        error.rateLimit = status
        return error
    }

    /// Settles the admission's reservation to `costUSD`. Runs outside the caller's task: a client that goes away
    /// cancels its request, and a cancelled database call would leave the reservation held until the period ends.
    func settle(_ admission: Admission, costUSD: Double) async {
        await settle(admission.reservation, costUSD: costUSD)
    }

    /// Settles `reservation` (if any) to `costUSD`, outside the caller's task (see ``settle(_:costUSD:)``).
    func settle(_ reservation: BudgetGuard.Reservation?, costUSD: Double) async {
        guard let reservation else { return }
        let budgets = budgets
        let logger = logger
        await Task.detached {
            do {
                try await budgets.settle(reservation, actualUSD: costUSD)
            } catch {
                logger.warning("Settling a budget reservation failed", metadata: ["error": "\(String(reflecting: error))"])
            }
        }.value
    }

    // MARK: The fallback chain

    /// The attempt that answered, with the failures before it.
    struct Attempt: Sendable {
        var candidate: RouteCandidate
        var endpoint: String
        /// The endpoint's index in its provider's pool.
        var endpointIndex: Int
        /// For a stream: how long its first event took.
        var firstEventLatency: Duration?
        /// Every candidate that did not answer: failed attempts, and candidates skipped (endpoint `-`) for an open
        /// circuit, `max_load` or a provider rate limit.
        var failures: [RoutingError.Attempt]

        /// Failed calls before this one.
        var attempted: Int { failures.filter { $0.endpoint != "-" }.count }
    }

    /// Tries the plan's candidates in order, and each candidate's endpoints as its pool chooses them, until one
    /// answers. Retryable failures move on; a context-length failure moves to a candidate with a larger window;
    /// other failures are returned at once.
    ///
    /// With `holdingEndpoint` (streams), the endpoint that answered stays counted in flight until ``release(_:_:)``.
    func runFallbackChain<Result: Sendable>(
        _ admission: Admission, holdingEndpoint: Bool = false,
        _ call: (any ChatProvider, ChatRequest) async throws -> (Result, firstEventLatency: Duration?)
    ) async throws -> (Result, Attempt) {
        var failures: [RoutingError.Attempt] = []
        var lastError: (any Error)?
        var retryAfter: Duration?
        var windowFloor: Int?
        for candidate in admission.plan.candidates {
            if let floor = windowFloor, (candidate.capabilities.contextWindow ?? 0) <= floor { continue }
            guard let entry = registry.entry(named: candidate.provider), let pool = pools[candidate.provider] else { continue }
            if let refusal = await admitProvider(entry) {
                failures.append(.init(candidate: candidate.name, endpoint: "-", error: "rate_limited"))
                lastError = refusal
                if let wait = refusal.retryAfter { retryAfter = min(retryAfter ?? wait, wait) }
                continue
            }
            var tried: Set<Int> = []
            while let index = pool.acquire(excluding: tried, maximumLoad: candidate.maximumLoad, at: clock.now()) {
                tried.insert(index)
                let endpoint = entry.endpoints[index]
                var routed = admission.request.chat
                routed.model = candidate.model
                let started = clock.now()
                do {
                    let (result, firstEvent) = try await call(endpoint.chat, routed)
                    // A stream's verdict is its first event (a long stream must not hold a half-open circuit shut); it
                    // stays counted in flight until it ends.
                    let verdict: EndpointPool.Outcome =
                        holdingEndpoint ? .opened(latency: firstEvent ?? (clock.now() - started)) : .succeeded(latency: clock.now() - started)
                    if let changed = pool.finish(index, verdict, at: clock.now()) {
                        metrics.recordCircuit(provider: entry.name, endpoint: endpoint.displayName, state: changed)
                    }
                    let attempt = Attempt(
                        candidate: candidate, endpoint: endpoint.displayName, endpointIndex: index, firstEventLatency: firstEvent,
                        failures: failures)
                    return (result, attempt)
                } catch let error as ProviderError where error.isRetryable || error.code == .disabled || error.code == .malformedResponse {
                    if error.code != .disabled {
                        if let changed = pool.finish(index, .failed(retryAfter: error.retryAfter), at: clock.now()) {
                            metrics.recordCircuit(provider: entry.name, endpoint: endpoint.displayName, state: changed)
                        }
                    } else {
                        pool.finish(index, .abandoned, at: clock.now())
                    }
                    failures.append(.init(candidate: candidate.name, endpoint: endpoint.displayName, error: error.code.description))
                    metrics.recordFallback(from: entry.name, reason: error.code.description)
                    logger.debug(
                        "Provider attempt failed, moving on",
                        metadata: ["provider": "\(entry.name)", "endpoint": "\(endpoint.displayName)", "error.code": "\(error.code)"])
                    lastError = error
                    if let wait = error.retryAfter { retryAfter = min(retryAfter ?? wait, wait) }
                } catch let error as ProviderError where error.code == .contextLengthExceeded {
                    pool.finish(index, .succeeded(latency: nil), at: clock.now())
                    failures.append(.init(candidate: candidate.name, endpoint: endpoint.displayName, error: error.code.description))
                    metrics.recordFallback(from: entry.name, reason: error.code.description)
                    windowFloor = max(windowFloor ?? 0, candidate.capabilities.contextWindow ?? admission.request.route.estimatedInputTokens)
                    lastError = error
                    break
                } catch let error as ProviderError where error.code == .cancelled {
                    pool.finish(index, .abandoned, at: clock.now())
                    throw error
                } catch is CancellationError {
                    pool.finish(index, .abandoned, at: clock.now())
                    throw ProviderError(code: .cancelled, message: "The request was cancelled.", provider: entry.name)
                } catch {
                    // Not the endpoint's fault (a bad request, a refused key): returned, not sprayed over other providers.
                    pool.finish(index, .succeeded(latency: nil), at: clock.now())
                    throw error
                }
            }
            if tried.isEmpty {
                let reason = candidate.maximumLoad != nil && pool.isAvailable(at: clock.now()) ? "max_load" : "circuit_open"
                failures.append(.init(candidate: candidate.name, endpoint: "-", error: reason))
                if let reopening = pool.earliestReopening(at: clock.now()) { retryAfter = min(retryAfter ?? reopening, reopening) }
            }
        }
        // One attempt: its own error says it best (a 429 with its retry-after, say).
        if failures.count == 1, let lastError { throw lastError }
        if failures.isEmpty {
            throw RoutingError(code: .noProviderAvailable, message: "No candidate could be tried for this request.")
        }
        throw Self.exhausted(failures, retryAfter: retryAfter)
    }

    /// Ends a stream's hold on its endpoint (see ``runFallbackChain(_:holdingEndpoint:_:)``).
    func release(_ attempt: Attempt, _ outcome: EndpointPool.Outcome) {
        guard let pool = pools[attempt.candidate.provider] else { return }
        if let changed = pool.finish(attempt.endpointIndex, outcome, at: clock.now()) {
            metrics.recordCircuit(provider: attempt.candidate.provider, endpoint: attempt.endpoint, state: changed)
        }
    }

    static func exhausted(_ failures: [RoutingError.Attempt], retryAfter: Duration?) -> RoutingError {
        let wait = retryAfter.map { max(1, Int($0.seconds.rounded(.up))) } ?? 5
        let tried = failures.map { "\($0.candidate) at \($0.endpoint) (\($0.error))" }.joined(separator: ", ")
        var error = RoutingError(
            code: .allCandidatesFailed, message: "Every provider for this request failed: \(tried). Retry in \(wait) s.")
        error.attempts = failures
        error.retryAfter = .seconds(wait)
        return error
    }

    /// Opens a stream and waits for its first event, so a stream cut before its first byte can still fall back.
    static func openStream(_ client: any ChatProvider, _ request: ChatRequest) async throws -> (ChatStream, firstEventLatency: Duration?) {
        let started = ContinuousClock.now
        let upstream = try await client.streamChat(request)
        let (relay, continuation) = ChatStream.makeStream()
        let first = FirstEventSignal()
        let task = Task {
            do {
                for try await event in upstream {
                    first.resume(with: .success(()))
                    continuation.yield(event)
                }
                // A stream also ends early when the caller is cancelled: that says nothing about the upstream.
                first.resume(
                    with: .failure(
                        Task.isCancelled
                            ? CancellationError()
                            : ProviderError.malformedResponse(provider: client.name, reason: "the stream ended without an event")))
                continuation.finish()
            } catch {
                first.resume(with: .failure(error))
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await first.wait()
            } onCancel: {
                task.cancel()
            }
        } catch {
            task.cancel()
            throw error
        }
        return (relay, ContinuousClock.now - started)
    }

    /// A cached answer as a stream: its text in word-sized pieces, then the end.
    static func replay(_ cached: CachedAnswer) -> ChatStream {
        ChatStream { continuation in
            var piece = ""
            for character in cached.text {
                piece.append(character)
                if character == " " && piece.count >= 16 {
                    continuation.yield(.delta(piece))
                    piece = ""
                }
            }
            if !piece.isEmpty { continuation.yield(.delta(piece)) }
            continuation.yield(.end(finishReason: cached.finishReason, usage: cached.usage))
            continuation.finish()
        }
    }

    /// What `usage` costs at the catalogue's prices, in USD.
    public static func cost(of usage: TokenUsage, capabilities: ModelCapabilities) -> Double {
        (Double(usage.inputTokens) * capabilities.inputPricePer1K + Double(usage.outputTokens) * capabilities.outputPricePer1K) / 1000
    }

    // MARK: Records

    func finishRecord(_ admission: Admission, attempt: Attempt, usage tokens: TokenUsage, cost: Double, latency: Duration, status: String) {
        metrics.recordRequest(
            provider: attempt.candidate.provider, model: metricLabel(attempt.candidate), status: status, latency: latency,
            usage: (tokens.inputTokens, tokens.outputTokens), costUSD: cost, cacheHit: false, fallbacks: attempt.attempted)
        usage.record(
            UsageRecord(
                date: clock.date(), tenant: admission.request.route.tenant, provider: attempt.candidate.provider,
                model: attempt.candidate.model, endpoint: attempt.endpoint, inputTokens: tokens.inputTokens,
                outputTokens: tokens.outputTokens, costUSD: cost, latencyMilliseconds: latency.milliseconds, cacheHit: false,
                fallbacks: attempt.attempted, status: status, strategy: admission.plan.strategy))
    }

    /// A stream that stopped before its end: the tokens produced so far (estimated) are charged and recorded.
    func chargePartial(_ admission: Admission, attempt: Attempt, text: String, status: String, started: Duration) async {
        let usage = TokenUsage(inputTokens: admission.request.route.estimatedInputTokens, outputTokens: (text.utf8.count + 3) / 4)
        let cost = Self.cost(of: usage, capabilities: attempt.candidate.capabilities)
        await settle(admission, costUSD: cost)
        finishRecord(admission, attempt: attempt, usage: usage, cost: cost, latency: clock.now() - started, status: status)
    }

    /// The model as a metric label: catalogue and default models by name, any other `other`, so that requests naming
    /// arbitrary models cannot grow the label set without bound.
    func metricLabel(_ candidate: RouteCandidate) -> String {
        registry.isKnown(provider: candidate.provider, model: candidate.model) ? candidate.model : "other"
    }

    func failRecord(_ admission: Admission, error: any Error, latency: Duration) {
        let status = Self.statusCode(of: error)
        let first = admission.plan.candidates.first
        let provider = (error as? ProviderError)?.provider ?? first?.provider ?? "-"
        metrics.recordRequest(
            provider: first?.provider ?? "-", model: first.map(metricLabel) ?? "-", status: status, latency: latency, usage: (0, 0),
            costUSD: 0, cacheHit: false,
            fallbacks: (error as? RoutingError)?.attempts.count ?? 0)
        usage.record(
            UsageRecord(
                date: clock.date(), tenant: admission.request.route.tenant, provider: provider, model: first?.model ?? "-", endpoint: "-",
                inputTokens: 0, outputTokens: 0, costUSD: 0, latencyMilliseconds: latency.milliseconds, cacheHit: false,
                fallbacks: (error as? RoutingError)?.attempts.count ?? 0, status: status, strategy: admission.plan.strategy))
    }

    /// A request refused before any call (rate limit, plan, budget): counted, and recorded with what it asked for.
    func rejectRecord(_ route: RouteRequest, status: String) {
        metrics.recordRequest(
            provider: "-", model: "-", status: status, latency: nil, usage: (0, 0), costUSD: 0, cacheHit: false, fallbacks: 0)
        // What was asked for, as far as it is known before routing: `provider/model`, a model, or `auto`.
        let named = route.provider.flatMap { $0 == "auto" || $0.isEmpty ? nil : $0 }
        var provider = named ?? "-"
        var model = route.model.flatMap { $0.isEmpty ? nil : $0 } ?? "auto"
        if let named, model.hasPrefix(named + "/") { model = String(model.dropFirst(named.count + 1)) }
        if let slash = model.firstIndex(of: "/"), named == nil {
            provider = String(model[..<slash])
            model = String(model[model.index(after: slash)...])
        }
        usage.record(
            UsageRecord(
                date: clock.date(), tenant: route.tenant, provider: provider, model: model, endpoint: "-",
                inputTokens: 0, outputTokens: 0, costUSD: 0, latencyMilliseconds: 0, cacheHit: false, fallbacks: 0, status: status,
                strategy: route.strategy))
    }

    static func statusCode(of error: any Error) -> String {
        switch error {
        case let error as ProviderError: error.code.description
        case let error as RoutingError: error.code.rawValue
        default: "internal_error"
        }
    }
}

/// Resumes one waiter with the first of several results.
final class FirstEventSignal: Sendable {
    private let state = Mutex<(result: Result<Void, any Error>?, waiter: CheckedContinuation<Void, any Error>?)>((nil, nil))

    func resume(with result: Result<Void, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Void, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
