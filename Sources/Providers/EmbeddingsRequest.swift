/// One embeddings call to a provider: texts, the model, and optionally the vector length to ask for.
public struct EmbeddingsRequest: Hashable, Sendable {
    public var texts: [String]
    public var model: String
    /// The vector length to ask the upstream for (OpenAI's `dimensions`, which its text-embedding-3 models honour);
    /// `nil` for the model's own length.
    public var dimensions: Int?

    public init(texts: [String], model: String, dimensions: Int? = nil) {
        self.texts = texts
        self.model = model
        self.dimensions = dimensions
    }
}

/// The answer to an ``EmbeddingsRequest``.
public struct EmbeddingsResult: Hashable, Sendable {
    /// One vector per text, in order.
    public var vectors: [[Float]]
    /// The input tokens the upstream counted; `nil` when it did not say.
    public var inputTokens: Int?

    public init(vectors: [[Float]], inputTokens: Int? = nil) {
        self.vectors = vectors
        self.inputTokens = inputTokens
    }
}

extension EmbeddingsAPI {
    /// Whether the upstream can be asked for vectors of another length than the model's own. Defaults to `false`.
    public var acceptsDimensions: Bool { false }

    /// Embeds without the upstream's usage: for APIs that report none. A request for other dimensions is refused
    /// (``acceptsDimensions`` is `false`).
    public func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult {
        if request.dimensions != nil {
            throw ProviderError.unsupported(provider: name, what: "choosing the embedding dimensions")
        }
        return EmbeddingsResult(vectors: try await embed(request.texts, model: request.model))
    }
}
