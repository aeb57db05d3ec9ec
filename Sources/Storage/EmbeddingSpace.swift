/// One embedding space: a model's vectors over the tenants' shared chunks (migration 0012). Chunks belong to no
/// model; each model has its own vectors of them, its own HNSW index, and a tenant answers from one space at a time.
public struct EmbeddingSpace: Sendable, Equatable {
    /// The model's id in `embedding_models`.
    public var id: Int
    /// The model's name, e.g. `minilm` or `openai/text-embedding-3-large`.
    public var name: String
    /// The length of every vector of the space.
    public var dimensions: Int

    /// A space as stored.
    public init(id: Int, name: String, dimensions: Int) {
        self.id = id
        self.name = name
        self.dimensions = dimensions
    }

    /// pgvector's most dimensions for an HNSW index on `halfvec` (half-precision floats, half the size); up to
    /// 2,000 it indexes `vector`, and ``VectorSearchSettings/indexedType(dimensions:)`` picks between the two.
    public static let halfvecIndexLimit = 4_000

    /// Whether pgvector can build an HNSW index for the space (up to 4,000 dimensions, through `halfvec`).
    public var isIndexable: Bool { dimensions <= Self.halfvecIndexLimit }

    /// The name of the space's partial HNSW index on `chunk_embeddings` (the name earlier releases gave it too).
    public var indexName: String { "chunk_embeddings_hnsw_model_\(id)" }
}
