import Foundation
import Ingest
import Lifecycle
import Routing
import Storage

extension ApplianceRuntime {
    /// An ingestor over this runtime's database and embedder; without a `configuration`, the defaults with this
    /// runtime's ``chunking`` (every ingest path, the server's scheduled syncs included, must chunk alike, or each
    /// would re-chunk what the other stored). Either way with the configured text search configuration.
    func makeIngestor(configuration: Ingestor.Configuration? = nil) -> Ingestor {
        var defaults = Ingestor.Configuration()
        defaults.chunker = chunking
        return Ingestor(
            configuration: applyingRetrievalSettings(to: configuration ?? defaults), store: KnowledgeStore(client: client),
            embedder: embedder, logger: logger)
    }

    /// The `knowledge_items` sync as the configuration's `ingest.knowledge_items` sets it.
    func makeKnowledgeItemSync(ingestor: Ingestor) -> KnowledgeItemSync {
        var configuration = KnowledgeItemSync.Configuration()
        configuration.claims.batchSize = routing.ingest.knowledgeItemsBatchSize
        configuration.claims.lease = routing.ingest.knowledgeItemsLease
        return KnowledgeItemSync(configuration: configuration, ingestor: ingestor, logger: logger)
    }

    /// The sync of the configuration's `ingest.roots` (the `directory_sync` job).
    func makeDirectorySync(ingestor: Ingestor) -> DirectorySync {
        DirectorySync(roots: routing.ingest.roots, ingestor: ingestor, logger: logger)
    }

    /// The `plugin_metrics` sync as the configuration's `ingest.plugin_metrics` sets it; `tenant` overrides its
    /// tenant.
    func makePluginMetricsSync(ingestor: Ingestor, tenant: String? = nil) -> PluginMetricsSync {
        var configuration = PluginMetricsSync.Configuration()
        configuration.tenant = tenant ?? routing.ingest.pluginMetricsTenant
        configuration.hourlyRetentionDays = routing.ingest.pluginMetricsHourlyDays
        configuration.claims.batchSize = routing.ingest.pluginMetricsBatchSize
        configuration.claims.lease = routing.ingest.pluginMetricsLease
        return PluginMetricsSync(configuration: configuration, ingestor: ingestor, logger: logger)
    }
}
