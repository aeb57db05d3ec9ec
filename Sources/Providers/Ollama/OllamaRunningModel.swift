import Foundation

/// A model loaded in an Ollama server's memory now, as `GET /api/ps` lists it.
public struct OllamaRunningModel: Hashable, Sendable {
    /// The name as Ollama shows it, e.g. `llama3.2:latest`.
    public var name: String
    /// The same name (Ollama sends both `name` and `model`).
    public var model: String
    /// The SHA-256 of the model's manifest as 64 hex digits; matches ``OllamaTag/digest``.
    public var digest: String
    /// The memory the loaded model takes, in bytes (weights, context and compute buffers): not its size on disk.
    public var size: Int64
    /// The part of ``size`` in GPU memory, in bytes: equal to it when fully offloaded, 0 on the CPU.
    public var sizeVRAM: Int64
    /// When Ollama unloads the model unless it is used again (last use plus `keep_alive`); `nil` if not given.
    public var expiresAt: Date?
    /// The context window the model was loaded with, if the server says (newer Ollama).
    public var contextLength: Int?
    /// Format, family, parameter size and quantisation.
    public var details: OllamaModelAttributes

    /// A running model as given.
    public init(
        name: String, model: String? = nil, digest: String, size: Int64, sizeVRAM: Int64, expiresAt: Date? = nil,
        contextLength: Int? = nil, details: OllamaModelAttributes = .init()
    ) {
        self.name = name
        self.model = model ?? name
        self.digest = digest
        self.size = size
        self.sizeVRAM = sizeVRAM
        self.expiresAt = expiresAt
        self.contextLength = contextLength
        self.details = details
    }
}
