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
        /// The heading context (title, heading path, tags): BM25's heading field, weighted apart from ``text``.
        public var headingText: String
        /// The heading line embedded before the text (title, headings, tags), stored so that another embedding
        /// space can be built from the chunk alone (`unity-ai reindex`); `nil` when not known.
        public var embeddingContext: String?

        public init(
            ordinal: Int, text: String, tokenCount: Int, characterRange: Range<Int>, headingPath: [String],
            searchText: String, headingText: String = "", embeddingContext: String? = nil
        ) {
            self.ordinal = ordinal
            self.text = text
            self.tokenCount = tokenCount
            self.characterRange = characterRange
            self.headingPath = headingPath
            self.searchText = searchText
            self.headingText = headingText
            self.embeddingContext = embeddingContext
        }
    }

    /// Stores a document with its chunks and their vectors of `modelID`, replacing what was stored under the same
    /// source URI, in one transaction: a failure leaves the previous version in place. ``replaceDocuments(_:logger:)``
    /// stores several in one, and says when the stored chunks (with every other model's vectors) are kept.
    ///
    /// `textHashes` (lowercase hex SHA-256 of the text each vector was made from, one per chunk, or none) are
    /// stored with the vectors so that a later ingest can reuse them (``reusableEmbeddings(tenantID:modelID:textHashes:logger:)``).
    /// `textSearchConfiguration` parses and stems the chunks for the lexical indexes (full text and BM25).
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
        textSearchConfiguration: String = LexicalIndex.defaultTextSearchConfiguration,
        logger: Logger
    ) async throws -> Int64 {
        let ids = try await replaceDocuments(
            [
                DocumentWrite(
                    tenantID: tenantID, sourceURI: sourceURI, contentSHA256: contentSHA256, metadataJSON: metadataJSON,
                    chunks: chunks, embeddings: embeddings, textHashes: textHashes, modelID: modelID,
                    textSearchConfiguration: textSearchConfiguration)
            ], logger: logger)
        guard let id = ids.first else {
            throw StorageError(.inconsistentData, "Storing \(sourceURI) returned no document id.")
        }
        return id
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
