import Logging
import PostgresNIO

extension Database {
    /// The role request queries run as: neither superuser nor owner of any table, so the row-level security policies
    /// of migration 0008 apply to it.
    public static let requestRole = "unity_ai_request"

    /// Runs `body` in a transaction confined to one tenant: as ``requestRole``, with the tenant in the settings
    /// `unity.tenant_id` and `unity.tenant` (`tenant`, the name, for the tables keyed by name) that the policies read;
    /// a setting not given shows none of its tables' rows. A query in `body` that forgets its tenant filter
    /// still sees that tenant's rows only — defence in depth behind the filters every query has.
    public func withTenantScope<Result: Sendable>(
        tenantID: Int64?, tenant: String? = nil, logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withTransaction(logger: logger) { connection in
            // One round trip: `role` set locally is SET LOCAL ROLE, checked against the session user's memberships.
            try await connection.query(
                """
                SELECT set_config('role', \(Self.requestRole), true), set_config('unity.tenant_id', \(tenantID.map(String.init) ?? ""), true),
                       set_config('unity.tenant', \(tenant ?? ""), true)
                """, logger: logger)
            return try await body(connection)
        }
    }

    /// Runs `query` in the tenant scope of ``withTenantScope(tenantID:tenant:logger:_:)`` and returns its rows, read
    /// in full.
    public func query(
        _ query: PostgresQuery, inScopeOf tenantID: Int64?, tenant: String? = nil, logger: Logger
    ) async throws -> QueryRows {
        try await withTenantScope(tenantID: tenantID, tenant: tenant, logger: logger) { connection in
            QueryRows(rows: try await connection.query(query, logger: logger).collect())
        }
    }
}
