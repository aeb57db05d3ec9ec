import Logging
import PostgresNIO

/// Which space answers each tenant's questions, and how much of the tenant it covers: the check behind `unity-ai
/// tenants list` and the server's start-up warning. A tenant whose default space was never set is answered by the
/// configured model; when that model changes, such a tenant has no vectors of the new one until it is reindexed or
/// its documents are ingested again, and its questions are ranked by their words alone — this makes that visible.
extension KnowledgeStore {
    /// One tenant's answering space and its coverage.
    public struct AnsweringSpace: Sendable, Equatable, Encodable {
        public var tenant: String
        /// The model whose vectors answer the tenant's questions.
        public var model: String
        /// Whether ``model`` is the tenant's stored default (set by `reindex`), rather than the configured model.
        public var isTenantDefault: Bool
        /// The tenant's chunks.
        public var chunks: Int
        /// Of ``chunks``, those with a vector of ``model``.
        public var chunksWithVectors: Int

        /// Some of the tenant's chunks cannot be found by meaning: they have no vector of the answering model.
        public var isIncomplete: Bool { chunksWithVectors < chunks }

        enum CodingKeys: String, CodingKey {
            case tenant, model, isTenantDefault = "is_tenant_default", chunks, chunksWithVectors = "chunks_with_vectors"
        }
    }

    /// Every tenant's answering space (its stored default, else `configuredModel`) with its coverage, by tenant
    /// name. Counts every chunk of every tenant: for maintenance commands and start-up, not for a request; a count
    /// that takes longer than `timeout` is cancelled by the server (a shutdown during start-up waits for no more).
    public func answeringSpaces(
        configuredModel: String, timeout: Duration = .seconds(30), logger: Logger
    ) async throws -> [AnsweringSpace] {
        let milliseconds = max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let rows = try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"), logger: logger)
            return QueryRows(rows: try await connection.query(
                """
                WITH answering AS (
                    SELECT t.id, t.name, coalesce(m.name, \(configuredModel)) AS model, m.id IS NOT NULL AS is_default,
                           coalesce(m.id, (SELECT c.id FROM embedding_models c WHERE c.name = \(configuredModel))) AS model_id
                    FROM tenants t LEFT JOIN embedding_models m ON m.id = t.embedding_model_id
                )
                SELECT a.name, a.model, a.is_default,
                       (SELECT count(*) FROM chunks c WHERE c.tenant_id = a.id)::bigint,
                       (SELECT count(*) FROM chunk_embeddings e WHERE e.tenant_id = a.id AND e.model_id = a.model_id)::bigint
                FROM answering a
                ORDER BY a.name
                """, logger: logger).collect())
        }
        return try rows.decode((String, String, Bool, Int64, Int64).self).map {
            AnsweringSpace(
                tenant: $0.0, model: $0.1, isTenantDefault: $0.2, chunks: Int($0.3), chunksWithVectors: Int($0.4))
        }
    }
}

extension KnowledgeStore {
    /// Logs a warning for each tenant (up to `limit`) whose answering space lacks vectors of some of its chunks —
    /// after the configured embedding model changed, say, for tenants never reindexed: what `serve` checks once its
    /// schema is current. A failed check is logged, never thrown.
    public func warnAboutIncompleteAnsweringSpaces(configuredModel: String, limit: Int = 20, logger: Logger) async {
        do {
            let incomplete = try await answeringSpaces(configuredModel: configuredModel, logger: logger)
                .filter(\.isIncomplete)
            for space in incomplete.prefix(max(0, limit)) {
                logger.warning(
                    "\(space.warning)", metadata: ["tenant": "\(space.tenant)", "embedding.model": "\(space.model)"])
            }
            if incomplete.count > limit {
                logger.warning(
                    "\(incomplete.count - limit) more tenants lack vectors of their answering model; `unity-ai tenants list` shows all.")
            }
        } catch {
            logger.warning("Could not check the tenants' embedding spaces", metadata: ["error": "\(error)"])
        }
    }
}

extension KnowledgeStore.AnsweringSpace {
    /// What to tell an operator about an incomplete space: what is missing and the command that fills it.
    public var warning: String {
        let whose = isTenantDefault ? "its default model" : "the configured embedding model (it has no default of its own)"
        return """
            Tenant '\(tenant)' is answered by '\(model)', \(whose), but only \(chunksWithVectors) of its \(chunks) \
            chunks have vectors of it: the others are found by their words alone. Run `unity-ai reindex --model \
            \(model) --tenant \(tenant)`, or ingest its documents again.
            """
    }
}
