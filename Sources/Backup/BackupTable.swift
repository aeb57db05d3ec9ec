/// An appliance table in a backup set, in restore order (referenced tables first).
///
/// The set holds each table as `sets/<id>/tables/<name>.tar.gz`: a gzip-compressed tar (pax) whose entries are
/// pages of at most ``pageRows`` rows, `<name>/000001.jsonl`, `<name>/000002.jsonl`, …, each line one row as
/// PostgreSQL's `row_to_json` writes it (column name → value; `vector` and `tsvector` as their text form), rows in
/// ``orderBy`` order. All tables are read in one `REPEATABLE READ` snapshot.
public struct BackupTable: Sendable, Hashable {
    /// The table's name.
    public var name: String
    /// The primary key: the order of the rows and the conflict target of the restore's upsert.
    public var key: [String]
    /// Which rows belong to a tenant, for `restore --tenant`.
    public var scope: TenantScope

    /// How a table's rows belong to tenants.
    public enum TenantScope: Sendable, Hashable {
        /// The `tenants` table: the row whose `name` is the tenant's.
        case tenantRow
        /// Rows whose `tenant_id` is the tenant's id.
        case tenantID
        /// Rows whose `tenant` column holds the tenant's name.
        case tenantName
        /// Rate-limit windows keyed `tenant:<name>`.
        case rateLimitKey
        /// Shared by every tenant (embedding models): restored whole.
        case shared
        /// Not tenant data (metrics, job runs, the model inventory): left out of a per-tenant restore.
        case appliance
    }

    init(name: String, key: [String], scope: TenantScope) {
        self.name = name
        self.key = key
        self.scope = scope
    }

    /// The SQL condition that `alias`'s row belongs to the tenant named by parameter `$2`; `nil` for tables left out.
    func tenantCondition(_ alias: String) -> String? {
        switch scope {
        case .tenantRow: "\(alias).name = $2"
        case .tenantID: "\(alias).tenant_id IS NOT DISTINCT FROM (SELECT id FROM tenants WHERE name = $2)"
        case .tenantName: "\(alias).tenant = $2"
        case .rateLimitKey: "\(alias).key = 'tenant:' || $2"
        case .shared: "$2::text IS NOT NULL"
        case .appliance: nil
        }
    }

    /// Rows per archive entry.
    public static let pageRows = 1000

    /// Every table the appliance has, referenced tables first.
    public static let all: [BackupTable] = [
        // Before tenants: a tenant's default embedding space (`tenants.embedding_model_id`, migration 0012) refers to it.
        .init(name: "embedding_models", key: ["id"], scope: .shared),
        .init(name: "tenants", key: ["id"], scope: .tenantRow),
        // Keys' hashes only (an admin key has no tenant: restored with the whole set, never with one tenant).
        .init(name: "api_keys", key: ["id"], scope: .tenantID),
        .init(name: "documents", key: ["id"], scope: .tenantID),
        .init(name: "chunks", key: ["id"], scope: .tenantID),
        .init(name: "chunk_embeddings", key: ["chunk_id", "model_id"], scope: .tenantID),
        // BM25 (0011): restoring lexical_chunks rebuilds lexical_statistics through its triggers, so the statistics
        // themselves are not in the set.
        .init(name: "lexical_settings", key: ["tenant_id"], scope: .tenantID),
        .init(name: "lexical_chunks", key: ["chunk_id"], scope: .tenantID),
        .init(name: "lexical_postings", key: ["tenant_id", "term", "chunk_id"], scope: .tenantID),
        .init(name: "knowledge_items", key: ["id"], scope: .tenantName),
        .init(name: "conversations", key: ["id"], scope: .tenantID),
        .init(name: "conversation_messages", key: ["id"], scope: .tenantID),
        .init(name: "plugin_metrics", key: ["id"], scope: .appliance),
        .init(name: "usage_records", key: ["id"], scope: .tenantName),
        .init(name: "tenant_budget_periods", key: ["tenant", "period", "period_start"], scope: .tenantName),
        .init(name: "response_cache", key: ["key"], scope: .tenantName),
        .init(name: "rate_limit_windows", key: ["key", "window_start"], scope: .rateLimitKey),
        .init(name: "job_runs", key: ["id"], scope: .appliance),
        .init(name: "ollama_models", key: ["endpoint", "name"], scope: .appliance),
    ]

    /// The table called `name`; `nil` for any other name (names from a manifest are checked here before use in SQL).
    public static func named(_ name: String) -> BackupTable? { all.first { $0.name == name } }

    /// The archive's key in set `id`.
    func key(inSet id: String) -> String { "sets/\(id)/tables/\(name).tar.gz" }

    /// `"a", "b"`.
    var orderBy: String { key.map { "\"\($0)\"" }.joined(separator: ", ") }
}
