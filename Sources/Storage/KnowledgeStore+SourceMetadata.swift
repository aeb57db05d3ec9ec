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
