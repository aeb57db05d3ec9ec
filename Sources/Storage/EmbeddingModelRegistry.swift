import Logging
import Synchronization

/// Remembers the stored ids of embedding models, registering each (and its HNSW index) on first use.
public final class EmbeddingModelRegistry: Sendable {
    public let store: KnowledgeStore
    private let ids = Mutex<[String: Int]>([:])

    public init(store: KnowledgeStore) {
        self.store = store
    }

    /// The id of the model called `name` with `dimensions`, registered if new.
    public func id(name: String, dimensions: Int, logger: Logger) async throws -> Int {
        if let id = ids.withLock({ $0[name] }) { return id }
        let id = try await store.registerEmbeddingModel(name: name, dimensions: dimensions, logger: logger)
        ids.withLock { $0[name] = id }
        return id
    }
}
