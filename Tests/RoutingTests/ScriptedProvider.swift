import Providers
import Synchronization

@testable import Routing

/// A chat provider whose answers a test scripts: each call runs `behaviour` and is counted.
final class ScriptedProvider: ChatProvider, Sendable {
    enum Behaviour: Sendable {
        case answer(String)
        case fail(ProviderError)
        /// A stream that fails before its first event.
        case cutStream
        /// A stream that sends one piece and then waits (for a minute, or until it is cancelled).
        case stallAfter(String)
    }

    let name: String
    private let state: Mutex<(behaviour: Behaviour, calls: Int, models: [String?])>

    init(name: String, _ behaviour: Behaviour = .answer("ok")) {
        self.name = name
        state = Mutex((behaviour, 0, []))
    }

    var calls: Int { state.withLock { $0.calls } }
    var models: [String?] { state.withLock { $0.models } }

    func set(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }

    private func next(_ request: ChatRequest) -> Behaviour {
        state.withLock {
            $0.calls += 1
            $0.models.append(request.model)
            return $0.behaviour
        }
    }

    func chat(_ request: ChatRequest) async throws -> ChatResponse {
        switch next(request) {
        case .answer(let text):
            return ChatResponse(
                text: text, finishReason: .stop, usage: TokenUsage(inputTokens: 1000, outputTokens: 500), provider: name,
                model: request.model ?? "?", endpoint: "scripted", latency: .milliseconds(1))
        case .fail(let error):
            throw error
        case .cutStream, .stallAfter:
            throw ProviderError.malformedResponse(provider: name, reason: "cut")
        }
    }

    func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        switch next(request) {
        case .answer(let text):
            return ChatStream { continuation in
                for word in text.split(separator: " ") { continuation.yield(.delta(String(word) + " ")) }
                continuation.yield(.end(finishReason: .stop, usage: TokenUsage(inputTokens: 10, outputTokens: 5)))
                continuation.finish()
            }
        case .fail(let error):
            throw error
        case .stallAfter(let text):
            return ChatStream { continuation in
                continuation.yield(.delta(text))
                let wait = Task {
                    try? await Task.sleep(for: .seconds(60))
                    continuation.finish()
                }
                continuation.onTermination = { _ in wait.cancel() }
            }
        case .cutStream:
            // The response head arrived; the body is cut before the first event.
            return ChatStream { continuation in
                continuation.finish(throwing: ProviderError(code: .connectionFailed, message: "cut", provider: self.name))
            }
        }
    }

    func checkHealth() async throws {
        if case .fail(let error) = state.withLock({ $0.behaviour }) { throw error }
    }
}

extension ProviderError {
    static func server(_ provider: String) -> ProviderError {
        ProviderError(code: .upstreamServerError, message: "500", provider: provider, status: 500)
    }
}

/// A registry of scripted providers: `(name, isLocal, endpoints)`.
func scriptedRegistry(
    _ providers: [(name: String, local: Bool, endpoints: [ScriptedProvider])], catalogue: [ModelCapabilities],
    loadBalancing: RoutingConfiguration.LoadBalancing = .roundRobin, health: RoutingConfiguration.Health = .init(),
    embeddings: [String: [any EmbeddingsAPI]] = [:], clock: any RouterClock = SystemRouterClock()
) -> ProviderRegistry {
    let entries = providers.map { provider in
        ProviderRegistry.Entry(
            name: provider.name, kind: provider.local ? .ollama : .openai,
            endpoints: provider.endpoints.enumerated().map { index, client in
                ProviderRegistry.EndpointClient(
                    displayName: "http://\(provider.name)-\(index)", chat: client,
                    embeddings: embeddings[provider.name].flatMap { index < $0.count ? $0[index] : nil })
            },
            capabilities: ProviderCapabilities(
                chat: true, streaming: true, embeddings: embeddings[provider.name] != nil, isLocal: provider.local),
            defaultModel: nil, loadBalancing: loadBalancing)
    }
    return ProviderRegistry(
        entries: entries, catalogue: catalogue, modelDirectory: "/nonexistent",
        breaker: .init(failureThreshold: health.failureThreshold, cooldown: health.cooldown), clock: clock)
}
