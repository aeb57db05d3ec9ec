import Providers
import Routing

/// Writes the answer to a grounded request (question plus numbered sources) for a tenant.
public protocol GroundedAnswerer: Sendable {
    func answer(_ request: ChatRequest, tenant: String) async throws -> ChatResponse
    /// Answers under `route`'s strategy, requirements and locality; returns the answer and its cost in USD.
    func answer(_ request: ChatRequest, route: AnswerRoute) async throws -> (ChatResponse, costUSD: Double?)
    /// Answers under `route` as a stream; any refusal (rate limit, budget, requirements) is thrown before it starts.
    func stream(_ request: ChatRequest, route: AnswerRoute) async throws -> AnswerStream
    /// Whether a language model answers (and so can rewrite a follow-up into a standalone question); `false` for the
    /// extractive answerer, which would only echo it.
    var isLanguageModel: Bool { get }
}

/// How a chat answer is routed: the tenant, the request's strategy and requirements, and whether only a local
/// provider may see the prompt.
public struct AnswerRoute: Sendable, Equatable {
    public var tenant: String
    public var strategy: String?
    public var requirements: RouteRequest.Requirements?
    /// The prompt holds a private document's text: only a local provider may answer, whatever the strategy.
    public var requireLocal: Bool
    /// The most output tokens wanted (a question rewrite needs few).
    public var maximumTokens: Int?

    public init(
        tenant: String, strategy: String? = nil, requirements: RouteRequest.Requirements? = nil, requireLocal: Bool = false,
        maximumTokens: Int? = nil
    ) {
        self.tenant = tenant
        self.strategy = strategy
        self.requirements = requirements
        self.requireLocal = requireLocal
        self.maximumTokens = maximumTokens
    }
}

/// A streamed answer: its events, who answers, and what it costs once its usage is known.
public struct AnswerStream: Sendable {
    public var events: ChatStream
    public var provider: String
    public var model: String
    /// USD for `usage` at the answering model's prices.
    public var cost: @Sendable (TokenUsage) -> Double?

    public init(events: ChatStream, provider: String, model: String, cost: @escaping @Sendable (TokenUsage) -> Double?) {
        self.events = events
        self.provider = provider
        self.model = model
        self.cost = cost
    }
}

extension GroundedAnswerer {
    public func answer(_ request: ChatRequest, route: AnswerRoute) async throws -> (ChatResponse, costUSD: Double?) {
        (try await answer(request, tenant: route.tenant), nil)
    }

    /// The whole answer as one delta, for answerers that cannot stream.
    public func stream(_ request: ChatRequest, route: AnswerRoute) async throws -> AnswerStream {
        let (response, cost) = try await answer(request, route: route)
        let events = ChatStream { continuation in
            continuation.yield(.delta(response.text))
            continuation.yield(.end(finishReason: response.finishReason, usage: response.usage))
            continuation.finish()
        }
        return AnswerStream(events: events, provider: response.provider, model: response.model, cost: { _ in cost })
    }

    public var isLanguageModel: Bool { false }
}

/// One provider, called directly: the CLI's `ask` and tests.
public struct DirectAnswerer: GroundedAnswerer {
    public let provider: any ChatProvider

    public init(provider: any ChatProvider) {
        self.provider = provider
    }

    public func answer(_ request: ChatRequest, tenant: String) async throws -> ChatResponse {
        try await provider.chat(request)
    }

    public func stream(_ request: ChatRequest, route: AnswerRoute) async throws -> AnswerStream {
        let model = provider is ExtractiveAnswerer ? ExtractiveAnswerer.modelName : (request.model ?? provider.name)
        return AnswerStream(events: try await provider.streamChat(request), provider: provider.name, model: model) { _ in nil }
    }

    public var isLanguageModel: Bool { !(provider is ExtractiveAnswerer) }
}

/// Answers through the router, so grounded answers get the tenant's rate limit, budget, fallbacks, usage records
/// and the response cache — keyed by the sources too, so a cached answer changes when the knowledge does.
public struct RoutedAnswerer: GroundedAnswerer {
    public let router: AIRouter
    /// `local` (the extractive answerer, the default), `provider/model`, or `auto` for the tenant's strategy.
    public let model: String

    public init(router: AIRouter, model: String = "local") {
        self.router = router
        self.model = model
    }

    public func answer(_ request: ChatRequest, tenant: String) async throws -> ChatResponse {
        try await answer(request, route: AnswerRoute(tenant: tenant)).0
    }

    public func answer(_ request: ChatRequest, route: AnswerRoute) async throws -> (ChatResponse, costUSD: Double?) {
        let (response, outcome) = try await router.chat(routed(request, route))
        return (response, outcome.costUSD)
    }

    public func stream(_ request: ChatRequest, route: AnswerRoute) async throws -> AnswerStream {
        let (events, outcome) = try await router.stream(routed(request, route))
        let capabilities = router.registry.capabilities(provider: outcome.provider, model: outcome.model)
        // A cached answer costs nothing.
        let cached = outcome.cache == .hit
        return AnswerStream(events: events, provider: outcome.provider, model: outcome.model) { usage in
            cached ? 0 : AIRouter.cost(of: usage, capabilities: capabilities)
        }
    }

    public var isLanguageModel: Bool { model != "local" }

    func routed(_ request: ChatRequest, _ route: AnswerRoute) -> RoutedChatRequest {
        var request = request
        if let maximumTokens = route.maximumTokens { request.maximumTokens = maximumTokens }
        var routeRequest = RouteRequest(
            tenant: route.tenant, model: model, strategy: route.strategy, requirements: route.requirements,
            estimatedInputTokens: RoutePlanner.estimateTokens(request.messages), maximumOutputTokens: request.maximumTokens)
        routeRequest.requireLocal = route.requireLocal
        return RoutedChatRequest(chat: request, route: routeRequest)
    }
}
