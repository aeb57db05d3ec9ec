import Foundation
import Providers

extension RoutingConfiguration {
    /// Providers configured from the environment the way their own SDKs read it: `OLLAMA_HOST`;
    /// `OPENAI_API_KEY`, `OPENAI_BASE_URL`; `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`; `GEMINI_API_KEY` (or
    /// `GOOGLE_API_KEY`), `GOOGLE_GEMINI_BASE_URL`. A provider with neither key nor host set is disabled.
    public static func fromEnvironment(_ environment: [String: String]) -> RoutingConfiguration {
        var configuration = RoutingConfiguration()
        configuration.providers = environmentProviders(environment)
        if let model = environment["UNITY_AI_EMBEDDING_MODEL"], !model.isEmpty { configuration.embeddingModel = model }
        return configuration
    }

    static func environmentProviders(_ environment: [String: String]) -> [Provider] {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var providers: [Provider] = []

        if let host = value("OLLAMA_HOST") {
            var endpoint = Endpoint(url: ollamaURL(host))
            endpoint.apiKey = value("OLLAMA_API_KEY").map(Secret.init)
            endpoint.apiKeyVariable = "OLLAMA_API_KEY"
            providers.append(Provider(name: "ollama", kind: .ollama, endpoints: [endpoint]))
        } else {
            providers.append(Provider(name: "ollama", kind: .disabled, endpoints: []))
        }

        let openAIKey = value("OPENAI_API_KEY")
        let openAIBase = value("OPENAI_BASE_URL")
        if openAIKey != nil || openAIBase != nil {
            providers.append(
                Provider(
                    name: "openai", kind: .openai,
                    endpoints: [
                        Endpoint(
                            url: openAIBase ?? "https://api.openai.com/v1", apiKey: openAIKey.map(Secret.init),
                            apiKeyVariable: "OPENAI_API_KEY")
                    ]))
        } else {
            providers.append(Provider(name: "openai", kind: .disabled, endpoints: []))
        }

        let anthropicKey = value("ANTHROPIC_API_KEY") ?? value("ANTHROPIC_AUTH_TOKEN")
        let anthropicBase = value("ANTHROPIC_BASE_URL")
        if anthropicKey != nil || anthropicBase != nil {
            providers.append(
                Provider(
                    name: "anthropic", kind: .anthropic,
                    endpoints: [
                        Endpoint(
                            url: anthropicBase ?? "https://api.anthropic.com", apiKey: anthropicKey.map(Secret.init),
                            apiKeyVariable: "ANTHROPIC_API_KEY")
                    ]))
        } else {
            providers.append(Provider(name: "anthropic", kind: .disabled, endpoints: []))
        }

        let geminiKey = value("GEMINI_API_KEY") ?? value("GOOGLE_API_KEY")
        let geminiBase = value("GOOGLE_GEMINI_BASE_URL")
        if geminiKey != nil || geminiBase != nil {
            var provider = Provider(
                name: "google", kind: .gemini,
                endpoints: [
                    Endpoint(
                        url: geminiBase ?? "https://generativelanguage.googleapis.com",
                        apiKey: geminiKey.map(Secret.init),
                        apiKeyVariable: value("GEMINI_API_KEY") != nil ? "GEMINI_API_KEY" : "GOOGLE_API_KEY")
                ])
            provider.apiVersion = value("GOOGLE_GENAI_API_VERSION")
            providers.append(provider)
        } else {
            providers.append(Provider(name: "google", kind: .disabled, endpoints: []))
        }
        return providers
    }

    /// `OLLAMA_HOST` as ollama-python reads it: `host`, `host:port`, or a URL; port 11434 by default.
    static func ollamaURL(_ host: String) -> String {
        var value = host.trimmingCharacters(in: .whitespaces)
        if !value.contains("://") { value = "http://" + value }
        guard var components = URLComponents(string: value) else { return value }
        if components.host == nil || components.host == "" || components.host == "0.0.0.0" { components.host = "127.0.0.1" }
        if components.port == nil { components.port = value.hasPrefix("https://") ? 443 : 11434 }
        var url = components.string ?? value
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The file's providers, completed by the environment's for names the file does not mention.
    public func mergingEnvironmentProviders(_ environment: [String: String]) -> RoutingConfiguration {
        var merged = self
        for provider in Self.environmentProviders(environment) where merged.provider(named: provider.name) == nil {
            merged.providers.append(provider)
        }
        return merged
    }
}
