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
            switch provider.kind {
            case .ollama:
                var settings = OllamaProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                settings.keepAlive = provider.keepAlive
                let ollama = OllamaProvider(configuration: settings, transport: transport)
                entries.append(
                    Entry(
                        name: provider.name, kind: .ollama, chat: ollama, embeddings: ollama,
                        capabilities: ollama.capabilities, defaultModel: provider.defaultModel))
            case .openai:
                var settings = OpenAIProvider.Configuration(
                    endpoint: endpoint, defaultModel: provider.defaultModel, name: provider.name)
                if let variable = first.apiKeyVariable { settings.apiKeySource = variable }
                let openAI = OpenAIProvider(configuration: settings, transport: transport)
                entries.append(
                    Entry(
                        name: provider.name, kind: .openai, chat: openAI, embeddings: openAI,
                        capabilities: openAI.capabilities, defaultModel: provider.defaultModel))
            case .anthropic:
                var settings = AnthropicProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                if let version = provider.apiVersion { settings.apiVersion = version }
                let anthropic = AnthropicProvider(configuration: settings, transport: transport)
                entries.append(
                    Entry(
                        name: provider.name, kind: .anthropic, chat: anthropic, embeddings: nil,
                        capabilities: anthropic.capabilities, defaultModel: provider.defaultModel))
            case .gemini:
                var settings = GeminiProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
                settings.name = provider.name
                if let version = provider.apiVersion { settings.apiVersion = version }
                let gemini = GeminiProvider(configuration: settings, transport: transport)
                entries.append(
                    Entry(
                        name: provider.name, kind: .gemini, chat: gemini, embeddings: gemini,
                        capabilities: gemini.capabilities, defaultModel: provider.defaultModel))
            case .disabled, .local:
                break
            }
        }
        entries.append(
            Entry(
                name: "local", kind: .local, chat: ExtractiveAnswerer(), embeddings: nil,
                capabilities: .init(chat: true, streaming: false, embeddings: true, isLocal: true),
                defaultModel: ExtractiveAnswerer.modelName))
        return ProviderRegistry(entries: entries, catalogue: configuration.models)
    }

}
