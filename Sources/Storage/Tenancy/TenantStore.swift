import Foundation
import Logging
import PostgresNIO
import Routing

/// The tenants: the one authority every tenant-owned row refers to (by id or by name, always by foreign key).
public struct TenantStore: Sendable {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A tenant and how much it holds.
    public struct Tenant: Sendable, Encodable, Equatable {
        public var id: Int64
        public var name: String
        public var createdAt: Date
        public var documents: Int
        public var keys: Int

        enum CodingKeys: String, CodingKey {
            case id, name, createdAt = "created_at", documents, keys
        }
    }

    /// Creates `name`; `false` when it exists already.
    @discardableResult
    public func create(_ name: String) async throws -> Bool {
        try Self.validate(name)
        let rows = try await client.query(
            "INSERT INTO tenants (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING RETURNING id", logger: logger)
        return try !rows.decode(Int64.self).isEmpty
    }

    /// Every tenant, by name.
    public func list() async throws -> [Tenant] {
        let rows = try await client.query(
            """
            SELECT t.id, t.name, t.created_at,
                   (SELECT count(*) FROM documents d WHERE d.tenant_id = t.id)::bigint,
                   (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL)::bigint
            FROM tenants t ORDER BY t.name
            """, logger: logger)
        return try rows.decode((Int64, String, Date, Int64, Int64).self).map {
            Tenant(id: $0.0, name: $0.1, createdAt: $0.2, documents: Int($0.3), keys: Int($0.4))
        }
    }

    /// Deletes `name` and everything it owns: documents, chunks, vectors, knowledge items, usage records, budgets,
    /// cached answers, rate-limit windows, API keys (foreign keys cascade). Returns whether it existed.
    @discardableResult
    public func delete(_ name: String) async throws -> Bool {
        try Self.validate(name)
        return try await client.withTransaction(logger: logger) { connection in
            // Rate-limit windows are keyed by text that embeds the tenant (see PostgresRouterLedgers); they expire
            // within a day anyway, but a deleted tenant leaves nothing.
            try await connection.query(
                "DELETE FROM rate_limit_windows WHERE key = \("tenant:" + name)", logger: self.logger)
            let rows = try await connection.query("DELETE FROM tenants WHERE name = \(name) RETURNING id", logger: self.logger)
            var deleted = false
            for try await _ in rows.decode(Int64.self) { deleted = true }
            return deleted
        }
    }

    static func validate(_ name: String) throws {
        guard TenantName.isValid(name) else {
            throw StorageError(
                .invalidInput, "'\(name.prefix(80))' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'.")
        }
    }
}
