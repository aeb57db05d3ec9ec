/// What a provider can do.
public struct ProviderCapabilities: Hashable, Sendable, Codable {
    public var chat: Bool
    public var streaming: Bool
    public var embeddings: Bool
    /// Whether the provider runs on this machine or network (Ollama, `local`), so data never leaves it.
    public var isLocal: Bool

    public init(chat: Bool, streaming: Bool, embeddings: Bool, isLocal: Bool) {
        self.chat = chat
        self.streaming = streaming
        self.embeddings = embeddings
        self.isLocal = isLocal
    }
}

/// How good a model's answers are, coarsely; requests may ask for a minimum.
public enum QualityTier: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high

    public static func < (lhs: QualityTier, rhs: QualityTier) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What is known of one model: from the model catalogue in the configuration, else provider defaults.
public struct ModelCapabilities: Hashable, Sendable, Codable {
    public var provider: String
    public var model: String
    public var contextWindow: Int?
    /// USD per 1,000 input tokens.
    public var inputPricePer1K: Double
    /// USD per 1,000 output tokens.
    public var outputPricePer1K: Double
    public var quality: QualityTier
    public var isLocal: Bool
    /// The vector length, for embedding models.
    public var embeddingDimensions: Int?

    public init(
        provider: String, model: String, contextWindow: Int? = nil, inputPricePer1K: Double = 0,
        outputPricePer1K: Double = 0, quality: QualityTier = .medium, isLocal: Bool = false,
        embeddingDimensions: Int? = nil
    ) {
        self.provider = provider
        self.model = model
        self.contextWindow = contextWindow
        self.inputPricePer1K = inputPricePer1K
        self.outputPricePer1K = outputPricePer1K
        self.quality = quality
        self.isLocal = isLocal
        self.embeddingDimensions = embeddingDimensions
    }
}

/// A provider's embeddings endpoint, for any of its embedding models.
public protocol EmbeddingsAPI: Sendable {
    /// The provider's name.
    var name: String { get }
    /// The most texts one call may carry (the provider's own limit).
    var embeddingBatchLimit: Int { get }
    /// Embeds `texts` with `model`; one vector per text, in order.
    func embed(_ texts: [String], model: String) async throws -> [[Float]]
    /// Whether ``EmbeddingsRequest/dimensions`` may be passed to the upstream (see `EmbeddingsRequest.swift`).
    var acceptsDimensions: Bool { get }
    /// Embeds one request, with the input tokens the upstream counted when it says.
    func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult
}

/// One embedding model of a provider, as an ``EmbeddingProvider``: its space is `provider/model`.
public struct BoundEmbedder: EmbeddingProvider {
    public let api: any EmbeddingsAPI
    public let upstreamModel: String
    public let model: EmbeddingModelDescriptor
    public var maximumBatchSize: Int { api.embeddingBatchLimit }

    public init(api: any EmbeddingsAPI, model: String, dimensions: Int) {
        self.api = api
        self.upstreamModel = model
        self.model = EmbeddingModelDescriptor(name: "\(api.name)/\(model)", dimensions: dimensions)
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let vectors = try await api.embed(texts, model: upstreamModel)
        if let wrong = vectors.first(where: { $0.count != model.dimensions }) {
            throw ProviderError.malformedResponse(
                provider: api.name,
                reason: "\(upstreamModel) returned \(wrong.count)-dimensional vectors, configured as \(model.dimensions)")
        }
        return vectors
    }
}
