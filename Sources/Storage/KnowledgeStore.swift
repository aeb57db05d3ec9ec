import Foundation
import Logging
import PostgresNIO

/// The knowledge base in PostgreSQL: tenants, documents, their chunks and chunk embeddings.
public struct KnowledgeStore: Sendable {
    public let client: Database

    public init(client: Database) {
        self.client = client
    }

    // MARK: Tenants

    /// The id of the tenant called `name`, or `nil` when there is none.
    public func tenantID(named name: String, logger: Logger) async throws -> Int64? {
        let rows = try await client.query("SELECT id FROM tenants WHERE name = \(name)", logger: logger)
        for id in try rows.decode(Int64.self) { return id }
        return nil
    }

    /// The id of the tenant called `name`, created if absent.
    public func ensureTenant(named name: String, logger: Logger) async throws -> Int64 {
        let rows = try await client.query(
            """
            WITH inserted AS (
                INSERT INTO tenants (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING RETURNING id
            )
            SELECT id FROM inserted UNION ALL SELECT id FROM tenants WHERE name = \(name)
            """, logger: logger)
        for id in try rows.decode(Int64.self) { return id }
        // Another transaction inserted the name after this statement began (two syncs meeting a new tenant at
        // once): the conflict was waited for, but the statement's snapshot cannot see the row. A new statement can.
        if let id = try await tenantID(named: name, logger: logger) { return id }
        throw StorageError(.inconsistentData, "The tenant '\(name)' could not be created.")
    }

    // MARK: Documents

    /// What is stored of one document, to decide whether it needs work.
    public struct DocumentState: Sendable, Equatable {
        public var id: Int64
        public var contentSHA256: String
        /// The chunker settings the chunks were made with.
        public var chunkerFingerprint: String?
        public var chunkCount: Int
        /// Chunks that have a vector of the model asked about.
        public var embeddedChunkCount: Int
    }

    /// Which stored documents belong to one ingest root.
    public enum SourceScope: Sendable, Equatable {
        /// Exactly one document: a root that is a file. `file:///docs/README` never covers `file:///docs/README.md`.
        case document(String)
        /// Every document under a folder-like prefix, which must end with its delimiter (`file:///docs/`,
        /// `beir://scifact/`), so that `/docs` never covers `/docs-old`.
        case under(String)
    }

    /// The stored documents of a tenant in `scope`, by source URI.
    public func documentStates(tenantID: Int64, scope: SourceScope, modelID: Int, logger: Logger)
        async throws -> [String: DocumentState]
    {
        let (uri, exact): (String, Bool) =
            switch scope {
            case .document(let uri): (uri, true)
            case .under(let prefix): (prefix, false)
            }
        guard exact || uri.hasSuffix("/") else {
            throw StorageError(.inconsistentData, "The source prefix '\(uri)' must end with '/' so that it names a folder.")
        }
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.documentStateColumns(modelID: modelID))
            FROM documents d
            WHERE d.tenant_id = \(tenantID)
              AND CASE WHEN \(exact) THEN d.source_uri = \(uri) ELSE starts_with(d.source_uri, \(uri)) END
            """, logger: logger)
        var states: [String: DocumentState] = [:]
        for (_, uri, state) in try Self.decodeDocumentStates(rows) { states[uri] = state }
        return states
    }

    /// The columns ``decodeDocumentStates(_:)`` reads, over `documents d`: the chunk counts are those with a vector
    /// of `modelID` (an integer, so safe to write into the statement).
    static func documentStateColumns(modelID: Int) -> String {
        """
        d.id, d.tenant_id, d.source_uri, d.content_sha256, d.metadata->>'chunker',
               (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)::bigint,
               (SELECT count(*) FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id
                 WHERE c.document_id = d.id AND e.model_id = \(modelID))::bigint
        """
    }

    /// Tenant id, source URI and state of each row selected with ``documentStateColumns(modelID:)``.
    static func decodeDocumentStates(_ rows: QueryRows) throws -> [(tenantID: Int64, uri: String, state: DocumentState)] {
        try rows.decode((Int64, Int64, String, String, String?, Int64, Int64).self).map {
            id, tenantID, uri, sha, fingerprint, chunkCount, embeddedCount in
            (
                tenantID, uri,
                DocumentState(
                    id: id, contentSHA256: sha, chunkerFingerprint: fingerprint, chunkCount: Int(chunkCount),
                    embeddedChunkCount: Int(embeddedCount))
            )
        }
    }

    /// A chunk to store.
    public struct NewChunk: Sendable, Equatable {
        public var ordinal: Int
        public var text: String
        public var tokenCount: Int
        public var characterRange: Range<Int>
        public var headingPath: [String]
        /// The text the lexical index is built from (heading path, title and chunk text).
        public var searchText: String
        /// The heading line embedded before the text (title, headings, tags), stored so that another embedding
        /// space can be built from the chunk alone (`unity-ai reindex`); `nil` when not known.
        public var embeddingContext: String?

        public init(
            ordinal: Int, text: String, tokenCount: Int, characterRange: Range<Int>, headingPath: [String],
            searchText: String, embeddingContext: String? = nil
        ) {
            self.ordinal = ordinal
            self.text = text
            self.tokenCount = tokenCount
            self.characterRange = characterRange
            self.headingPath = headingPath
            self.searchText = searchText
            self.embeddingContext = embeddingContext
        }
    }

    /// Stores a document with its chunks and their vectors of `modelID`, replacing what was stored under the same
    /// source URI, in one transaction: a failure leaves the previous version in place.
    ///
    /// Chunks are shared by every embedding space. When the stored document has the same content, was chunked the
    /// same way (the `chunker` entry of the metadata) and has as many chunks, its chunks are kept with every other
    /// model's vectors, and only this model's vectors are written (replacing any it had): re-ingesting with a
    /// second model adds a space and keeps the first. Otherwise the chunks are replaced, and the vectors of every
    /// model go with them; this model's are written anew, the others come back with `unity-ai reindex`.
    ///
    /// `textHashes` (lowercase hex SHA-256 of the text each vector was made from, one per chunk, or none) are
    /// stored with the vectors so that a later ingest can reuse them (``reusableEmbeddings(tenantID:modelID:textHashes:logger:)``).
    @discardableResult
    public func replaceDocument(
        tenantID: Int64,
        sourceURI: String,
        contentSHA256: String,
        metadataJSON: String,
        chunks: [NewChunk],
        embeddings: [[Float]],
        textHashes: [String] = [],
        modelID: Int,
        logger: Logger
    ) async throws -> Int64 {
        guard chunks.count == embeddings.count else {
            throw StorageError(
                .inconsistentData, "\(chunks.count) chunks but \(embeddings.count) embeddings for \(sourceURI).")
        }
        guard textHashes.isEmpty || (textHashes.count == chunks.count && textHashes.allSatisfy(Self.isSHA256Hex)) else {
            throw StorageError(.inconsistentData, "The text hashes for \(sourceURI) do not match its chunks.")
        }
        return try await client.withTransaction(logger: logger) { connection in
            if let documentID = try await Self.sameChunking(
                tenantID: tenantID, sourceURI: sourceURI, contentSHA256: contentSHA256, metadataJSON: metadataJSON,
                chunkCount: chunks.count, connection: connection, logger: logger)
            {
                try await Self.addEmbeddings(
                    toDocument: documentID, tenantID: tenantID, metadataJSON: metadataJSON, chunks: chunks,
                    embeddings: embeddings, textHashes: textHashes, modelID: modelID, connection: connection,
                    logger: logger)
                return documentID
            }
            let rows = try await connection.query(
                """
                INSERT INTO documents (tenant_id, source_uri, content_sha256, metadata)
                VALUES (\(tenantID), \(sourceURI), \(contentSHA256), \(metadataJSON)::jsonb)
                ON CONFLICT (tenant_id, source_uri) DO UPDATE
                SET content_sha256 = EXCLUDED.content_sha256, metadata = EXCLUDED.metadata, updated_at = now()
                RETURNING id
                """, logger: logger)
            var documentID: Int64?
            for try await id in rows.decode(Int64.self) { documentID = id }
            guard let documentID else {
                throw StorageError(.inconsistentData, "Storing \(sourceURI) returned no document id.")
            }
            try await connection.query("DELETE FROM chunks WHERE document_id = \(documentID)", logger: logger)
            guard !chunks.isEmpty else { return documentID }

            let headingPaths = try chunks.map { chunk in
                String(decoding: try JSONEncoder().encode(chunk.headingPath), as: UTF8.self)
            }
            let inserted = try await connection.query(
                """
                INSERT INTO chunks (document_id, tenant_id, ordinal, text, token_count, char_start, char_end,
                                    heading_path, search_text, embedding_context)
                SELECT \(documentID), \(tenantID), c.ordinal, c.text, c.token_count, c.char_start, c.char_end,
                       ARRAY(SELECT jsonb_array_elements_text(c.heading::jsonb)),
                       to_tsvector('english', c.search), nullif(c.context, '')
                FROM unnest(\(chunks.map(\.ordinal))::bigint[], \(chunks.map(\.text))::text[],
                            \(chunks.map(\.tokenCount))::bigint[], \(chunks.map(\.characterRange.lowerBound))::bigint[],
                            \(chunks.map(\.characterRange.upperBound))::bigint[], \(headingPaths)::text[],
                            \(chunks.map(\.searchText))::text[], \(chunks.map { $0.embeddingContext ?? "" })::text[])
                     AS c(ordinal, text, token_count, char_start, char_end, heading, search, context)
                RETURNING id, ordinal
                """, logger: logger)
            var chunkIDs = [Int64](repeating: 0, count: chunks.count)
            for try await (id, ordinal) in inserted.decode((Int64, Int).self) {
                guard let position = chunks.firstIndex(where: { $0.ordinal == ordinal }) else { continue }
                chunkIDs[position] = id
            }
            try await connection.query(
                """
                INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding, text_sha256)
                SELECT e.chunk_id, \(modelID), \(tenantID), e.embedding::vector, decode(e.hash, 'hex')
                FROM unnest(\(chunkIDs)::bigint[], \(embeddings.map(Self.vectorLiteral))::text[], \(textHashes)::text[])
                     AS e(chunk_id, embedding, hash)
                """, logger: logger)
            return documentID
        }
    }

    /// The id of the tenant's document at `sourceURI` if it holds `contentSHA256`, chunked as `metadataJSON`'s
    /// `chunker` entry says, in `chunkCount` chunks; its row is locked for the transaction. `nil` otherwise.
    static func sameChunking(
        tenantID: Int64, sourceURI: String, contentSHA256: String, metadataJSON: String, chunkCount: Int,
        connection: PostgresConnection, logger: Logger
    ) async throws -> Int64? {
        let rows = try await connection.query(
            """
            SELECT d.id FROM documents d
            WHERE d.tenant_id = \(tenantID) AND d.source_uri = \(sourceURI) AND d.content_sha256 = \(contentSHA256)
              AND d.metadata->>'chunker' = (\(metadataJSON)::jsonb)->>'chunker'
              AND (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) = \(chunkCount)
            FOR UPDATE
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        return nil
    }

    /// Writes vectors of `modelID` for the kept chunks of a document (by ordinal), replacing any of that model,
    /// and its new metadata.
    static func addEmbeddings(
        toDocument documentID: Int64, tenantID: Int64, metadataJSON: String, chunks: [NewChunk], embeddings: [[Float]],
        textHashes: [String], modelID: Int, connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE documents SET metadata = \(metadataJSON)::jsonb, updated_at = now() WHERE id = \(documentID)
            """, logger: logger)
        guard !chunks.isEmpty else { return }
        try await connection.query(
            """
            UPDATE chunks c SET embedding_context = n.context
            FROM unnest(\(chunks.map(\.ordinal))::bigint[], \(chunks.map { $0.embeddingContext ?? "" })::text[]) AS n(ordinal, context)
            WHERE c.document_id = \(documentID) AND c.ordinal = n.ordinal AND n.context <> ''
              AND c.embedding_context IS DISTINCT FROM n.context
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding, text_sha256)
            SELECT c.id, \(modelID), \(tenantID), e.embedding::vector, decode(e.hash, 'hex')
            FROM unnest(\(chunks.map(\.ordinal))::bigint[], \(embeddings.map(Self.vectorLiteral))::text[],
                        \(textHashes)::text[])
                 AS e(ordinal, embedding, hash)
            JOIN chunks c ON c.document_id = \(documentID) AND c.ordinal = e.ordinal
            ON CONFLICT (chunk_id, model_id) DO UPDATE
            SET embedding = EXCLUDED.embedding, text_sha256 = EXCLUDED.text_sha256
            """, logger: logger)
    }

    /// Deletes the tenant's documents with these source URIs (their chunks and vectors go with them).
    @discardableResult
    public func deleteDocuments(tenantID: Int64, sourceURIs: [String], logger: Logger) async throws -> Int {
        guard !sourceURIs.isEmpty else { return 0 }
        let rows = try await client.query(
            """
            WITH deleted AS (
                DELETE FROM documents WHERE tenant_id = \(tenantID) AND source_uri = ANY(\(sourceURIs)::text[])
                RETURNING 1
            )
            SELECT count(*)::bigint FROM deleted
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// pgvector's text form of a vector: `[0.1,0.2,…]`.
    public static func vectorLiteral(_ vector: [Float]) -> String {
        "[" + vector.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "]"
    }
}
