import Foundation

extension RoutingConfiguration {
    /// The `ingest:` section: the sources the server syncs on its own (`knowledge_items`, `plugin_metrics`).
    ///
    /// ```yaml
    /// ingest:
    ///   knowledge_items: {batch_size: 64, lease: 10m}
    ///   plugin_metrics: {tenant: default, keep_hourly_days: 14, batch_size: 16, lease: 10m}
    /// ```
    public struct IngestSources: Sendable, Equatable {
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

    /// The `ingest:` section.
    static func parseIngest(_ node: YAMLNode) throws -> IngestSources {
        let fields = try node.mapping()
        try fields.rejectUnknown(["knowledge_items", "plugin_metrics"])
        var sources = IngestSources()
        func count(_ node: YAMLNode, _ range: ClosedRange<Int>) throws -> Int {
            let value = try node.integer()
            guard range.contains(value) else {
                throw node.error("expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
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
            if let value = keys.value("batch_size") { sources.knowledgeItemsBatchSize = try count(value, 1...10_000) }
            if let value = keys.value("lease") { sources.knowledgeItemsLease = try lease(value) }
        }
        if let metrics = fields.value("plugin_metrics") {
            let keys = try metrics.mapping()
            try keys.rejectUnknown(["tenant", "keep_hourly_days", "batch_size", "lease"])
            if let value = keys.value("tenant") {
                let tenant = try value.string()
                guard TenantName.isValid(tenant) else {
                    throw value.error(
                        "'\(tenant.prefix(80))' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'")
                }
                sources.pluginMetricsTenant = tenant
            }
            if let value = keys.value("keep_hourly_days") {
                sources.pluginMetricsHourlyDays = try count(value, 0...3_660)
            }
            if let value = keys.value("batch_size") { sources.pluginMetricsBatchSize = try count(value, 1...10_000) }
            if let value = keys.value("lease") { sources.pluginMetricsLease = try lease(value) }
        }
        return sources
    }
}
