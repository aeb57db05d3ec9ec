import Foundation

extension RoutingConfiguration {
    /// The `ingest:` section: the sources the server syncs on its own (`knowledge_items`, `plugin_metrics`, and
    /// directories or files under `roots`).
    ///
    /// ```yaml
    /// ingest:
    ///   knowledge_items: {batch_size: 64, lease: 10m}
    ///   plugin_metrics: {tenant: default, keep_hourly_days: 14, batch_size: 16, lease: 10m}
    ///   roots:
    ///     - {path: /srv/handbook, tenant: acme}
    ///     - {path: /srv/hr, tenant: acme, private: true}
    /// ```
    public struct IngestSources: Sendable, Equatable {
        /// `roots`: directories or files the `directory_sync` job ingests, each into its tenant. Defaults to none
        /// (the job is not scheduled).
        public var roots: [IngestRoot] = []
        /// `knowledge_items.batch_size`: rows claimed at a time. Defaults to 64.
        public var knowledgeItemsBatchSize = 64
        /// `knowledge_items.lease`: how long a claim on rows holds. Defaults to 10 minutes.
        public var knowledgeItemsLease: Duration = .seconds(600)
        /// `plugin_metrics.tenant`: the tenant whose knowledge base holds the metric summaries. Defaults to `default`.
        public var pluginMetricsTenant = "default"
        /// `plugin_metrics.keep_hourly_days`: days hourly summaries are kept (daily ones stay). Defaults to 14.
        public var pluginMetricsHourlyDays = 14
        /// `plugin_metrics.batch_size`: plugin-days claimed at a time. Defaults to 16.
        public var pluginMetricsBatchSize = 16
        /// `plugin_metrics.lease`: how long a claim on plugin-days holds. Defaults to 10 minutes.
        public var pluginMetricsLease: Duration = .seconds(600)

        /// The defaults.
        public init() {}
    }

    /// One entry of `ingest.roots`: a directory or file the server keeps in sync, as `unity-ai ingest PATH` would.
    public struct IngestRoot: Sendable, Equatable {
        /// `path`: an absolute path on the server's machine.
        public var path: String
        /// `tenant`: the tenant that owns the documents; created if absent. Defaults to `default`.
        public var tenant: String
        /// `private`: answers that use these documents are generated only by a local provider. Defaults to `false`;
        /// like `ingest --private`, the mark follows each sync, so removing it clears the mark at the next run.
        public var isPrivate: Bool

        /// A root of `tenant`, private or not.
        public init(path: String, tenant: String = "default", isPrivate: Bool = false) {
            self.path = path
            self.tenant = tenant
            self.isPrivate = isPrivate
        }
    }

    /// How many `ingest.roots` a file may list.
    public static let maximumIngestRoots = 1_000

    /// The `ingest:` section.
    static func parseIngest(_ node: YAMLNode) throws -> IngestSources {
        let fields = try node.mapping()
        try fields.rejectUnknown(["knowledge_items", "plugin_metrics", "roots"])
        var sources = IngestSources()
        func lease(_ node: YAMLNode) throws -> Duration {
            let value = try node.duration()
            guard value >= .seconds(30) else {
                throw node.error("a lease under 30s lets another instance take rows that are still being synced")
            }
            return value
        }
        if let items = fields.value("knowledge_items") {
            let keys = try items.mapping()
            try keys.rejectUnknown(["batch_size", "lease"])
            if let value = keys.value("batch_size") { sources.knowledgeItemsBatchSize = try value.integer(in: 1...10_000) }
            if let value = keys.value("lease") { sources.knowledgeItemsLease = try lease(value) }
        }
        if let metrics = fields.value("plugin_metrics") {
            let keys = try metrics.mapping()
            try keys.rejectUnknown(["tenant", "keep_hourly_days", "batch_size", "lease"])
            if let value = keys.value("tenant") { sources.pluginMetricsTenant = try value.tenantName() }
            if let value = keys.value("keep_hourly_days") {
                sources.pluginMetricsHourlyDays = try value.integer(in: 0...3_660)
            }
            if let value = keys.value("batch_size") { sources.pluginMetricsBatchSize = try value.integer(in: 1...10_000) }
            if let value = keys.value("lease") { sources.pluginMetricsLease = try lease(value) }
        }
        if let roots = fields.value("roots") { sources.roots = try parseIngestRoots(roots) }
        return sources
    }

    /// `ingest.roots`: a list of `{path, tenant, private}`; a root named twice for one tenant is refused.
    static func parseIngestRoots(_ node: YAMLNode) throws -> [IngestRoot] {
        let entries = try node.sequence()
        guard entries.count <= maximumIngestRoots else {
            throw node.error("at most \(maximumIngestRoots) roots; name a common parent directory instead")
        }
        var roots: [IngestRoot] = []
        for entry in entries {
            let keys = try entry.mapping()
            try keys.rejectUnknown(["path", "tenant", "private"])
            guard let pathNode = keys.value("path") else {
                throw entry.error("each root needs `path:`, an absolute path such as /srv/handbook")
            }
            let path = try pathNode.string()
            guard path.hasPrefix("/"), path.utf8.count <= 4_096, !path.contains("\0") else {
                throw pathNode.error("'\(path.prefix(200))' is not an absolute path; write it from / (such as /srv/handbook)")
            }
            var root = IngestRoot(path: path)
            if let tenantNode = keys.value("tenant") { root.tenant = try tenantNode.tenantName() }
            if let privateNode = keys.value("private") { root.isPrivate = try privateNode.bool() }
            guard !roots.contains(where: { $0.path == root.path && $0.tenant == root.tenant }) else {
                throw entry.error("the root \(path.prefix(200)) is listed twice for tenant \(root.tenant)")
            }
            roots.append(root)
        }
        return roots
    }
}

extension YAMLNode {
    /// A tenant's name: 1-63 letters, digits, `.`, `_` or `-`, starting with a letter or digit.
    func tenantName() throws -> String {
        let tenant = try string()
        guard TenantName.isValid(tenant) else {
            throw error("'\(tenant.prefix(80))' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'")
        }
        return tenant
    }
}
