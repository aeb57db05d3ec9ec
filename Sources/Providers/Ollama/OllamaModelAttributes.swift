/// What Ollama says about a model's build in the `details` object of `/api/tags`, `/api/ps` and `/api/show`: its file
/// format, family, parameter count and quantisation. Ollama reads them from the model's config blob; a field it left
/// empty is `nil`.
public struct OllamaModelAttributes: Hashable, Sendable {
    /// The file format, e.g. `gguf`.
    public var format: String?
    /// The model family, e.g. `llama`.
    public var family: String?
    /// Every family the model belongs to, e.g. `["llama", "clip"]` for a vision model.
    public var families: [String]
    /// The parameter count as Ollama writes it, e.g. `3.2B` or `23M`.
    public var parameterSize: String?
    /// The quantisation, e.g. `Q4_K_M` or `F16`.
    public var quantizationLevel: String?
    /// The model this one was created from, if Ollama recorded one.
    public var parentModel: String?

    /// Attributes as given; what is unknown stays `nil` (or empty).
    public init(
        format: String? = nil, family: String? = nil, families: [String] = [], parameterSize: String? = nil,
        quantizationLevel: String? = nil, parentModel: String? = nil
    ) {
        self.format = format
        self.family = family
        self.families = families
        self.parameterSize = parameterSize
        self.quantizationLevel = quantizationLevel
        self.parentModel = parentModel
    }
}
