import Providers
import Routing

/// Writes the answer to a grounded request (question plus numbered sources) for a tenant.
public protocol GroundedAnswerer: Sendable {
    func answer(_ request: ChatRequest, tenant: String) async throws -> ChatResponse
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
        let route = RouteRequest(
            tenant: tenant, model: model, estimatedInputTokens: RoutePlanner.estimateTokens(request.messages),
            maximumOutputTokens: request.maximumTokens)
        return try await router.chat(RoutedChatRequest(chat: request, route: route)).0
    }
}
