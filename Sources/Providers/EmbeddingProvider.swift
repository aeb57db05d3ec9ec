/// Identifies one embedding space: vectors from different spaces are never compared.
public struct EmbeddingModelDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// A stable name, e.g. `local-hash-512`; stored with every vector.
    public var name: String
    /// The length of every vector the model returns.
    public var dimensions: Int

    public init(name: String, dimensions: Int) {
        self.name = name
        self.dimensions = dimensions
    }

    public var description: String { "\(name) (\(dimensions) dimensions)" }
}

/// Turns texts into vectors of one embedding space.
public protocol EmbeddingProvider: Sendable {
    /// The embedding space this provider produces.
    var model: EmbeddingModelDescriptor { get }
    /// The most texts one ``embed(_:)`` call should carry; callers split larger batches.
    var maximumBatchSize: Int { get }
    /// Embeds a batch of texts; the result has one vector per text, in order.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

extension EmbeddingProvider {
    /// Embeds any number of texts, split into batches the provider accepts.
    public func embedAll(_ texts: [String]) async throws -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let end = min(start + max(1, maximumBatchSize), texts.count)
            let batch = try await embed(Array(texts[start..<end]))
            guard batch.count == end - start else {
                throw ProviderError.malformedResponse(
                    provider: model.name,
                    reason: "returned \(batch.count) vectors for \(end - start) texts")
            }
            vectors.append(contentsOf: batch)
            start = end
        }
        return vectors
    }
}
