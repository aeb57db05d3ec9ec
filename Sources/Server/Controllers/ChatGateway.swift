import Foundation
import Providers
import Routing

/// Sends chat requests to the provider the registry resolves, with the seed API's simple fallback list, and
/// reports the route taken. (The router issue replaces the fallback list with strategies and fallback chains.)
struct ChatGateway: Sendable {
    let registry: ProviderRegistry

    /// The provider, model and endpoint that answered, for `x-unity-route`.
    struct Route: Sendable {
        var provider: String
        var model: String
        var fallbacks: [String]

        var header: String { "\(provider)/\(model)" }
    }

    /// Answers `request` with the resolved provider, then each fallback provider in turn while the failure is
    /// retryable (connection, timeout, 429, 5xx); other failures are returned at once.
    func chat(_ request: ChatRequest, provider: String?, model: String?, fallbacks: [String] = []) async throws
        -> (ChatResponse, Route)
    {
        try await withFallback(request, provider: provider, model: model, fallbacks: fallbacks) { entry, routed in
            try await entry.chat.chat(routed)
        }
    }

    /// Opens a stream with the resolved provider, falling back as ``chat(_:provider:model:fallbacks:)`` does, but
    /// only until the stream opens.
    func stream(_ request: ChatRequest, provider: String?, model: String?, fallbacks: [String] = []) async throws
        -> (ChatStream, Route)
    {
        try await withFallback(request, provider: provider, model: model, fallbacks: fallbacks) { entry, routed in
            try await entry.chat.streamChat(routed)
        }
    }

    /// Tries the requested provider, then the fallbacks (each with its default model), while failures are retryable.
    private func withFallback<Result: Sendable>(
        _ request: ChatRequest, provider: String?, model: String?, fallbacks: [String],
        _ call: (ProviderRegistry.Entry, ChatRequest) async throws -> Result
    ) async throws -> (Result, Route) {
        var attempted: [String] = []
        var lastError: (any Error)?
        for (index, candidate) in ([provider] + fallbacks.map { Optional($0) }).enumerated() {
            let resolution: ProviderRegistry.Resolution
            do {
                resolution = try await registry.resolve(provider: candidate, model: index == 0 ? model : nil)
            } catch {
                if index == 0 { throw error }
                lastError = error
                continue
            }
            var routed = request
            routed.model = resolution.model
            do {
                let result = try await call(resolution.entry, routed)
                return (result, Route(provider: resolution.entry.name, model: resolution.model, fallbacks: attempted))
            } catch let error as ProviderError where error.isRetryable || error.code == .disabled {
                attempted.append(resolution.entry.name)
                lastError = error
            }
        }
        throw lastError ?? RoutingError(code: .noProviderAvailable, message: "No provider could answer.")
    }
}
