import Foundation
import Logging
import Routing
import Storage

/// The server's scheduled sync of the configuration's `ingest.roots` (the `directory_sync` job): each root is
/// ingested into its tenant as `unity-ai ingest PATH [--private]` would, one after the other, so that a sync is
/// incremental (unchanged files cost one hash) and removes what is gone from each root.
///
/// A root that fails (missing, unreadable, a database error while it was synced) is reported in the summary with
/// its reason and the next root is synced all the same; what is stored for a failed root stays.
public struct DirectorySync: Sendable {
    public let roots: [RoutingConfiguration.IngestRoot]
    let ingestor: Ingestor
    let logger: Logger

    /// A sync of `roots` through `ingestor`.
    public init(roots: [RoutingConfiguration.IngestRoot], ingestor: Ingestor, logger: Logger) {
        self.roots = roots
        self.ingestor = ingestor
        self.logger = logger
    }

    /// Syncs every root; the summary adds up the roots' counts, and lists each failed root or file.
    /// - Throws: `CancellationError` when cancelled (at shutdown) between or during roots.
    public func sync() async throws -> IngestSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = IngestSummary()
        for root in roots {
            do {
                try Task.checkCancellation()
                summary.merge(try await sync(root))
            } catch let error as CancellationError {
                throw error
            } catch {
                summary.failed += 1
                summary.failures.append(.init(path: root.path, reason: "The root could not be synced: \(Migrator.describe(error))"))
                logger.warning(
                    "Syncing an ingest root failed; the other roots go on",
                    metadata: ["ingest.root": "\(root.path)", "ingest.tenant": "\(root.tenant)", "error": "\(error)"])
            }
        }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// Ingests one root and marks its documents private or public as configured.
    func sync(_ root: RoutingConfiguration.IngestRoot) async throws -> IngestSummary {
        let summary = try await ingestor.ingest(paths: [root.path], tenant: root.tenant)
        let store = ingestor.store
        let tenantID = try await store.ensureTenant(named: root.tenant, logger: logger)
        let rootURI = Ingestor.uri(forPath: URL(fileURLWithPath: root.path).standardizedFileURL.path)
        try await store.markPrivate(root.isPrivate, tenantID: tenantID, root: rootURI, logger: logger)
        return summary
    }
}
