import Providers
import Testing

@testable import Routing

@Suite struct RoutingConfigurationTests {
    @Test func defaultsAreSensible() {
        let configuration = RoutingConfiguration()
        #expect(configuration.routing.defaultStrategy == "cost_optimized")
        #expect(configuration.embeddingModel == "auto")
    }

    @Test func aFileWithOnlyTheSeedRoutingBlockIsValid() throws {
        let configuration = try RoutingConfiguration.parse(yaml: "routing:\n  default_strategy: privacy_first\n", environment: [:])
        #expect(configuration.routing.defaultStrategy == "privacy_first")
        #expect(configuration.providers.isEmpty)
        let merged = configuration.mergingEnvironmentProviders(["OLLAMA_HOST": "gpu-box:11434"])
        #expect(merged.provider(named: "ollama")?.endpoints.first?.url == "http://gpu-box:11434")
        #expect(merged.provider(named: "openai")?.kind == .disabled)
    }

    @Test func parsesProvidersEndpointsKeysAndTheCatalogue() throws {
        let yaml = """
            routing:
              default_strategy: cost_optimized
            providers:
              ollama:
                endpoints:
                  - url: http://10.0.0.5:11434
                    weight: 2
                  - url: http://10.0.0.6:11434
                keep_alive: 10m
                default_model: llama3.2
              openai:
                endpoints:
                  - url: https://api.openai.com/v1
                    api_key_env: MY_OPENAI_KEY
                timeouts: {connect: 2s, first_byte: 500ms, total: 2m}
              vllm:
                type: openai
                endpoints:
                  - url: http://gpu:8000/v1
              google:
                endpoints: [{url: "https://generativelanguage.googleapis.com", api_key_env: GEMINI_API_KEY}]
                api_version: v1
            models:
              openai/gpt-4o-mini: {input_per_1k: 0.00015, output_per_1k: 0.0006, context_window: 128000, quality: medium}
              ollama/llama3.2: {quality: low, context_window: 8192}
              openai/text-embedding-3-small: {embedding_dimensions: 1536}
            embeddings:
              model: openai/text-embedding-3-small
            strategies:
              cost_optimized:
                - {provider: ollama, model: llama3.2}
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: ["MY_OPENAI_KEY": "sk-secret"])
        let ollama = try #require(configuration.provider(named: "ollama"))
        #expect(ollama.kind == .ollama && ollama.endpoints.count == 2 && ollama.endpoints[0].weight == 2)
        #expect(ollama.keepAlive == "10m" && ollama.defaultModel == "llama3.2")
        let openAI = try #require(configuration.provider(named: "openai"))
        #expect(openAI.endpoints[0].apiKey == Secret("sk-secret"))
        #expect(openAI.timeouts == ProviderTimeouts(connect: .seconds(2), firstByte: .milliseconds(500), total: .seconds(120)))
        #expect(configuration.provider(named: "vllm")?.kind == .openai)
        #expect(configuration.provider(named: "google")?.kind == .gemini)
        #expect(configuration.provider(named: "google")?.apiVersion == "v1")
        let llama = try #require(configuration.models.first { $0.model == "llama3.2" })
        #expect(llama.isLocal && llama.quality == .low && llama.contextWindow == 8192)
        #expect(configuration.models.first { $0.model == "text-embedding-3-small" }?.embeddingDimensions == 1536)
        #expect(configuration.embeddingModel == "openai/text-embedding-3-small")
    }

    @Test(arguments: [
        ("providers:\n  openai:\n    endpoints:\n      - url: not a url\n", "providers.openai.endpoints[0].url", 4),
        ("providers:\n  openai:\n    endpoints:\n      - url: https://x/v1\n        weight: heavy\n", "providers.openai.endpoints[0].weight", 5),
        ("providers:\n  mystery:\n    endpoints: [{url: 'http://x'}]\n", "providers.mystery", 3),
        ("models:\n  gpt-4o: {quality: high}\n", "models.gpt-4o", 2),
        ("models:\n  openai/gpt-4o: {quality: superb}\n", "models.openai/gpt-4o.quality", 2),
        ("routing:\n  default_strategy: x\nunknown_section: 1\n", "unknown_section", 3),
        ("providers:\n  openai:\n    endpoints:\n      - url: https://user:pw@x/v1\n", "providers.openai.endpoints[0].url", 4),
    ])
    func invalidFilesNameTheKeyAndLine(yaml: String, keyPath: String, line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.keyPath == keyPath)
        #expect(error?.line == line)
    }

    @Test func malformedYAMLIsRefusedWithALine() {
        let error = #expect(throws: ConfigurationError.self) {
            try RoutingConfiguration.parse(yaml: "routing:\n  default_strategy: [unclosed\n", environment: [:])
        }
        #expect(error?.line != nil)
    }

    @Test func environmentConfiguresProvidersAsTheirSDKsDo() {
        let configuration = RoutingConfiguration.fromEnvironment([
            "OLLAMA_HOST": "0.0.0.0", "OPENAI_API_KEY": "sk-1", "GOOGLE_API_KEY": "AIza-1",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999",
        ])
        #expect(configuration.provider(named: "ollama")?.endpoints.first?.url == "http://127.0.0.1:11434")
        #expect(configuration.provider(named: "openai")?.endpoints.first?.url == "https://api.openai.com/v1")
        #expect(configuration.provider(named: "openai")?.endpoints.first?.apiKey == Secret("sk-1"))
        #expect(configuration.provider(named: "google")?.kind == .gemini)
        #expect(configuration.provider(named: "anthropic")?.endpoints.first?.url == "http://127.0.0.1:9999")
        let none = RoutingConfiguration.fromEnvironment([:])
        #expect(none.providers.allSatisfy { $0.kind == .disabled })
    }

    @Test func secretsAreRedactedWhenPrinted() {
        let secret = Secret("sk-live-abcdef")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(!"\(RoutingConfiguration.Endpoint(url: "https://x", apiKey: secret))".contains("abcdef"))
    }
}
