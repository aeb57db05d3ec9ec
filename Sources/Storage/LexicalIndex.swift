import Logging
import PostgresNIO

/// The lexical index of migration 0011: BM25 postings made by PostgreSQL's own parser and stemmer, per-tenant
/// statistics kept exact by triggers, and the settings both sides share.
public enum LexicalIndex {
    /// The text search configuration chunks are indexed with unless configured otherwise. The one place the
    /// default is written: the chunker fingerprint, the ingest write and the query all take it from here or from
    /// the setting.
    public static let defaultTextSearchConfiguration = "english"

    /// BM25's parameters, with a weight for the heading field (BM25F with one shared saturation).
    ///
    /// A chunk's term frequency is `tf(text) + headingWeight × tf(headings)` and its length
    /// `length(text) + headingWeight × length(headings)`; the average length is over the tenant's chunks, weighted
    /// the same way. The score of a chunk for a query is the sum over the query's distinct lexemes `t` of
    /// `ln(1 + (N − df + 0.5) / (df + 0.5)) × tf × (k1 + 1) / (tf + k1 × (1 − b + b × length / averageLength))`.
    public struct Parameters: Sendable, Equatable {
        /// Term-frequency saturation. Defaults to 0.9 (Anserini's BEIR setting).
        public var k1 = 0.9
        /// Length normalisation, from 0 (none) to 1 (full). Defaults to 0.4.
        public var b = 0.4
        /// How much a word of the title, headings and tags counts against a word of the text. Defaults to 2,
        /// chosen on SciFact's train split (see docs/benchmarks.md).
        public var headingWeight = 2.0

        public init(k1: Double = 0.9, b: Double = 0.4, headingWeight: Double = 2.0) {
            self.k1 = k1
            self.b = b
            self.headingWeight = headingWeight
        }

        /// Why these parameters cannot be used, or `nil` when they can.
        public var problem: String? {
            guard k1.isFinite, k1 >= 0, k1 <= 10 else { return "k1 must be between 0 and 10" }
            guard b.isFinite, b >= 0, b <= 1 else { return "b must be between 0 and 1" }
            guard headingWeight.isFinite, headingWeight >= 0, headingWeight <= 10 else {
                return "the heading weight must be between 0 and 10"
            }
            return nil
        }
    }

    /// A tenant's collection statistics, as BM25 uses them.
    public struct Statistics: Sendable, Equatable {
        /// Chunks indexed (`N`).
        public var chunkCount: Int
        /// Words of the chunks' text, summed.
        public var bodyLength: Int
        /// Words of the chunks' headings, summed.
        public var headingLength: Int
        /// Chunks holding each lexeme asked about (lexemes in none are absent).
        public var documentFrequencies: [String: Int]
        /// The configuration the tenant's chunks were indexed with, if any were.
        public var textSearchConfiguration: String?
    }

    /// Writes the lexical index of freshly inserted chunks, in the caller's transaction: one statement for all of
    /// them, whatever their number of words. Removing chunks needs no call: the index follows `chunks` by cascade
    /// and trigger (migration 0011), and so do the statistics.
    ///
    /// - Parameters:
    ///   - chunkIDs: the chunks' ids, in the order of `texts` and `headings`.
    ///   - texts: each chunk's text (the body field).
    ///   - headings: each chunk's heading context (title, heading path, tags), the heading field.
    static func write(
        chunkIDs: [Int64], texts: [String], headings: [String], tenantID: Int64, textSearchConfiguration: String,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard chunkIDs.count == texts.count, chunkIDs.count == headings.count else {
            throw StorageError(.inconsistentData, "\(chunkIDs.count) chunk ids for \(texts.count) texts and \(headings.count) headings.")
        }
        guard !chunkIDs.isEmpty else { return }
        try await connection.query(
            """
            WITH setting AS (
                INSERT INTO lexical_settings (tenant_id, text_search_config)
                SELECT \(tenantID), \(textSearchConfiguration)
                WHERE NOT EXISTS (
                    SELECT 1 FROM lexical_settings
                    WHERE tenant_id = \(tenantID) AND text_search_config = \(textSearchConfiguration))
                ON CONFLICT (tenant_id) DO UPDATE SET text_search_config = EXCLUDED.text_search_config
            ),
            input AS (
                SELECT * FROM unnest(\(chunkIDs)::bigint[], \(texts)::text[], \(headings)::text[])
                    AS c(chunk_id, body, heading)
            ),
            occurrences AS (
                SELECT i.chunk_id, l.lexeme, coalesce(cardinality(l.positions), 1) AS tf, 0 AS field
                FROM input i, unnest(to_tsvector(\(textSearchConfiguration)::regconfig, i.body)) AS l
                UNION ALL
                SELECT i.chunk_id, l.lexeme, coalesce(cardinality(l.positions), 1), 1
                FROM input i, unnest(to_tsvector(\(textSearchConfiguration)::regconfig, i.heading)) AS l
            ),
            terms AS (
                SELECT chunk_id, lexeme,
                       coalesce(sum(tf) FILTER (WHERE field = 0), 0)::integer AS body_tf,
                       coalesce(sum(tf) FILTER (WHERE field = 1), 0)::integer AS heading_tf
                FROM occurrences GROUP BY chunk_id, lexeme
            ),
            lengths AS (
                SELECT i.chunk_id, coalesce(sum(t.body_tf), 0)::integer AS body_length,
                       coalesce(sum(t.heading_tf), 0)::integer AS heading_length
                FROM input i LEFT JOIN terms t ON t.chunk_id = i.chunk_id
                GROUP BY i.chunk_id
            ),
            indexed AS (
                INSERT INTO lexical_chunks (chunk_id, tenant_id, body_length, heading_length)
                SELECT chunk_id, \(tenantID), body_length, heading_length FROM lengths
            )
            INSERT INTO lexical_postings (tenant_id, term, chunk_id, body_tf, heading_tf, body_length, heading_length)
            SELECT \(tenantID), t.lexeme, t.chunk_id, t.body_tf, t.heading_tf, l.body_length, l.heading_length
            FROM terms t JOIN lengths l ON l.chunk_id = t.chunk_id
            """, logger: logger)
    }
}
