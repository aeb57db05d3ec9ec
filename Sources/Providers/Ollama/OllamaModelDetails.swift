import Foundation

/// What `POST /api/show` says about one model: its attributes, the figures of its weights' metadata
/// (`model_info`), and what it can do.
public struct OllamaModelDetails: Hashable, Sendable {
    /// The model as it was asked for.
    public var name: String
    /// Format, family, parameter size and quantisation.
    public var details: OllamaModelAttributes
    /// The architecture of the weights (`model_info["general.architecture"]`), e.g. `llama`.
    public var architecture: String?
    /// The context window the model was trained for (`model_info["<architecture>.context_length"]`), if given.
    public var contextLength: Int?
    /// The vector length (`<architecture>.embedding_length`), if given.
    public var embeddingLength: Int?
    /// The exact parameter count (`general.parameter_count`), if given.
    public var parameterCount: Int64?
    /// What the model can do, e.g. `completion`, `tools`, `vision`, `embedding`; empty from servers that predate it.
    public var capabilities: [String]
    /// When the manifest was last written; `nil` if not given.
    public var modifiedAt: Date?

    /// Details as given; what the server did not say stays `nil` (or empty).
    public init(
        name: String, details: OllamaModelAttributes = .init(), architecture: String? = nil, contextLength: Int? = nil,
        embeddingLength: Int? = nil, parameterCount: Int64? = nil, capabilities: [String] = [], modifiedAt: Date? = nil
    ) {
        self.name = name
        self.details = details
        self.architecture = architecture
        self.contextLength = contextLength
        self.embeddingLength = embeddingLength
        self.parameterCount = parameterCount
        self.capabilities = capabilities
        self.modifiedAt = modifiedAt
    }
}
