/// What is known without asking of the embedding models people name most: their vector length, whether the upstream
/// can shorten it (`dimensions`), and which kind of provider serves them. A pass-through call (`/v1/embeddings`) needs
/// none of this — the upstream's answer says how long its vectors are — but it lets a bare name find its provider,
/// and a request for another length be refused before a call when the model cannot give it.
public struct KnownEmbeddingModel: Sendable, Hashable {
    /// The model's own vector length.
    public var dimensions: Int
    /// Whether the upstream shortens the vectors when asked (`dimensions`, OpenAI's text-embedding-3 models).
    public var adjustable: Bool
    /// The kinds of provider that serve it under this name.
    public var kinds: Set<RoutingConfiguration.ProviderKind>

    /// The model called `name`, if known: exactly, or without an Ollama tag (`nomic-embed-text:latest`) or Gemini's
    /// `models/` prefix.
    public static func named(_ name: String) -> KnownEmbeddingModel? {
        if let known = table[name] { return known }
        var base = Substring(name)
        if base.hasPrefix("models/") { base = base.dropFirst("models/".count) }
        if let colon = base.firstIndex(of: ":") { base = base[..<colon] }
        return table[String(base)]
    }

    static let table: [String: KnownEmbeddingModel] = [
        // OpenAI (https://platform.openai.com/docs/guides/embeddings).
        "text-embedding-3-small": .init(dimensions: 1536, adjustable: true, kinds: [.openai]),
        "text-embedding-3-large": .init(dimensions: 3072, adjustable: true, kinds: [.openai]),
        "text-embedding-ada-002": .init(dimensions: 1536, adjustable: false, kinds: [.openai]),
        // Ollama's library (the default tag of each).
        "nomic-embed-text": .init(dimensions: 768, adjustable: false, kinds: [.ollama]),
        "mxbai-embed-large": .init(dimensions: 1024, adjustable: false, kinds: [.ollama]),
        "all-minilm": .init(dimensions: 384, adjustable: false, kinds: [.ollama]),
        "bge-m3": .init(dimensions: 1024, adjustable: false, kinds: [.ollama]),
        // Gemini (`outputDimensionality` is not passed: their length is the model's own).
        "text-embedding-004": .init(dimensions: 768, adjustable: false, kinds: [.gemini]),
        "gemini-embedding-001": .init(dimensions: 3072, adjustable: false, kinds: [.gemini]),
        "embedding-001": .init(dimensions: 768, adjustable: false, kinds: [.gemini]),
    ]
}
