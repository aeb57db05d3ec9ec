import Providers

extension ProviderRegistry {
    /// The registry: configured providers in order (disabled ones answer "disabled" without a network call), then
    /// the built-in `local` provider.
    /// - Parameter localAnswerer: the built-in `local` provider's answerer (with the appliance's sentence embedder
    ///   when it has a semantic one).
    public static func make(
        configuration: RoutingConfiguration, transport: ProviderTransport, localAnswerer: ExtractiveAnswerer = ExtractiveAnswerer()
    ) -> ProviderRegistry {
        var entries: [ProviderRegistry.Entry] = []
        for provider in configuration.providers {
            guard provider.kind != .disabled, provider.kind != .local, !provider.endpoints.isEmpty else {
                let disabled = DisabledProvider(name: provider.name)
                entries.append(
                    Entry(
                        name: provider.name, kind: .disabled,
                        endpoints: [EndpointClient(displayName: "disabled", chat: disabled, embeddings: nil)],
                        capabilities: .init(chat: false, streaming: false, embeddings: false, isLocal: false),
                        defaultModel: nil))
                continue
            }
            var clients: [EndpointClient] = []
            var capabilities: ProviderCapabilities?
            // The connect timeout belongs to the HTTP client's pool: a provider that sets its own gets its own client.
            let transport =
                provider.timeouts.connect == ProviderTimeouts().connect
                ? transport : ProviderTransport(connectTimeout: provider.timeouts.connect)
            for configured in provider.endpoints {
                let endpoint = ProviderEndpoint(baseURL: configured.url, apiKey: configured.apiKey, timeouts: provider.timeouts)
                let built = client(for: provider, endpoint: endpoint, keySource: configured.apiKeyVariable, transport: transport)
                capabilities = built.capabilities
                clients.append(
                    EndpointClient(
                        displayName: endpoint.displayName, chat: built.chat, embeddings: built.embeddings,
                        weight: configured.weight, maximumConcurrency: configured.maximumConcurrency))
            }
            entries.append(
                Entry(
                    name: provider.name, kind: provider.kind, endpoints: clients,
                    capabilities: capabilities ?? .init(chat: false, streaming: false, embeddings: false, isLocal: false),
                    defaultModel: provider.defaultModel, loadBalancing: provider.loadBalancing))
        }
        entries.append(
            Entry(
                name: "local", kind: .local,
                endpoints: [EndpointClient(displayName: "builtin", chat: localAnswerer, embeddings: nil)],
                capabilities: .init(chat: true, streaming: false, embeddings: true, isLocal: true),
                defaultModel: ExtractiveAnswerer.modelName))
        return ProviderRegistry(
            entries: entries, catalogue: configuration.models,
            breaker: .init(failureThreshold: configuration.health.failureThreshold, cooldown: configuration.health.cooldown))
    }

    /// The client for one endpoint of `provider`.
    private static func client(
        for provider: RoutingConfiguration.Provider, endpoint: ProviderEndpoint, keySource: String?,
        transport: ProviderTransport
    ) -> (chat: any ChatProvider, embeddings: (any EmbeddingsAPI)?, capabilities: ProviderCapabilities) {
        switch provider.kind {
        case .ollama:
            var settings = OllamaProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
            settings.name = provider.name
            settings.keepAlive = provider.keepAlive
            let ollama = OllamaProvider(configuration: settings, transport: transport)
            return (ollama, ollama, ollama.capabilities)
        case .openai:
            var settings = OpenAIProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel, name: provider.name)
            if let keySource { settings.apiKeySource = keySource }
            let openAI = OpenAIProvider(configuration: settings, transport: transport)
            return (openAI, openAI, openAI.capabilities)
        case .anthropic:
            var settings = AnthropicProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
            settings.name = provider.name
            if let version = provider.apiVersion { settings.apiVersion = version }
            let anthropic = AnthropicProvider(configuration: settings, transport: transport)
            return (anthropic, nil, anthropic.capabilities)
        case .gemini:
            var settings = GeminiProvider.Configuration(endpoint: endpoint, defaultModel: provider.defaultModel)
            settings.name = provider.name
            if let version = provider.apiVersion { settings.apiVersion = version }
            let gemini = GeminiProvider(configuration: settings, transport: transport)
            return (gemini, gemini, gemini.capabilities)
        case .disabled, .local:
            let disabled = DisabledProvider(name: provider.name)
            return (disabled, nil, .init(chat: false, streaming: false, embeddings: false, isLocal: false))
        }
    }
}
