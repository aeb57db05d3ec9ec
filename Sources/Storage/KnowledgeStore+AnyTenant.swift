import Logging
import PostgresNIO

/// Documents whose tenant can change: a `knowledge_items` row names its tenant, and an update may move it to
/// another, so its document (`knowledge_items/<id>`) is looked up, and removed, whatever tenant holds it.
extension KnowledgeStore {
    /// The stored documents with these source URIs in any tenant: by source URI, then tenant id.
    public func documentStates(sourceURIs: [String], modelID: Int, logger: Logger) async throws
        -> [String: [Int64: DocumentState]]
    {
        guard !sourceURIs.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.documentStateColumns(modelID: modelID))
            FROM documents d
            WHERE d.source_uri = ANY(\(sourceURIs)::text[])
            """, logger: logger)
        var states: [String: [Int64: DocumentState]] = [:]
        for (tenantID, uri, state) in try Self.decodeDocumentStates(rows) {
            states[uri, default: [:]][tenantID] = state
        }
        return states
    }

    /// Deletes the documents with these source URIs from every tenant but `keptTenantID` (every tenant when it is
    /// `nil`); returns how many went.
    @discardableResult
    public func deleteDocuments(sourceURIs: [String], exceptTenant keptTenantID: Int64?, logger: Logger)
        async throws -> Int
    {
        guard !sourceURIs.isEmpty else { return 0 }
        let rows = try await client.query(
            """
            WITH deleted AS (
                DELETE FROM documents
                WHERE source_uri = ANY(\(sourceURIs)::text[])
                  AND (\(keptTenantID)::bigint IS NULL OR tenant_id <> \(keptTenantID)::bigint)
                RETURNING 1
            )
            SELECT count(*)::bigint FROM deleted
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Deletes a tenant's documents under `prefix` (which ends with `/`) whose metadata `key` is present and sorts
    /// before `value` as text, such as summaries whose ISO 8601 `window_end` is older than a cut-off; returns how
    /// many went.
    @discardableResult
    public func deleteDocuments(
        tenantID: Int64, under prefix: String, whereMetadata key: String, isBefore value: String, logger: Logger
    ) async throws -> Int {
        guard prefix.hasSuffix("/") else {
            throw StorageError(
                .inconsistentData, "The source prefix '\(prefix)' must end with '/' so that it names a folder.")
        }
        let rows = try await client.query(
            """
            WITH deleted AS (
                DELETE FROM documents
                WHERE tenant_id = \(tenantID) AND starts_with(source_uri, \(prefix))
                  AND (metadata->>\(key)) COLLATE "C" < \(value)
                RETURNING 1
            )
            SELECT count(*)::bigint FROM deleted
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
