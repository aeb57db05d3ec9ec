import Logging
import PostgresNIO

/// Finds chunks of one tenant, by vector and by words. Every query is filtered by tenant.
public struct ChunkSearch: Sendable {
    public let client: Database
    /// How vector searches choose between an exact scan and an index.
    public let vectorSearch: VectorSearchSettings

    public init(client: Database, vectorSearch: VectorSearchSettings = .init()) {
        self.client = client
        self.vectorSearch = vectorSearch
    }

    /// A chunk id with its score from one retriever (higher is better).
    public struct Hit: Sendable, Equatable {
        public var chunkID: Int64
        public var score: Double

        public init(chunkID: Int64, score: Double) {
            self.chunkID = chunkID
            self.score = score
        }
    }

    /// The `limit` chunks of the tenant nearest to `vector` by cosine distance. Scores are cosine similarities.
    ///
    /// A tenant with at most ``VectorSearchSettings/exactScanMaxRows`` vectors of the model is searched exactly;
    /// a larger one through an HNSW index (its own partial index when it has one, else the model's) with an
    /// iterative scan, so that a tenant holding a small share of a large index still gets its full top `limit`.
    /// Both run in the tenant scope.
    public func nearest(
        to vector: [Float], modelID: Int, dimensions: Int, tenantID: Int64, limit: Int, logger: Logger
    ) async throws -> [Hit] {
        guard vector.count == dimensions else {
            throw StorageError(
                .inconsistentData, "The query vector has \(vector.count) dimensions where the model stores \(dimensions).")
        }
        guard limit > 0 else { return [] }
        let literal = KnowledgeStore.vectorLiteral(vector)
        let settings = vectorSearch
        return try await client.withTenantScope(tenantID: tenantID, logger: logger) { connection in
            let rows = try await Self.vectorCount(
                modelID: modelID, tenantID: tenantID, atMost: settings.exactScanMaxRows + 1, on: connection, logger: logger)
            let sql: String
            if rows <= settings.exactScanMaxRows {
                // Exact: the tenant's rows through the (model_id, tenant_id) btree, sorted by full-precision distance.
                // The ORDER BY names the uncast column, which no HNSW index matches.
                sql = """
                    SELECT e.chunk_id, 1 - (e.embedding <=> $1::vector)
                    FROM chunk_embeddings e
                    WHERE e.model_id = \(modelID) AND e.tenant_id = $2
                    ORDER BY e.embedding <=> $1::vector
                    LIMIT $3
                    """
            } else {
                try await connection.query(
                    """
                    SELECT set_config('hnsw.iterative_scan', \(settings.iterativeScan.rawValue), true),
                           set_config('hnsw.ef_search', \(String(settings.efSearch(limit: limit))), true),
                           set_config('hnsw.max_scan_tuples', \(String(settings.maxScanTuples)), true)
                    """, logger: logger)
                sql = Self.indexedNearestSQL(modelID: modelID, type: settings.indexedType(dimensions: dimensions))
            }
            var query = PostgresQuery(unsafeSQL: sql)
            query.binds.append(literal, context: .default)
            query.binds.append(tenantID, context: .default)
            query.binds.append(limit, context: .default)
            let found = try await connection.query(query, logger: logger)
            var hits: [Hit] = []
            for try await (id, similarity) in found.decode((Int64, Double).self) {
                hits.append(Hit(chunkID: id, score: similarity.isNaN ? 0 : similarity))
            }
            return hits.sorted { $0.score > $1.score }
        }
    }

    /// The statement of an index search in ``nearest(to:modelID:dimensions:tenantID:limit:logger:)``: `$1` the
    /// vector's text, `$2` the tenant, `$3` the limit. `type` is ``VectorSearchSettings/indexedType(dimensions:)``,
    /// the cast every HNSW index of the model is built on (the model's, ``KnowledgeStore/createEmbeddingIndex(for:settings:logger:)``,
    /// and the tenants' own, ``TenantVectorIndexes``): the `ORDER BY` must name the same expression, or PostgreSQL
    /// scans instead. Only integers and type names are written into it.
    static func indexedNearestSQL(modelID: Int, type: String) -> String {
        """
        SELECT e.chunk_id, 1 - (e.embedding::\(type) <=> $1::\(type))
        FROM chunk_embeddings e
        WHERE e.model_id = \(modelID) AND e.tenant_id = $2
        ORDER BY e.embedding::\(type) <=> $1::\(type)
        LIMIT $3
        """
    }

    /// How many vectors of the model the tenant has, counted up to `atMost` (an index-only scan of the
    /// `(model_id, tenant_id)` btree that stops there).
    static func vectorCount(
        modelID: Int, tenantID: Int64, atMost: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT count(*)::bigint FROM (
                SELECT 1 FROM chunk_embeddings WHERE model_id = \(modelID) AND tenant_id = \(tenantID) LIMIT \(atMost)
            ) AS counted
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// The `limit` chunks that best match any of the words of `text` (PostgreSQL full-text search with the tenant's
    /// text search configuration, `ts_rank` normalised by length): the baseline BM25 replaced
    /// (``bm25(words:tenantID:limit:parameters:logger:)``), kept for comparison in `unity-ai evaluate`.
    ///
    /// Runs as the appliance's own role, not in the tenant scope: under row-level security PostgreSQL may not use the
    /// GIN index for `@@` (its function is not leakproof), and the search became a scan of all the tenant's chunks
    /// (measured with EXPLAIN). It returns ids and scores only; the passages' text is read by ``chunks(ids:tenantID:logger:)``,
    /// in the tenant scope, which drops any id of another tenant.
    public func matching(words text: String, tenantID: Int64, limit: Int, logger: Logger) async throws -> [Hit] {
        let rows = try await client.query(
            """
            WITH settings AS (
                SELECT unity_text_search_config(\(tenantID), \(LexicalIndex.defaultTextSearchConfiguration)) AS config
            ),
            q AS (
                SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS query
                FROM settings, unnest(tsvector_to_array(to_tsvector(settings.config, \(text)))) AS lexeme
            )
            SELECT c.id, ts_rank(c.search_text, q.query, 1)::float8 AS rank
            FROM chunks c, q
            WHERE c.tenant_id = \(tenantID) AND q.query IS NOT NULL AND c.search_text @@ q.query
            ORDER BY rank DESC, c.id
            LIMIT \(limit)
            """, logger: logger)
        var hits: [Hit] = []
        for (id, rank) in try rows.decode((Int64, Double).self) {
            hits.append(Hit(chunkID: id, score: rank))
        }
        return hits
    }

    /// A stored chunk with where it comes from.
    public struct ChunkRecord: Sendable, Equatable {
        public var id: Int64
        public var documentID: Int64
        public var sourceURI: String
        /// The path shown to readers (relative to the ingested root), or the source URI.
        public var displaySource: String
        public var ordinal: Int
        public var text: String
        public var headingPath: [String]
        public var characterRange: Range<Int>
        /// The document is marked private (metadata `private` is `true`): only a local provider may see its text.
        public var isPrivate = false
    }

    /// The chunks with these ids that belong to the tenant, by id.
    public func chunks(ids: [Int64], tenantID: Int64, logger: Logger) async throws -> [Int64: ChunkRecord] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT c.id, c.document_id, d.source_uri, coalesce(d.metadata->>'display_path', d.source_uri),
                   c.ordinal, c.text, c.heading_path, c.char_start, c.char_end,
                   coalesce(lower(d.metadata->>'private') = 'true', false)
            FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.id = ANY(\(ids)::bigint[]) AND c.tenant_id = \(tenantID)
            """, inScopeOf: tenantID, logger: logger)
        var records: [Int64: ChunkRecord] = [:]
        for (id, documentID, uri, display, ordinal, text, headings, start, end, isPrivate) in try rows.decode(
            (Int64, Int64, String, String, Int, String, [String], Int, Int, Bool).self)
        {
            records[id] = ChunkRecord(
                id: id, documentID: documentID, sourceURI: uri, displaySource: display, ordinal: ordinal, text: text,
                headingPath: headings, characterRange: start..<max(start, end), isPrivate: isPrivate)
        }
        return records
    }
}
