import Logging
import PostgresNIO

/// Finds chunks of one tenant, by vector and by words. Every query is filtered by tenant.
public struct ChunkSearch: Sendable {
    public let client: Database

    public init(client: Database) {
        self.client = client
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

    /// The `limit` chunks nearest to `vector` by cosine distance, through the model's HNSW index (on
    /// ``EmbeddingSpace/indexedType(dimensions:)``).
    /// Scores are cosine similarities.
    public func nearest(
        to vector: [Float], modelID: Int, dimensions: Int, tenantID: Int64, limit: Int, logger: Logger
    ) async throws -> [Hit] {
        guard vector.count == dimensions else {
            throw StorageError(
                .inconsistentData, "The query vector has \(vector.count) dimensions where the model stores \(dimensions).")
        }
        let literal = KnowledgeStore.vectorLiteral(vector)
        // The model's index is on this cast (halfvec past 2,000 dimensions): the search must cast the same way.
        let type = EmbeddingSpace.indexedType(dimensions: dimensions)
        let efSearch = max(40, limit * 2)
        return try await client.withTenantScope(tenantID: tenantID, logger: logger) { connection in
            // Iterative scans keep returning rows when the tenant filter removes most of the nearest ones.
            try await connection.query(
                PostgresQuery(unsafeSQL: "SET LOCAL hnsw.iterative_scan = relaxed_order"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL hnsw.ef_search = \(efSearch)"), logger: logger)
            var query = PostgresQuery(unsafeSQL: Self.nearestSQL(modelID: modelID, type: type))
            query.binds.append(literal, context: .default)
            query.binds.append(tenantID, context: .default)
            query.binds.append(limit, context: .default)
            let rows = try await connection.query(query, logger: logger)
            var hits: [Hit] = []
            for try await (id, similarity) in rows.decode((Int64, Double).self) {
                hits.append(Hit(chunkID: id, score: similarity.isNaN ? 0 : similarity))
            }
            return hits.sorted { $0.score > $1.score }
        }
    }

    /// The statement of ``nearest(to:modelID:dimensions:tenantID:limit:logger:)``: `$1` the vector's text, `$2` the
    /// tenant, `$3` the limit; `type` the space's ``EmbeddingSpace/indexedType`` (only integers and type names are
    /// written into it).
    static func nearestSQL(modelID: Int, type: String) -> String {
        """
        SELECT e.chunk_id, 1 - (e.embedding::\(type) <=> $1::\(type))
        FROM chunk_embeddings e
        WHERE e.model_id = \(modelID) AND e.tenant_id = $2
        ORDER BY e.embedding::\(type) <=> $1::\(type)
        LIMIT $3
        """
    }

    /// The `limit` chunks that best match any of the words of `text` (PostgreSQL full-text search, English
    /// stemming, `ts_rank` normalised by length).
    ///
    /// Runs as the appliance's own role, not in the tenant scope: under row-level security PostgreSQL may not use the
    /// GIN index for `@@` (its function is not leakproof), and the search became a scan of all the tenant's chunks
    /// (measured with EXPLAIN). It returns ids and scores only; the passages' text is read by ``chunks(ids:tenantID:logger:)``,
    /// in the tenant scope, which drops any id of another tenant.
    public func matching(words text: String, tenantID: Int64, limit: Int, logger: Logger) async throws -> [Hit] {
        let rows = try await client.query(
            """
            WITH q AS (
                SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS query
                FROM unnest(tsvector_to_array(to_tsvector('english', \(text)))) AS lexeme
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
