import Logging
import PostgresNIO

/// Embedding spaces (migration 0012): registering a model, its HNSW index, a tenant's default space, and what
/// `unity-ai reindex` needs to build a space from the stored chunks.
///
/// DDL happens outside migrations only in ``createEmbeddingIndex(for:settings:logger:)`` /
/// ``dropEmbeddingIndex(for:logger:)``, which ingest and reindex call, and in ``TenantVectorIndexes`` (maintenance
/// after them). The read path looks a model up with ``embeddingSpace(named:logger:)`` and never creates anything.
extension KnowledgeStore {
    // MARK: Registration

    /// Registers an embedding model (a row in `embedding_models`, no index) and returns its id. A name already
    /// registered with other dimensions is refused.
    ///
    /// Instances registering at once (a scheduled sync and a command-line ingest on a fresh database) take turns
    /// under a transaction-level advisory lock: an `INSERT … ON CONFLICT DO NOTHING` does not see a row another
    /// transaction committed after the statement began.
    public func registerEmbeddingModel(name: String, dimensions: Int, logger: Logger) async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.registrationLock))", logger: logger)
            let rows = try await connection.query(
                """
                WITH inserted AS (
                    INSERT INTO embedding_models (name, dimensions) VALUES (\(name), \(dimensions))
                    ON CONFLICT (name) DO NOTHING RETURNING id, dimensions
                )
                SELECT id, dimensions FROM inserted
                UNION ALL SELECT id, dimensions FROM embedding_models WHERE name = \(name)
                """, logger: logger)
            var registered: (id: Int, dimensions: Int)?
            for try await (id, storedDimensions) in rows.decode((Int, Int).self) where registered == nil {
                registered = (id, storedDimensions)
            }
            guard let registered else {
                throw StorageError(.inconsistentData, "The embedding model '\(name)' could not be registered.")
            }
            guard registered.dimensions == dimensions else {
                throw Self.dimensionsMismatch(name: name, stored: registered.dimensions, given: dimensions)
            }
            return registered.id
        }
    }

    /// Registers the model and makes sure its HNSW index exists: what ingest and reindex call before they write
    /// vectors. Never called on the read path.
    public func prepareEmbeddingSpace(name: String, dimensions: Int, logger: Logger) async throws -> EmbeddingSpace {
        let id = try await registerEmbeddingModel(name: name, dimensions: dimensions, logger: logger)
        let space = EmbeddingSpace(id: id, name: name, dimensions: dimensions)
        try await createEmbeddingIndex(for: space, logger: logger)
        return space
    }

    /// Registers the model for a bulk write and builds its HNSW index now unless the model has no vectors yet: then
    /// the index is left to ``finishBulkWrite(to:logger:)``, which builds it over the stored vectors at once — a
    /// fraction of the cost of filling it vector by vector (docs/benchmarks.md, "Ingest pipeline against its
    /// ceilings"). Searches of the model meanwhile scan its rows, exactly. A write that fails before it finishes
    /// leaves the model with vectors and no index: the next write's preparation builds it.
    public func prepareEmbeddingSpaceForBulkWrite(
        name: String, dimensions: Int, logger: Logger
    ) async throws -> BulkWriteSpace {
        let id = try await registerEmbeddingModel(name: name, dimensions: dimensions, logger: logger)
        let space = EmbeddingSpace(id: id, name: name, dimensions: dimensions)
        guard try await hasEmbeddings(modelID: id, logger: logger) else {
            return BulkWriteSpace(space: space, indexDeferred: true, builtIndex: false)
        }
        let built = try await createEmbeddingIndex(for: space, logger: logger)
        return BulkWriteSpace(space: space, indexDeferred: false, builtIndex: built)
    }

    /// The space a bulk write fills, and whether its index waits for the write's end.
    public struct BulkWriteSpace: Sendable, Equatable {
        public var space: EmbeddingSpace
        /// The model had no vectors: ``finishBulkWrite(to:logger:)`` builds its index.
        public var indexDeferred: Bool
        /// The preparation built the index over vectors already stored (it was missing, or left invalid by an
        /// interrupted build).
        public var builtIndex: Bool
    }

    /// Builds the index ``prepareEmbeddingSpaceForBulkWrite(name:dimensions:logger:)`` deferred, if it did, and
    /// refreshes the vectors' planner statistics so that the next searches and writes plan with the space's size.
    /// Returns whether it built the index.
    @discardableResult
    public func finishBulkWrite(
        to prepared: BulkWriteSpace, logger: Logger
    ) async throws -> Bool {
        guard prepared.indexDeferred else { return false }
        let built = try await createEmbeddingIndex(for: prepared.space, logger: logger)
        try await refreshEmbeddingStatistics(logger: logger)
        return built
    }

    /// `ANALYZE chunk_embeddings`: the planner's statistics of the stored vectors (row count, each tenant's and
    /// model's share, the reuse hashes), which autovacuum refreshes only about once a minute.
    public func refreshEmbeddingStatistics(logger: Logger) async throws {
        try await client.query("ANALYZE chunk_embeddings", logger: logger)
    }

    /// Whether any vector of the model is stored.
    public func hasEmbeddings(modelID: Int, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            "SELECT EXISTS (SELECT 1 FROM chunk_embeddings WHERE model_id = \(modelID))", logger: logger)
        for exists in try rows.decode(Bool.self) { return exists }
        return false
    }

    /// The registered model called `name`, or `nil`: a read, for the query path.
    public func embeddingSpace(named name: String, logger: Logger) async throws -> EmbeddingSpace? {
        let rows = try await client.query(
            "SELECT id, dimensions FROM embedding_models WHERE name = \(name)", logger: logger)
        for (id, dimensions) in try rows.decode((Int, Int).self) {
            return EmbeddingSpace(id: id, name: name, dimensions: dimensions)
        }
        return nil
    }

    /// Every registered embedding space, by id.
    public func embeddingSpaces(logger: Logger) async throws -> [EmbeddingSpace] {
        let rows = try await client.query("SELECT id, name, dimensions FROM embedding_models ORDER BY id", logger: logger)
        return try rows.decode((Int, String, Int).self).map { EmbeddingSpace(id: $0, name: $1, dimensions: $2) }
    }

    /// The advisory lock embedding-model registration takes ("uaie").
    static let registrationLock: Int64 = 0x7561_6965

    /// The error for a model name stored with other dimensions than its embedder gives now.
    static func dimensionsMismatch(name: String, stored: Int, given: Int) -> StorageError {
        StorageError(
            .inconsistentData,
            "The embedding model '\(name)' is stored with \(stored) dimensions but now gives \(given). Give the new "
                + "model another name so the two spaces stay apart.")
    }

    // MARK: Indexes

    /// Creates the space's partial HNSW index (cosine, over `settings`' ``VectorSearchSettings/indexedType(dimensions:)``,
    /// `vector` up to 2,000 dimensions and `halfvec` above, the cast ``ChunkSearch`` searches with) unless a valid one
    /// exists: with ``TenantVectorIndexes``, the only places the appliance builds a vector index outside migrations.
    ///
    /// `CREATE INDEX CONCURRENTLY` on a connection of its own, outside any transaction, so searches and writes
    /// carry on while it builds. Instances take turns under a session-level advisory lock per model; an index left
    /// invalid by an interrupted build is dropped and built again. A space over 4,000 dimensions cannot be indexed
    /// by pgvector: it is logged and searched by a scan. Returns whether it built the index.
    @discardableResult
    public func createEmbeddingIndex(
        for space: EmbeddingSpace, settings: VectorSearchSettings = .init(), logger: Logger
    ) async throws -> Bool {
        guard space.isIndexable else {
            logger.warning(
                "Embedding space too wide for an HNSW index; searches will scan it",
                metadata: ["embedding.model": "\(space.name)", "embedding.dimensions": "\(space.dimensions)"])
            return false
        }
        return try await withIndexLock(for: space, logger: logger) { connection in
            switch try await Self.indexValidity(space.indexName, connection: connection, logger: logger) {
            case true?: return false
            case false?:
                try await connection.query(
                    PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(space.indexName)"), logger: logger)
            case nil: break
            }
            logger.info(
                "Building the HNSW index of an embedding space",
                metadata: ["embedding.model": "\(space.name)", "embedding.index": "\(space.indexName)"])
            try await HNSWIndexBuild(
                name: space.indexName, predicate: "model_id = \(space.id)", dimensions: space.dimensions, settings: settings
            ).run(on: connection, logger: logger)
            return true
        }
    }

    /// Builds every registered space's index and the per-tenant indexes it needs (``TenantVectorIndexes``) where
    /// they are missing: for vectors that arrived without them (a restore copies rows; a space's indexes are built
    /// by ingest and reindex, outside migrations, and never by a question).
    public func buildEmbeddingIndexes(logger: Logger) async throws {
        for space in try await embeddingSpaces(logger: logger) {
            try await createEmbeddingIndex(for: space, logger: logger)
            await TenantVectorIndexes(client: client)
                .reconcileAfterWrites(modelID: space.id, dimensions: space.dimensions, logger: logger)
        }
    }

    /// Drops the space's HNSW index, concurrently, if it exists.
    public func dropEmbeddingIndex(for space: EmbeddingSpace, logger: Logger) async throws {
        try await withIndexLock(for: space, logger: logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(space.indexName)"), logger: logger)
        }
    }

    /// Whether the index called `name` is valid, or `nil` when there is none.
    static func indexValidity(_ name: String, connection: PostgresConnection, logger: Logger) async throws -> Bool? {
        let rows = try await connection.query(
            """
            SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
            WHERE c.relname = \(name) AND c.relnamespace = current_schema()::regnamespace
            """, logger: logger)
        for try await valid in rows.decode(Bool.self) { return valid }
        return nil
    }

    /// Runs `body` on one connection holding the session advisory lock of the space's index, released after it
    /// (or with the connection, should the call be cut off).
    private func withIndexLock<Result: Sendable>(
        for space: EmbeddingSpace, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withSessionAdvisoryLock(Self.indexLockBase | Int64(space.id), logger: logger, body)
    }

    /// The high half of the advisory lock key of a space's index ("uaix"); the model id is the low half.
    static let indexLockBase: Int64 = 0x7561_6978 << 32

    // MARK: A tenant's default space

    /// The tenant's stored default space, or `nil` when it has none (the configured embedding model serves it).
    public func defaultEmbeddingSpace(tenantID: Int64, logger: Logger) async throws -> EmbeddingSpace? {
        let rows = try await client.query(
            """
            SELECT m.id, m.name, m.dimensions FROM tenants t JOIN embedding_models m ON m.id = t.embedding_model_id
            WHERE t.id = \(tenantID)
            """, logger: logger)
        for (id, name, dimensions) in try rows.decode((Int, String, Int).self) {
            return EmbeddingSpace(id: id, name: name, dimensions: dimensions)
        }
        return nil
    }

    /// Makes `modelID` the tenant's default space if every chunk of the tenant has a vector of it, in one
    /// statement; returns whether it did. A chunk added meanwhile leaves the default as it was.
    public func makeDefaultIfComplete(tenantID: Int64, modelID: Int, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            """
            WITH switched AS (
                UPDATE tenants SET embedding_model_id = \(modelID)
                WHERE id = \(tenantID) AND NOT EXISTS (
                    SELECT 1 FROM chunks c
                    WHERE c.tenant_id = \(tenantID)
                      AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id AND e.model_id = \(modelID)))
                RETURNING 1
            )
            SELECT count(*)::bigint FROM switched
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return count > 0 }
        return false
    }

    // MARK: Building a space

    /// How far a space covers a tenant's chunks.
    public struct SpaceCoverage: Sendable, Equatable {
        /// The tenant's chunks.
        public var chunks: Int
        /// Those with a vector of the model.
        public var embedded: Int
    }

    /// How many of the tenant's chunks have a vector of `modelID`.
    public func coverage(tenantID: Int64, modelID: Int, logger: Logger) async throws -> SpaceCoverage {
        let rows = try await client.query(
            """
            SELECT (SELECT count(*) FROM chunks WHERE tenant_id = \(tenantID))::bigint,
                   (SELECT count(*) FROM chunk_embeddings WHERE tenant_id = \(tenantID) AND model_id = \(modelID))::bigint
            """, logger: logger)
        for (chunks, embedded) in try rows.decode((Int64, Int64).self) {
            return SpaceCoverage(chunks: Int(chunks), embedded: Int(embedded))
        }
        return SpaceCoverage(chunks: 0, embedded: 0)
    }

    /// A stored chunk that lacks a vector, with the exact text to embed for it.
    public struct ChunkToEmbed: Sendable, Equatable {
        public var id: Int64
        /// The chunk's heading line and text, as ingest embeds them.
        public var text: String
    }

    /// Up to `limit` of the tenant's chunks with ids above `afterID` that have no vector of `modelID`, by id.
    ///
    /// The text embedded is the chunk's stored heading line and its text, as ingest wrote them; a chunk stored
    /// before migration 0012 has no heading line and is embedded under its document's title and its headings.
    public func chunksLackingEmbedding(
        tenantID: Int64, modelID: Int, afterID: Int64, limit: Int, logger: Logger
    ) async throws -> [ChunkToEmbed] {
        let rows = try await client.query(
            """
            SELECT c.id,
                   coalesce(c.embedding_context,
                            array_to_string(
                                CASE WHEN c.heading_path[1] IS NOT DISTINCT FROM coalesce(d.metadata->>'title', d.source_uri)
                                     THEN c.heading_path
                                     ELSE array_prepend(coalesce(d.metadata->>'title', d.source_uri), c.heading_path) END,
                                ' > '))
                   || E'\\n\\n' || c.text
            FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.tenant_id = \(tenantID) AND c.id > \(afterID)
              AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id AND e.model_id = \(modelID))
            ORDER BY c.id
            LIMIT \(max(1, limit))
            """, logger: logger)
        return try rows.decode((Int64, String).self).map { ChunkToEmbed(id: $0, text: $1) }
    }

    /// Stores vectors of `modelID` for chunks of the tenant; chunks deleted meanwhile (their document changed) are
    /// skipped, and a vector already there is kept. Returns how many were stored.
    @discardableResult
    public func addMissingEmbeddings(
        tenantID: Int64, modelID: Int, chunkIDs: [Int64], vectors: [[Float]], textHashes: [String], logger: Logger
    ) async throws -> Int {
        guard chunkIDs.count == vectors.count, textHashes.count == chunkIDs.count,
            textHashes.allSatisfy(Self.isSHA256Hex)
        else {
            throw StorageError(.inconsistentData, "\(chunkIDs.count) chunks but \(vectors.count) vectors to store.")
        }
        guard !chunkIDs.isEmpty else { return 0 }
        let literals = vectors.map(Self.vectorLiteral)
        // A chunk deleted by a write that committed after this statement's snapshot (or was still running: the
        // foreign key check waits for it) fails the whole statement with a foreign key violation. Run again, the
        // statement's snapshot no longer holds it; each retry follows a committed deletion, so a few suffice.
        var attempt = 1
        while true {
            do {
                let rows = try await client.query(
                    """
                    WITH stored AS (
                        INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding, text_sha256)
                        SELECT c.id, \(modelID), c.tenant_id, e.embedding::vector, decode(e.hash, 'hex')
                        FROM unnest(\(chunkIDs)::bigint[], \(literals)::text[], \(textHashes)::text[])
                             AS e(chunk_id, embedding, hash)
                        JOIN chunks c ON c.id = e.chunk_id AND c.tenant_id = \(tenantID)
                        ON CONFLICT (chunk_id, model_id) DO NOTHING
                        RETURNING 1
                    )
                    SELECT count(*)::bigint FROM stored
                    """, logger: logger)
                for count in try rows.decode(Int64.self) { return Int(count) }
                return 0
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23503" && attempt < 5 {
                attempt += 1
                logger.debug("A chunk was deleted while its vector was being stored; storing the others again")
            }
        }
    }

    // MARK: Dropping a space

    /// Deletes the tenant's vectors of `space`; when no vectors of the model are left in any tenant and no tenant
    /// has it as its default, its index and its row go too. Returns how many vectors were deleted.
    ///
    /// The caller refuses to drop the space a tenant answers from.
    @discardableResult
    public func dropEmbeddingSpace(_ space: EmbeddingSpace, tenantID: Int64, logger: Logger) async throws -> Int {
        let rows = try await client.query(
            """
            WITH deleted AS (
                DELETE FROM chunk_embeddings WHERE tenant_id = \(tenantID) AND model_id = \(space.id) RETURNING 1
            )
            SELECT count(*)::bigint FROM deleted
            """, logger: logger)
        var deleted = 0
        for count in try rows.decode(Int64.self) { deleted = Int(count) }
        let unused = try await client.query(
            """
            SELECT NOT EXISTS (SELECT 1 FROM chunk_embeddings WHERE model_id = \(space.id))
               AND NOT EXISTS (SELECT 1 FROM tenants WHERE embedding_model_id = \(space.id))
            """, logger: logger)
        var isUnused = false
        for value in try unused.decode(Bool.self) { isUnused = value }
        if isUnused {
            try await dropEmbeddingIndex(for: space, logger: logger)
            try await client.query(
                """
                DELETE FROM embedding_models m WHERE m.id = \(space.id)
                  AND NOT EXISTS (SELECT 1 FROM chunk_embeddings WHERE model_id = m.id)
                  AND NOT EXISTS (SELECT 1 FROM tenants WHERE embedding_model_id = m.id)
                """, logger: logger)
        }
        return deleted
    }
}
