import Providers

extension ProviderRegistry {
    /// The registry: configured providers in order (disabled ones answer "disabled" without a network call), then
    /// the built-in `local` provider.
    public static func make(configuration: RoutingConfiguration, transport: ProviderTransport) -> ProviderRegistry {
        var entries: [ProviderRegistry.Entry] = []
        for provider in configuration.providers {
            // One endpoint per provider until the router balances several.
            guard provider.kind != .disabled, provider.kind != .local, let first = provider.endpoints.first else {
                let disabled = DisabledProvider(name: provider.name)
                entries.append(
                    Entry(
                        name: provider.name, kind: .disabled, chat: disabled, embeddings: nil,
                        capabilities: .init(chat: false, streaming: false, embeddings: false, isLocal: false),
                        defaultModel: nil))
                continue
            }
            let endpoint = ProviderEndpoint(baseURL: first.url, apiKey: first.apiKey, timeouts: provider.timeouts)
            let built: (chat: any ChatProvider, embeddings: (any EmbeddingsAPI)?, capabilities: ProviderCapabilities)
            switch provider.kind {
            case .ollama:
                var settings = OllamaProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                settings.keepAlive = provider.keepAlive
                let ollama = OllamaProvider(configuration: settings, transport: transport)
                built = (ollama, ollama, ollama.capabilities)
            case .openai:
                var settings = OpenAIProvider.Configuration(
                    endpoint: endpoint, defaultModel: provider.defaultModel, name: provider.name)
                if let variable = first.apiKeyVariable { settings.apiKeySource = variable }
                let openAI = OpenAIProvider(configuration: settings, transport: transport)
                built = (openAI, openAI, openAI.capabilities)
            case .anthropic:
                var settings = AnthropicProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                if let version = provider.apiVersion { settings.apiVersion = version }
                let anthropic = AnthropicProvider(configuration: settings, transport: transport)
                built = (anthropic, nil, anthropic.capabilities)
            case .gemini:
                var settings = GeminiProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                if let version = provider.apiVersion { settings.apiVersion = version }
                let gemini = GeminiProvider(configuration: settings, transport: transport)
                built = (gemini, gemini, gemini.capabilities)
            case .disabled, .local:
                continue  // handled above
            }
            entries.append(
                Entry(
                    name: provider.name, kind: provider.kind, chat: built.chat, embeddings: built.embeddings,
                    capabilities: built.capabilities, defaultModel: provider.defaultModel))
        }
        entries.append(
            Entry(
                name: "local", kind: .local, chat: ExtractiveAnswerer(), embeddings: nil,
                capabilities: .init(chat: true, streaming: false, embeddings: true, isLocal: true),
                defaultModel: ExtractiveAnswerer.modelName))
        return ProviderRegistry(entries: entries, catalogue: configuration.models)
    }
}
