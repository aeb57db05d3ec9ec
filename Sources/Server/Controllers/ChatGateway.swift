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
                let response = try await resolution.entry.chat.chat(routed)
                return (response, Route(provider: resolution.entry.name, model: resolution.model, fallbacks: attempted))
            } catch let error as ProviderError where error.isRetryable || error.code == .disabled {
                attempted.append(resolution.entry.name)
                lastError = error
            }
        }
        throw lastError ?? RoutingError(code: .noProviderAvailable, message: "No provider could answer.")
    }

    /// Opens a stream with the resolved provider (falling back, as ``chat(_:provider:model:fallbacks:)``, only
    /// before the stream opens).
    func stream(_ request: ChatRequest, provider: String?, model: String?, fallbacks: [String] = []) async throws
        -> (ChatStream, Route)
    {
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
                let stream = try await resolution.entry.chat.streamChat(routed)
                return (stream, Route(provider: resolution.entry.name, model: resolution.model, fallbacks: attempted))
            } catch let error as ProviderError where error.isRetryable || error.code == .disabled {
                attempted.append(resolution.entry.name)
                lastError = error
            }
        }
        throw lastError ?? RoutingError(code: .noProviderAvailable, message: "No provider could answer.")
    }
}
