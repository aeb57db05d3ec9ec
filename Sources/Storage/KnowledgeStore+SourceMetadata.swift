import Logging
import PostgresNIO

extension KnowledgeStore {
    /// The distinct values of metadata `key` among a tenant's documents under `prefix` (`nil` where a document
    /// lacks it). An archive's entry documents carry the archive's SHA-256 this way, so an unchanged archive is
    /// recognised by one hash without opening it.
    public func distinctMetadataValues(
        _ key: String, tenantID: Int64, under prefix: String, logger: Logger
    ) async throws -> Set<String?> {
        let rows = try await client.query(
            """
            SELECT DISTINCT metadata->>\(key) FROM documents
            WHERE tenant_id = \(tenantID) AND starts_with(source_uri, \(prefix))
            """, logger: logger)
        var values: Set<String?> = []
        for value in try rows.decode(String?.self) { values.insert(value) }
        return values
    }

    /// Sets metadata `key` to `value` on every document of a tenant under `prefix`, in one statement.
    public func setMetadataValue(
        _ key: String, to value: String, tenantID: Int64, under prefix: String, logger: Logger
    ) async throws {
        try await client.query(
            """
            UPDATE documents SET metadata = jsonb_set(metadata, ARRAY[\(key)]::text[], to_jsonb(\(value)::text))
            WHERE tenant_id = \(tenantID) AND starts_with(source_uri, \(prefix))
            """, logger: logger)
    }
}

extension KnowledgeStore {
    /// Marks the tenant's documents of one ingest root private (metadata `private`: `true`) or not (`false`): the
    /// root is a file's or a directory's `file://` URI, and covers the file itself, everything under the directory,
    /// and an archive's entries. Only rows whose flag changes are written.
    @discardableResult
    public func markPrivate(_ isPrivate: Bool, tenantID: Int64, root: String, logger: Logger) async throws -> Int {
        let value = isPrivate ? "true" : "false"
        let rows = try await client.query(
            """
            WITH marked AS (
                UPDATE documents SET metadata = jsonb_set(metadata, '{private}', to_jsonb(\(isPrivate)::boolean))
                WHERE tenant_id = \(tenantID)
                  AND (source_uri = \(root) OR starts_with(source_uri, \(root) || '/') OR starts_with(source_uri, \(root) || '!/'))
                  AND metadata->>'private' IS DISTINCT FROM \(value)
                RETURNING 1
            )
            SELECT count(*)::bigint FROM marked
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
