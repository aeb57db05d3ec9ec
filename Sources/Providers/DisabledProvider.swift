/// A provider switched off by configuration: every call fails at once with ``ProviderError/Code/disabled``,
/// without touching the network.
public struct DisabledProvider: ChatProvider, EmbeddingProvider {
    public let name: String
    public var model: EmbeddingModelDescriptor { EmbeddingModelDescriptor(name: "\(name)-disabled", dimensions: 1) }
    public var maximumBatchSize: Int { 1 }

    public init(name: String) {
        self.name = name
    }

    public func chat(_ request: ChatRequest) async throws -> ChatResponse { throw ProviderError.disabled(provider: name) }
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream { throw ProviderError.disabled(provider: name) }
    public func listModels() async throws -> [ModelInfo] { throw ProviderError.disabled(provider: name) }
    public func checkHealth() async throws { throw ProviderError.disabled(provider: name) }
    public func embed(_ texts: [String]) async throws -> [[Float]] { throw ProviderError.disabled(provider: name) }
}
