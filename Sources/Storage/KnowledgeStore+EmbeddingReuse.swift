import Logging
import PostgresNIO

/// Hash-keyed reuse of vectors (migration 0010): a vector is stored with the SHA-256 of the exact text it was made
/// from, and ingest looks texts up by (tenant, model, hash) before it embeds them.
extension KnowledgeStore {
    /// Stored vectors of `modelID` in the tenant for any of `textHashes` (lowercase hex SHA-256 of the text
    /// embedded), by hash. Hashes with no vector are absent from the result.
    public func reusableEmbeddings(tenantID: Int64, modelID: Int, textHashes: [String], logger: Logger)
        async throws -> [String: [Float]]
    {
        let wanted = Array(Set(textHashes.filter(Self.isSHA256Hex)))
        guard !wanted.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT DISTINCT ON (e.text_sha256) encode(e.text_sha256, 'hex'), e.embedding::real[]
            FROM chunk_embeddings e
            WHERE e.tenant_id = \(tenantID) AND e.model_id = \(modelID)
              AND e.text_sha256 = ANY(ARRAY(SELECT decode(h, 'hex') FROM unnest(\(wanted)::text[]) AS h))
            """, logger: logger)
        var found: [String: [Float]] = [:]
        for (hash, vector) in try rows.decode((String, [Float]).self) { found[hash] = vector }
        return found
    }

    /// Whether `text` is 64 lowercase hex digits, as a SHA-256 in `text_sha256` is written.
    static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
