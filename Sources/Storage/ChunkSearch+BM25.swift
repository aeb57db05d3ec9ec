import Logging
import PostgresNIO

extension ChunkSearch {
    /// The `limit` chunks of the tenant with the highest BM25 score for `text` (see ``LexicalIndex/Parameters``),
    /// best first, ties by chunk id. Scored in one statement over the postings of the query's lexemes, parsed and
    /// stemmed with the configuration the tenant's chunks were indexed with.
    ///
    /// Runs in the tenant scope: the postings are read through their primary key `(tenant_id, term, chunk_id)` with
    /// plain equalities, which row-level security does not keep from the index (unlike `@@`, see
    /// ``matching(words:tenantID:limit:logger:)``).
    public func bm25(
        words text: String, tenantID: Int64, limit: Int, parameters: LexicalIndex.Parameters = .init(), logger: Logger
    ) async throws -> [Hit] {
        if let problem = parameters.problem { throw StorageError(.invalidInput, "BM25: \(problem).") }
        guard limit > 0 else { return [] }
        let (k1, b, headingWeight) = (parameters.k1, parameters.b, parameters.headingWeight)
        // The document frequency and idf of each query lexeme are computed once, in a first pass over its postings
        // (an index-only scan); the second pass scores each posting with constants folded in `collection`.
        let rows = try await client.query(
            """
            WITH settings AS (
                SELECT unity_text_search_config(\(tenantID), \(LexicalIndex.defaultTextSearchConfiguration)) AS config
            ),
            collection AS (
                SELECT sum(chunk_count)::float8 AS n, \(k1) * (1 - \(b)) AS base,
                       \(k1) * \(b) * sum(chunk_count)::float8
                           / nullif(sum(body_length) + \(headingWeight) * sum(heading_length), 0)::float8 AS per_length
                FROM lexical_statistics WHERE tenant_id = \(tenantID)
            ),
            query_terms AS (
                SELECT DISTINCT lexeme FROM settings, unnest(tsvector_to_array(to_tsvector(settings.config, \(text)))) AS lexeme
            ),
            weights AS (
                SELECT q.lexeme,
                       ln(1 + (c.n - count(*)::float8 + 0.5) / (count(*)::float8 + 0.5)) * (\(k1) + 1) AS weight
                FROM query_terms q JOIN lexical_postings p ON p.tenant_id = \(tenantID) AND p.term = q.lexeme, collection c
                GROUP BY q.lexeme, c.n
            )
            SELECT p.chunk_id,
                   sum(w.weight * (p.body_tf + \(headingWeight) * p.heading_tf)
                       / (p.body_tf + \(headingWeight) * p.heading_tf + c.base
                          + c.per_length * (p.body_length + \(headingWeight) * p.heading_length)))::float8 AS score
            FROM weights w JOIN lexical_postings p ON p.tenant_id = \(tenantID) AND p.term = w.lexeme, collection c
            WHERE p.body_tf + \(headingWeight) * p.heading_tf > 0 AND c.per_length > 0
            GROUP BY p.chunk_id
            ORDER BY score DESC, p.chunk_id
            LIMIT \(limit)
            """, inScopeOf: tenantID, logger: logger)
        var hits: [Hit] = []
        for (id, score) in try rows.decode((Int64, Double).self) {
            hits.append(Hit(chunkID: id, score: score.isFinite ? score : 0))
        }
        return hits
    }

    /// The tenant's BM25 statistics: chunk count, total lengths and the document frequency of each of `lexemes`
    /// (already stemmed, as PostgreSQL's configuration makes them).
    public func lexicalStatistics(tenantID: Int64, lexemes: [String] = [], logger: Logger) async throws
        -> LexicalIndex.Statistics
    {
        let totals = try await client.query(
            """
            SELECT coalesce(sum(chunk_count), 0)::bigint, coalesce(sum(body_length), 0)::bigint,
                   coalesce(sum(heading_length), 0)::bigint,
                   (SELECT text_search_config FROM lexical_settings WHERE tenant_id = \(tenantID))
            FROM lexical_statistics WHERE tenant_id = \(tenantID)
            """, inScopeOf: tenantID, logger: logger)
        var statistics = LexicalIndex.Statistics(
            chunkCount: 0, bodyLength: 0, headingLength: 0, documentFrequencies: [:], textSearchConfiguration: nil)
        for (count, body, heading, configuration) in try totals.decode((Int64, Int64, Int64, String?).self) {
            statistics.chunkCount = Int(count)
            statistics.bodyLength = Int(body)
            statistics.headingLength = Int(heading)
            statistics.textSearchConfiguration = configuration
        }
        guard !lexemes.isEmpty else { return statistics }
        let frequencies = try await client.query(
            """
            SELECT term, count(*)::bigint FROM lexical_postings
            WHERE tenant_id = \(tenantID) AND term = ANY(\(lexemes)::text[])
            GROUP BY term
            """, inScopeOf: tenantID, logger: logger)
        for (term, count) in try frequencies.decode((String, Int64).self) {
            statistics.documentFrequencies[term] = Int(count)
        }
        return statistics
    }
}
