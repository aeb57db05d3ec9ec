import Foundation
import Providers

/// The routing file (`ai_routing.yaml`): providers and their endpoints, the model catalogue, the embedding model,
/// and the seed's `routing:` block. Every section is optional; a file holding only `routing:` is valid and the
/// providers then come from the environment (see ``RoutingConfiguration/fromEnvironment(_:)``).
public struct RoutingConfiguration: Sendable, Equatable {
    /// The seed's `routing:` block.
    public struct Routing: Sendable, Equatable, Codable {
        /// The strategy used when a request names none. Defaults to `cost_optimized`.
        public var defaultStrategy: String = "cost_optimized"

        public init(defaultStrategy: String = "cost_optimized") {
            self.defaultStrategy = defaultStrategy
        }

        enum CodingKeys: String, CodingKey {
            case defaultStrategy = "default_strategy"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            defaultStrategy = try container.decodeIfPresent(String.self, forKey: .defaultStrategy) ?? "cost_optimized"
        }
    }

    /// The wire protocol a provider speaks.
    public enum ProviderKind: String, Sendable, Equatable, Codable, CaseIterable {
        case ollama, openai, anthropic, gemini, disabled
        /// The built-in extractive answerer and hashing embedder; always present, never configured.
        case local
    }

    /// One upstream of a provider.
    public struct Endpoint: Sendable, Equatable {
        public var url: String
        /// Share of the traffic relative to the provider's other endpoints. Defaults to 1.
        public var weight: Double = 1
        /// The API key; read from the environment variable the file names (`api_key_env`), never from the file.
        public var apiKey: Secret?
        /// The environment variable the key comes from, for messages.
        public var apiKeyVariable: String?
        /// Requests one endpoint may have in flight. Defaults to 16.
        public var maximumConcurrency: Int = 16

        public init(url: String, weight: Double = 1, apiKey: Secret? = nil, apiKeyVariable: String? = nil) {
            self.url = url
            self.weight = weight
            self.apiKey = apiKey
            self.apiKeyVariable = apiKeyVariable
        }
    }

    /// A configured provider.
    public struct Provider: Sendable, Equatable {
        public var name: String
        public var kind: ProviderKind
        public var endpoints: [Endpoint]
        public var timeouts: ProviderTimeouts = .init()
        /// Ollama's `keep_alive`, passed through when set (e.g. `5m`).
        public var keepAlive: String?
        /// Anthropic's `anthropic-version` or Gemini's API version (`v1beta`), when not the default.
        public var apiVersion: String?
        /// The model used when a request names only the provider.
        public var defaultModel: String?

        public init(name: String, kind: ProviderKind, endpoints: [Endpoint]) {
            self.name = name
            self.kind = kind
            self.endpoints = endpoints
        }
    }

    public var routing = Routing()
    /// Providers by name, in file order.
    public var providers: [Provider] = []
    /// The model catalogue: prices, windows, quality, local flag, embedding dimensions.
    public var models: [ModelCapabilities] = []
    /// The embedding model for ingest and retrieval: `auto` (the default: `minilm` when its model files are
    /// installed, else `local`), `local`, `minilm`, or `provider/model` (a catalogue entry with
    /// `embedding_dimensions`).
    public var embeddingModel: String = "auto"

    public init() {}

    /// The provider called `name`.
    public func provider(named name: String) -> Provider? {
        providers.first { $0.name == name }
    }
}
