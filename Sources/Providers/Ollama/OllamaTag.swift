import Foundation

/// One model pulled on an Ollama server, as `GET /api/tags` lists it.
public struct OllamaTag: Hashable, Sendable {
    /// The name as Ollama shows it, e.g. `llama3.2:latest` or `hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M`.
    public var name: String
    /// The same name (Ollama sends both `name` and `model`).
    public var model: String
    /// The SHA-256 of the model's manifest as 64 hex digits (Ollama's "ID" is its first 12).
    public var digest: String
    /// The sum of the sizes of the model's config and layers, in bytes. Blobs shared with other models are counted
    /// in each of them, so the sizes of a server's models add up to more than its disk use.
    public var size: Int64
    /// When the manifest was last written (pulled, created or copied); `nil` if not given.
    public var modifiedAt: Date?
    /// Format, family, parameter size and quantisation.
    public var details: OllamaModelAttributes

    /// A tag as given.
    public init(
        name: String, model: String? = nil, digest: String, size: Int64, modifiedAt: Date? = nil,
        details: OllamaModelAttributes = .init()
    ) {
        self.name = name
        self.model = model ?? name
        self.digest = digest
        self.size = size
        self.modifiedAt = modifiedAt
        self.details = details
    }
}
