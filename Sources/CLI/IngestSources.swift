import Foundation
import Ingest
import Lifecycle
import Routing
import Storage

extension ApplianceRuntime {
    /// An ingestor over this runtime's database and embedder; without a `configuration`, the defaults with this
    /// runtime's ``chunking`` (every ingest path, the server's scheduled syncs included, must chunk alike, or each
    /// would re-chunk what the other stored).
    func makeIngestor(configuration: Ingestor.Configuration? = nil) -> Ingestor {
        var defaults = Ingestor.Configuration()
        defaults.chunker = chunking
        return Ingestor(
            configuration: configuration ?? defaults, store: KnowledgeStore(client: client), embedder: embedder,
            logger: logger)
    }

    /// The `knowledge_items` sync as the configuration's `ingest.knowledge_items` sets it.
    func makeKnowledgeItemSync(ingestor: Ingestor) -> KnowledgeItemSync {
        var configuration = KnowledgeItemSync.Configuration()
        configuration.claims.batchSize = routing.ingest.knowledgeItemsBatchSize
        configuration.claims.lease = routing.ingest.knowledgeItemsLease
        return KnowledgeItemSync(configuration: configuration, ingestor: ingestor, logger: logger)
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

extension IngestSummary {
    /// The counts in one line: `2 added, 1 updated, 0 unchanged, 1 removed, 0 failed; 7 chunks embedded in 0.4 s`.
    var line: String {
        String(
            format: "%ld added, %ld updated, %ld unchanged, %ld removed, %ld failed; %ld chunks embedded in %.1f s",
            added, updated, unchanged, removed, failed, chunksEmbedded, seconds)
    }

    /// The line for the job history; a run in which something failed throws it with the first failure, so the run
    /// is recorded as failed.
    func jobSummary() throws -> String {
        guard let first = failures.first else { return line }
        throw SchedulerError(message: line + "; first failure: \(first.path): \(first.reason)")
    }
}
