import Providers
import Testing

@testable import Routing

/// A provider that answers with its own name and lists fixed models.
struct NamedProvider: ChatProvider {
    let name: String
    let models: [String]

    func chat(_ request: ChatRequest) async throws -> ChatResponse {
        ChatResponse(
            text: "\(name):\(request.model ?? "-")", finishReason: .stop, usage: .init(inputTokens: 1, outputTokens: 1),
            provider: name, model: request.model ?? "-", endpoint: "test", latency: .zero)
    }

    func listModels() async throws -> [ModelInfo] { models.map { ModelInfo(id: $0) } }
}

@Suite struct ProviderRegistryTests {
    let registry = ProviderRegistry(
        entries: [
            .init(
                name: "ollama", kind: .ollama, chat: NamedProvider(name: "ollama", models: ["llama3.2", "qwen2.5"]),
                embeddings: nil, capabilities: .init(chat: true, streaming: true, embeddings: true, isLocal: true),
                defaultModel: "llama3.2"),
            .init(
                name: "openai", kind: .openai, chat: NamedProvider(name: "openai", models: ["gpt-4o-mini"]),
                embeddings: nil, capabilities: .init(chat: true, streaming: true, embeddings: true, isLocal: false),
                defaultModel: nil),
            .init(
                name: "anthropic", kind: .disabled, chat: DisabledProvider(name: "anthropic"), embeddings: nil,
                capabilities: .init(chat: false, streaming: false, embeddings: false, isLocal: false), defaultModel: nil),
        ],
        catalogue: [ModelCapabilities(provider: "openai", model: "gpt-4o", inputPricePer1K: 0.0025)])

    @Test func providerSlashModelPicksBoth() async throws {
        let resolution = try await registry.resolve(provider: nil, model: "openai/gpt-4o-mini")
        #expect(resolution.entry.name == "openai" && resolution.model == "gpt-4o-mini")
    }

    @Test func modelNamesWithSlashesStayWholeWhenThePrefixIsNoProvider() async throws {
        let error = await #expect(throws: RoutingError.self) {
            try await registry.resolve(provider: nil, model: "meta-llama/Llama-3-8B")
        }
        #expect(error?.code == .unknownModel)
    }

    @Test func bareNamesResolveThroughTheCatalogueThenTheProvidersModelLists() async throws {
        #expect(try await registry.resolve(provider: nil, model: "gpt-4o").entry.name == "openai")
        #expect(try await registry.resolve(provider: nil, model: "qwen2.5").entry.name == "ollama")
    }

    @Test func autoTakesTheFirstEnabledProviderWithAModel() async throws {
        let resolution = try await registry.resolve(provider: "auto", model: "auto")
        #expect(resolution.entry.name == "ollama" && resolution.model == "llama3.2")
    }

    @Test func anExplicitProviderWithoutModelUsesItsDefaultOrAsks() async throws {
        #expect(try await registry.resolve(provider: "ollama", model: nil).model == "llama3.2")
        // No default_model: the provider's first catalogue entry.
        #expect(try await registry.resolve(provider: "openai", model: nil).model == "gpt-4o")
        let bare = ProviderRegistry(entries: registry.entries, catalogue: [])
        let error = await #expect(throws: RoutingError.self) { try await bare.resolve(provider: "openai", model: nil) }
        #expect(error?.code == .modelRequired)
    }

    @Test func unknownProvidersAreNamedInTheError() async throws {
        let error = await #expect(throws: RoutingError.self) { try await registry.resolve(provider: "mistral", model: "x") }
        #expect(error?.code == .unknownProvider)
        #expect(error?.message.contains("ollama, openai, anthropic") == true)
    }

    @Test func aDisabledProviderFailsWithoutANetworkCall() async throws {
        let resolution = try await registry.resolve(provider: "anthropic", model: "claude-3-haiku-20240307")
        let error = await #expect(throws: ProviderError.self) {
            try await resolution.entry.chat.chat(ChatRequest(messages: [.init(role: .user, content: "hi")]))
        }
        #expect(error?.code == .disabled)
    }

    @Test func autoPicksTheNativeModelOnlyWhenItIsInstalled() throws {
        let withoutModel = ProviderRegistry(entries: [], catalogue: [], modelDirectory: "/nonexistent/all-minilm-l6-v2")
        #expect(try withoutModel.embedder(named: "auto").model.name == "local-hash-512")
    }

    @Test func embeddersNeedKnownDimensions() throws {
        #expect(try registry.embedder(named: "local").model.dimensions == 512)
        #expect(throws: RoutingError.self) { try registry.embedder(named: "nowhere/model") }
    }
}
