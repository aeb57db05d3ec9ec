import Logging
import PostgresNIO

/// Finds the embedding space that answers a tenant's questions, read-only: the query path never registers a model
/// nor creates an index (ingest and `unity-ai reindex` do, through ``KnowledgeStore/prepareEmbeddingSpace(name:dimensions:logger:)``).
///
/// Nothing is cached: a tenant's default changes when a reindex completes, and a dropped model's id is gone; the
/// look-up is one indexed read.
public final class EmbeddingModelRegistry: Sendable {
    public let store: KnowledgeStore

    public init(store: KnowledgeStore) {
        self.store = store
    }

    /// The tenant's stored default space, else the space of `configuredModel` (the configured embedding model);
    /// `nil` when that model has never been registered (no vectors of it exist).
    public func servingSpace(tenantID: Int64, configuredModel: String, logger: Logger) async throws -> EmbeddingSpace? {
        let rows = try await store.client.query(
            """
            SELECT m.id, m.name, m.dimensions
            FROM tenants t JOIN embedding_models m
              ON m.id = t.embedding_model_id OR (t.embedding_model_id IS NULL AND m.name = \(configuredModel))
            WHERE t.id = \(tenantID)
            UNION ALL
            SELECT m.id, m.name, m.dimensions FROM embedding_models m
            WHERE m.name = \(configuredModel) AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = \(tenantID))
            """, logger: logger)
        for (id, name, dimensions) in try rows.decode((Int, String, Int).self) {
            return EmbeddingSpace(id: id, name: name, dimensions: dimensions)
        }
        return nil
    }
}
