import Foundation
import Logging
import PostgresNIO

/// Several documents stored in one transaction, one statement per table: the write path of ingest.
///
/// Measured (docs/benchmarks.md, "Ingest pipeline against its ceilings"): a document written alone costs its own
/// round trips (BEGIN, the locked read of what is stored, the document row, the old chunks' delete, the chunks,
/// their BM25 postings, the vectors, COMMIT) and a commit; written in groups of 16 the same work costs as many round
/// trips and one commit for all of them. Each statement takes the group's rows as arrays (`unnest`), so its cost
/// grows with rows, not with documents.
extension KnowledgeStore {
    /// One document to store with its chunks and their vectors, replacing what was stored under its source URI.
    public struct DocumentWrite: Sendable {
        public var tenantID: Int64
        public var sourceURI: String
        public var contentSHA256: String
        /// A JSON object, stored as the document's `metadata`.
        public var metadataJSON: String
        public var chunks: [NewChunk]
        /// One vector per chunk, of model `modelID`.
        public var embeddings: [[Float]]
        /// Lowercase hex SHA-256 of the text each vector was made from, one per chunk, or none.
        public var textHashes: [String]
        public var modelID: Int
        /// The PostgreSQL text search configuration that parses and stems the chunks for the lexical indexes (full
        /// text and BM25).
        public var textSearchConfiguration: String

        /// A document with its chunks and vectors.
        public init(
            tenantID: Int64, sourceURI: String, contentSHA256: String, metadataJSON: String, chunks: [NewChunk],
            embeddings: [[Float]], textHashes: [String] = [], modelID: Int,
            textSearchConfiguration: String = LexicalIndex.defaultTextSearchConfiguration
        ) {
            self.tenantID = tenantID
            self.sourceURI = sourceURI
            self.contentSHA256 = contentSHA256
            self.metadataJSON = metadataJSON
            self.chunks = chunks
            self.embeddings = embeddings
            self.textHashes = textHashes
            self.modelID = modelID
            self.textSearchConfiguration = textSearchConfiguration
        }

        /// Refuses a write whose vectors or hashes do not match its chunks.
        func validate() throws {
            guard chunks.count == embeddings.count else {
                throw StorageError(
                    .inconsistentData, "\(chunks.count) chunks but \(embeddings.count) embeddings for \(sourceURI).")
            }
            guard textHashes.isEmpty || (textHashes.count == chunks.count && textHashes.allSatisfy(KnowledgeStore.isSHA256Hex))
            else {
                throw StorageError(.inconsistentData, "The text hashes for \(sourceURI) do not match its chunks.")
            }
        }
    }

    /// The most documents ``replaceDocuments(_:logger:)`` takes at once.
    public static let maximumDocumentsPerWrite = 1_000

    /// Stores `writes` in one transaction: every document with all its chunks and vectors, or (on any error)
    /// none of them, the previously stored versions left in place. Returns the documents' ids, in order.
    ///
    /// Chunks are shared by every embedding space (migration 0012). A document stored with the same content,
    /// chunked the same way (the `chunker` entry of the metadata) and into as many chunks keeps its chunks, their
    /// BM25 postings and every other model's vectors; only the write's model's vectors are stored (replacing any it
    /// had): re-ingesting with a second model adds a space and keeps the first. Any other document's chunks are
    /// replaced, and the vectors of every model go with them; the write's model's are stored anew, the others
    /// come back with `unity-ai reindex`. Which documents keep their chunks is decided by one locked read for the
    /// whole group.
    ///
    /// Two writes of one tenant and source URI in the same call are refused (the later would silently win).
    /// Document rows are locked and upserted in (tenant, source URI) order, so that two instances writing
    /// overlapping groups wait for each other instead of deadlocking.
    @discardableResult
    public func replaceDocuments(_ writes: [DocumentWrite], logger: Logger) async throws -> [Int64] {
        guard !writes.isEmpty else { return [] }
        guard writes.count <= Self.maximumDocumentsPerWrite else {
            throw StorageError(
                .inconsistentData, "\(writes.count) documents in one write; at most \(Self.maximumDocumentsPerWrite).")
        }
        for write in writes { try write.validate() }
        let keys = writes.map { DocumentKey(tenantID: $0.tenantID, sourceURI: $0.sourceURI) }
        guard Set(keys).count == keys.count else {
            throw StorageError(.inconsistentData, "The same document is written twice in one transaction.")
        }
        return try await client.withTransaction(logger: logger) { connection in
            let keeping = try await Self.keepingChunks(writes, keys: keys, on: connection, logger: logger)
            let ids = try await Self.upsertDocuments(writes, keys: keys, on: connection, logger: logger)
            let kept = writes.indices.filter { keeping[$0] }
            let replaced = writes.indices.filter { !keeping[$0] }
            if !kept.isEmpty {
                let keptRows = Self.ChunkRows(writes: kept.map { writes[$0] }, documentIDs: kept.map { ids[$0] })
                try await Self.replaceEmbeddings(ofKeptChunks: keptRows, on: connection, logger: logger)
            }
            let replacedIDs = replaced.map { ids[$0] }
            guard !replacedIDs.isEmpty else { return ids }
            try await connection.query(
                "DELETE FROM chunks WHERE document_id = ANY(\(replacedIDs)::bigint[])", logger: logger)
            let rows = Self.ChunkRows(writes: replaced.map { writes[$0] }, documentIDs: replacedIDs)
            guard !rows.ordinals.isEmpty else { return ids }
            let chunkIDs = try await Self.insertChunks(rows, on: connection, logger: logger)
            try await Self.indexWords(rows, chunkIDs: chunkIDs, on: connection, logger: logger)
            try await Self.insertEmbeddings(rows, chunkIDs: chunkIDs, on: connection, logger: logger)
            return ids
        }
    }

    /// A document's identity: its tenant and source URI.
    struct DocumentKey: Hashable, Comparable {
        var tenantID: Int64
        var sourceURI: String

        static func < (left: Self, right: Self) -> Bool {
            (left.tenantID, left.sourceURI) < (right.tenantID, right.sourceURI)
        }
    }

    /// For each write, whether its document is stored with the same content, chunker fingerprint and number of
    /// chunks, so that its chunks are kept. One statement for the group; the stored rows are locked in key order
    /// (the order ``upsertDocuments(_:keys:on:logger:)`` then writes them in).
    static func keepingChunks(
        _ writes: [DocumentWrite], keys: [DocumentKey], on connection: PostgresConnection, logger: Logger
    ) async throws -> [Bool] {
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        let rows = try await connection.query(
            """
            SELECT k.position,
                   d.content_sha256 = k.content_sha256
                   AND d.metadata->>'chunker' = k.metadata::jsonb->>'chunker'
                   AND (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) = k.chunk_count
            FROM unnest(\(order.map { writes[$0].tenantID })::bigint[], \(order.map { writes[$0].sourceURI })::text[],
                        \(order.map { writes[$0].contentSHA256 })::text[], \(order.map { writes[$0].metadataJSON })::text[],
                        \(order.map { writes[$0].chunks.count })::bigint[])
                 WITH ORDINALITY AS k(tenant_id, source_uri, content_sha256, metadata, chunk_count, position)
            JOIN documents d ON d.tenant_id = k.tenant_id AND d.source_uri = k.source_uri
            ORDER BY k.position
            FOR UPDATE OF d
            """, logger: logger)
        var keeping = [Bool](repeating: false, count: writes.count)
        for try await (position, same) in rows.decode((Int64, Bool?).self) {
            // `position` counts from 1 through `order`, which holds indices of `writes`.
            let sorted = Int(position) - 1
            guard order.indices.contains(sorted) else { continue }
            keeping[order[sorted]] = same ?? false
        }
        return keeping
    }

    /// Stores the vectors of kept chunks (found by document and ordinal), replacing any of the same model, and
    /// their heading line where the stored one differs (chunks stored before migration 0012 have none).
    static func replaceEmbeddings(
        ofKeptChunks rows: ChunkRows, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !rows.ordinals.isEmpty else { return }
        try await connection.query(
            """
            UPDATE chunks c SET embedding_context = n.context
            FROM unnest(\(rows.documentIDs)::bigint[], \(rows.ordinals)::bigint[], \(rows.embeddingContexts)::text[])
                 AS n(document_id, ordinal, context)
            WHERE c.document_id = n.document_id AND c.ordinal = n.ordinal AND n.context <> ''
              AND c.embedding_context IS DISTINCT FROM n.context
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding, text_sha256)
            SELECT c.id, e.model_id, e.tenant_id, e.embedding::vector, decode(nullif(e.hash, ''), 'hex')
            FROM unnest(\(rows.documentIDs)::bigint[], \(rows.ordinals)::bigint[], \(rows.modelIDs)::bigint[],
                        \(rows.tenantIDs)::bigint[], \(rows.vectors)::text[], \(rows.textHashes)::text[])
                 AS e(document_id, ordinal, model_id, tenant_id, embedding, hash)
            JOIN chunks c ON c.document_id = e.document_id AND c.ordinal = e.ordinal
            ON CONFLICT (chunk_id, model_id) DO UPDATE
            SET embedding = EXCLUDED.embedding, text_sha256 = EXCLUDED.text_sha256
            """, logger: logger)
    }

    /// Inserts or updates the document rows, in key order; returns their ids in the order of `writes`.
    static func upsertDocuments(
        _ writes: [DocumentWrite], keys: [DocumentKey], on connection: PostgresConnection, logger: Logger
    ) async throws -> [Int64] {
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        let rows = try await connection.query(
            """
            INSERT INTO documents (tenant_id, source_uri, content_sha256, metadata)
            SELECT d.tenant_id, d.source_uri, d.content_sha256, d.metadata::jsonb
            FROM unnest(\(order.map { writes[$0].tenantID })::bigint[], \(order.map { writes[$0].sourceURI })::text[],
                        \(order.map { writes[$0].contentSHA256 })::text[], \(order.map { writes[$0].metadataJSON })::text[])
                 WITH ORDINALITY AS d(tenant_id, source_uri, content_sha256, metadata, position)
            ORDER BY d.position
            ON CONFLICT (tenant_id, source_uri) DO UPDATE
            SET content_sha256 = EXCLUDED.content_sha256, metadata = EXCLUDED.metadata, updated_at = now()
            RETURNING id, tenant_id, source_uri
            """, logger: logger)
        var idsByKey: [DocumentKey: Int64] = [:]
        for try await (id, tenantID, uri) in rows.decode((Int64, Int64, String).self) {
            idsByKey[DocumentKey(tenantID: tenantID, sourceURI: uri)] = id
        }
        return try keys.map { key in
            guard let id = idsByKey[key] else {
                throw StorageError(.inconsistentData, "Storing \(key.sourceURI) returned no document id.")
            }
            return id
        }
    }

    /// The chunks of a group of documents as the columns of one `unnest`, each row knowing its document.
    struct ChunkRows {
        var documentIDs: [Int64] = []
        var tenantIDs: [Int64] = []
        var ordinals: [Int] = []
        var texts: [String] = []
        var tokenCounts: [Int] = []
        var starts: [Int] = []
        var ends: [Int] = []
        /// JSON arrays of the heading paths.
        var headingPaths: [String] = []
        var searchTexts: [String] = []
        /// The heading context (title, heading path, tags): BM25's heading field.
        var headingTexts: [String] = []
        /// The heading line embedded before each chunk's text, or empty when not known (stored as NULL).
        var embeddingContexts: [String] = []
        var textSearchConfigurations: [String] = []
        var modelIDs: [Int] = []
        var vectors: [String] = []
        /// Lowercase hex, or empty where the write gave no hashes (stored as NULL).
        var textHashes: [String] = []

        init(writes: [DocumentWrite], documentIDs ids: [Int64]) {
            let encoder = JSONEncoder()
            for (write, id) in zip(writes, ids) {
                for (position, chunk) in write.chunks.enumerated() {
                    documentIDs.append(id)
                    tenantIDs.append(write.tenantID)
                    ordinals.append(chunk.ordinal)
                    texts.append(chunk.text)
                    tokenCounts.append(chunk.tokenCount)
                    starts.append(chunk.characterRange.lowerBound)
                    ends.append(chunk.characterRange.upperBound)
                    let heading = (try? encoder.encode(chunk.headingPath)).map { String(decoding: $0, as: UTF8.self) }
                    headingPaths.append(heading ?? "[]")
                    searchTexts.append(chunk.searchText)
                    headingTexts.append(chunk.headingText)
                    embeddingContexts.append(chunk.embeddingContext ?? "")
                    textSearchConfigurations.append(write.textSearchConfiguration)
                    modelIDs.append(write.modelID)
                    vectors.append(KnowledgeStore.vectorLiteral(write.embeddings[position]))
                    textHashes.append(write.textHashes.isEmpty ? "" : write.textHashes[position])
                }
            }
        }
    }

    /// Inserts every chunk of the group in one statement; returns their ids in row order.
    static func insertChunks(_ rows: ChunkRows, on connection: PostgresConnection, logger: Logger) async throws -> [Int64] {
        let inserted = try await connection.query(
            """
            INSERT INTO chunks (document_id, tenant_id, ordinal, text, token_count, char_start, char_end,
                                heading_path, search_text, embedding_context)
            SELECT c.document_id, c.tenant_id, c.ordinal, c.text, c.token_count, c.char_start, c.char_end,
                   ARRAY(SELECT jsonb_array_elements_text(c.heading::jsonb)),
                   to_tsvector(c.config::regconfig, c.search), nullif(c.context, '')
            FROM unnest(\(rows.documentIDs)::bigint[], \(rows.tenantIDs)::bigint[], \(rows.ordinals)::bigint[],
                        \(rows.texts)::text[], \(rows.tokenCounts)::bigint[], \(rows.starts)::bigint[],
                        \(rows.ends)::bigint[], \(rows.headingPaths)::text[], \(rows.searchTexts)::text[],
                        \(rows.textSearchConfigurations)::text[], \(rows.embeddingContexts)::text[])
                 AS c(document_id, tenant_id, ordinal, text, token_count, char_start, char_end, heading, search, config,
                      context)
            RETURNING id, document_id, ordinal
            """, logger: logger)
        var position: [ChunkKey: Int] = [:]
        for index in rows.ordinals.indices {
            position[ChunkKey(documentID: rows.documentIDs[index], ordinal: rows.ordinals[index])] = index
        }
        var chunkIDs = [Int64?](repeating: nil, count: rows.ordinals.count)
        for try await (id, documentID, ordinal) in inserted.decode((Int64, Int64, Int).self) {
            guard let index = position[ChunkKey(documentID: documentID, ordinal: ordinal)] else { continue }
            chunkIDs[index] = id
        }
        return try chunkIDs.map { id in
            guard let id else { throw StorageError(.inconsistentData, "A stored chunk returned no id.") }
            return id
        }
    }

    /// A chunk's place: its document and ordinal (unique in `chunks`).
    struct ChunkKey: Hashable {
        var documentID: Int64
        var ordinal: Int
    }

    /// Writes the BM25 postings of the group's chunks (``LexicalIndex``): one statement per tenant and text search
    /// configuration in the group, usually one.
    static func indexWords(
        _ rows: ChunkRows, chunkIDs: [Int64], on connection: PostgresConnection, logger: Logger
    ) async throws {
        struct Key: Hashable {
            var tenantID: Int64
            var configuration: String
        }
        var groups: [Key: [Int]] = [:]
        var order: [Key] = []
        for index in chunkIDs.indices {
            let key = Key(tenantID: rows.tenantIDs[index], configuration: rows.textSearchConfigurations[index])
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        for key in order {
            let indices = groups[key] ?? []
            try await LexicalIndex.write(
                chunkIDs: indices.map { chunkIDs[$0] }, texts: indices.map { rows.texts[$0] },
                headings: indices.map { rows.headingTexts[$0] }, tenantID: key.tenantID,
                textSearchConfiguration: key.configuration, on: connection, logger: logger)
        }
    }

    /// Inserts the vector of every chunk of the group in one statement.
    static func insertEmbeddings(
        _ rows: ChunkRows, chunkIDs: [Int64], on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding, text_sha256)
            SELECT e.chunk_id, e.model_id, e.tenant_id, e.embedding::vector, decode(nullif(e.hash, ''), 'hex')
            FROM unnest(\(chunkIDs)::bigint[], \(rows.modelIDs)::bigint[], \(rows.tenantIDs)::bigint[],
                        \(rows.vectors)::text[], \(rows.textHashes)::text[])
                 AS e(chunk_id, model_id, tenant_id, embedding, hash)
            """, logger: logger)
    }
}
