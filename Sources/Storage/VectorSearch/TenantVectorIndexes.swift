import Logging
import PostgresNIO

/// Per-tenant partial HNSW indexes: a tenant whose vectors are too many for an exact search but a small share of
/// its model's gets an index of its own rows (`WHERE model_id = M AND tenant_id = T`), which the planner prefers for
/// that tenant's searches (it matches their filter and is smaller). An index scan filtered to a small share of a
/// large shared index walks past the other tenants' neighbours (docs/benchmarks.md, "Vector search").
///
/// This is DDL: it runs from maintenance (after an ingest, `reindex`), never on the read path. Indexes are made with
/// `CREATE INDEX CONCURRENTLY`, so searches and writes go on meanwhile.
public struct TenantVectorIndexes: Sendable {
    public let client: Database
    public let vectorSearch: VectorSearchSettings

    public init(client: Database, vectorSearch: VectorSearchSettings = .init()) {
        self.client = client
        self.vectorSearch = vectorSearch
    }

    /// The index name for one tenant's vectors of one model.
    public static func indexName(modelID: Int, tenantID: Int64) -> String {
        "chunk_embeddings_hnsw_model_\(modelID)_tenant_\(tenantID)"
    }

    /// The tenants that should have their own index, given each tenant's number of vectors of one model: more than
    /// an exact search handles, and less than ``VectorSearchSettings/ownIndexBelowShare`` of the model's vectors.
    public static func tenantsNeedingOwnIndex(rowsByTenant: [Int64: Int], settings: VectorSearchSettings) -> Set<Int64> {
        let total = rowsByTenant.values.reduce(0) { $0.addingReportingOverflow($1).partialValue }
        guard total > 0 else { return [] }
        return Set(
            rowsByTenant.filter { _, rows in
                rows > settings.exactScanMaxRows && Double(rows) / Double(total) < settings.ownIndexBelowShare
            }.keys)
    }

    /// What ``reconcile(modelID:dimensions:logger:)`` changed.
    public struct Changes: Sendable, Equatable {
        public var created: [Int64] = []
        public var dropped: [Int64] = []

        public init(created: [Int64] = [], dropped: [Int64] = []) {
            self.created = created
            self.dropped = dropped
        }

        /// Nothing was created or dropped.
        public var isEmpty: Bool { created.isEmpty && dropped.isEmpty }
    }

    /// Creates the own indexes the model's tenants need now and drops those no longer needed.
    /// A model too wide for any HNSW index (over ``EmbeddingSpace/halfvecIndexLimit``) gets none.
    ///
    /// Instances reconciling one model take turns under a session advisory lock: without it, one would take the
    /// other's index still being built (invalid until done) for a leftover, drop it and build it again.
    public func reconcile(modelID: Int, dimensions: Int, logger: Logger) async throws -> Changes {
        guard dimensions <= EmbeddingSpace.halfvecIndexLimit else { return Changes() }
        return try await client.withSessionAdvisoryLock(Self.reconcileLockBase | Int64(modelID), logger: logger) { _ in
            try await reconcileLocked(modelID: modelID, dimensions: dimensions, logger: logger)
        }
    }

    /// The high half of the advisory lock key of a model's per-tenant indexes ("uaiv"); the model id is the low half.
    static let reconcileLockBase: Int64 = 0x7561_6976 << 32

    private func reconcileLocked(modelID: Int, dimensions: Int, logger: Logger) async throws -> Changes {
        var rowsByTenant: [Int64: Int] = [:]
        for (tenant, rows) in try await client.query(
            "SELECT tenant_id, count(*)::bigint FROM chunk_embeddings WHERE model_id = \(modelID) GROUP BY tenant_id",
            logger: logger
        ).decode((Int64, Int64).self) {
            rowsByTenant[tenant] = Int(rows)
        }
        let wanted = Self.tenantsNeedingOwnIndex(rowsByTenant: rowsByTenant, settings: vectorSearch)
        let existing = try await existingTenants(modelID: modelID, logger: logger)
        var changes = Changes()
        for tenant in wanted.subtracting(existing).sorted() {
            try await create(modelID: modelID, dimensions: dimensions, tenantID: tenant, logger: logger)
            changes.created.append(tenant)
        }
        for tenant in existing.subtracting(wanted).sorted() {
            try await drop(modelID: modelID, tenantID: tenant, logger: logger)
            changes.dropped.append(tenant)
        }
        return changes
    }

    /// ``reconcile(modelID:dimensions:logger:)`` as maintenance after writes (an ingest, a sync, a reindex): changes
    /// are logged, and so is a failure instead of being thrown, since what was written stands and searches stay
    /// complete without the indexes, only slower.
    public func reconcileAfterWrites(modelID: Int, dimensions: Int, logger: Logger) async {
        do {
            let changes = try await reconcile(modelID: modelID, dimensions: dimensions, logger: logger)
            if !changes.isEmpty {
                logger.info(
                    "Per-tenant vector indexes changed",
                    metadata: ["tenants.created": "\(changes.created)", "tenants.dropped": "\(changes.dropped)"])
            }
        } catch {
            logger.warning("Per-tenant vector indexes not reconciled", metadata: ["error": "\(error)"])
        }
    }

    /// The tenants that have a valid own index for the model.
    public func existingTenants(modelID: Int, logger: Logger) async throws -> Set<Int64> {
        let prefix = "chunk_embeddings_hnsw_model_\(modelID)_tenant_"
        var tenants: Set<Int64> = []
        for name in try await client.query(
            """
            SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'chunk_embeddings'::regclass AND i.indisvalid AND starts_with(c.relname::text, \(prefix))
            """, logger: logger
        ).decode(String.self) {
            if let tenant = Int64(name.dropFirst(prefix.count)) { tenants.insert(tenant) }
        }
        return tenants
    }

    /// Creates the tenant's own index for the model (m 16, ef_construction 64: pgvector's defaults, as the model's
    /// index). An invalid one left by an interrupted build is dropped first.
    public func create(modelID: Int, dimensions: Int, tenantID: Int64, logger: Logger) async throws {
        let name = Self.indexName(modelID: modelID, tenantID: tenantID)
        try await dropIfInvalid(name, logger: logger)
        let build = HNSWIndexBuild(
            name: name, predicate: "model_id = \(modelID) AND tenant_id = \(tenantID)", dimensions: dimensions,
            settings: vectorSearch)
        try await client.withConnection(logger: logger) { try await build.run(on: $0, logger: logger) }
    }

    /// Drops the tenant's own index for the model, if there is one.
    public func drop(modelID: Int, tenantID: Int64, logger: Logger) async throws {
        try await client.query(
            PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(Self.indexName(modelID: modelID, tenantID: tenantID))"),
            logger: logger)
    }

    private func dropIfInvalid(_ name: String, logger: Logger) async throws {
        let rows = try await client.query(
            """
            SELECT count(*)::bigint FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname = \(name) AND NOT i.indisvalid
            """, logger: logger)
        for count in try rows.decode(Int64.self) where count > 0 {
            try await client.query(PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(name)"), logger: logger)
        }
    }
}
