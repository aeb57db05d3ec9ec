import Foundation
import Logging
import Providers
import Routing
import Storage

/// Brings the seed's `knowledge_items` table into the knowledge base, incrementally: each row is a document
/// `knowledge_items/<id>` of the tenant its `tenant` column names, titled by its title, its tags searchable with
/// every chunk.
///
/// Only changed rows are read. Triggers on the table (`migrations/0005_knowledge_item_changes.sql`) queue the id
/// of every row inserted, updated, deleted or truncated away; a sync claims queued ids in batches (a lease, taken
/// in one statement with `FOR UPDATE SKIP LOCKED`), reads those rows, stores or removes their documents, and
/// removes each id from the queue only if the row did not change again meanwhile. Several instances (the server's
/// scheduler, `unity-ai ingest --knowledge-items`) may sync at once: each change is handled by exactly one of them,
/// and one whose instance dies is taken up by another when the lease ends.
public struct KnowledgeItemSync: Sendable {
    public struct Configuration: Sendable {
        /// Rows claimed at a time (64 by default), the lease and this instance's name.
        public var claims = QueueClaims(batchSize: 64)
        public init() {}
    }

    /// Source URIs of rows start with this; the rest is the row's id.
    public static let sourcePrefix = "knowledge_items/"

    public let configuration: Configuration
    let ingestor: Ingestor
    let queue: KnowledgeItemQueue
    let logger: Logger

    /// A sync that stores documents through `ingestor` (its store, embedder and chunker).
    public init(configuration: Configuration = .init(), ingestor: Ingestor, logger: Logger) {
        self.configuration = configuration
        self.ingestor = ingestor
        self.queue = KnowledgeItemQueue(client: ingestor.store.client, logger: logger)
        self.logger = logger
    }

    /// Syncs the changes queued when it starts (those of rows whose tenant is `tenant`, when given); changes made
    /// while it runs are left to the next sync. A row that cannot be stored is reported and stays queued.
    public func sync(
        tenant: String? = nil, progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = IngestSummary()
        let modelID = try await ingestor.prepareEmbeddingSpace()
        let through = try await queue.latestVersion()
        var after: Int64 = 0
        var tenants: [String: Int64] = [:]
        while true {
            let claims = try await queue.claim(
                limit: configuration.claims.batchSize, after: after, through: through, tenant: tenant,
                instance: configuration.claims.instance, lease: configuration.claims.lease)
            guard let last = claims.last else { break }
            after = last.version
            do {
                summary.merge(
                    try await syncBatch(claims, modelID: modelID, tenants: &tenants, start: start, progress: progress))
            } catch {
                // Nothing is lost: the claims are released (or end with their lease) and the next sync retries. The
                // release runs outside this task, so that a sync cancelled at shutdown still makes it.
                let (queue, instance) = (queue, configuration.claims.instance)
                try? await Task { try await queue.finish(claims, retry: Set(claims.map(\.itemID)), instance: instance) }
                    .value
                throw error
            }
        }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// Stores or removes the documents of one claimed batch, then finishes the claims.
    private func syncBatch(
        _ claims: [KnowledgeItemQueue.Claim], modelID: Int, tenants: inout [String: Int64],
        start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?
    ) async throws -> IngestSummary {
        var summary = IngestSummary()
        let rows = try await queue.items(ids: claims.map(\.itemID))
        let uris = claims.map { Self.sourceURI(forItem: $0.itemID) }
        let stored = try await ingestor.store.documentStates(sourceURIs: uris, modelID: modelID, logger: logger)
        var retry: Set<Int64> = []

        // Rows that are gone: their document goes from whichever tenant holds it.
        let deleted = claims.filter { rows[$0.itemID] == nil }.map { Self.sourceURI(forItem: $0.itemID) }
        summary.removed += try await ingestor.store.deleteDocuments(
            sourceURIs: deleted, exceptTenant: nil, logger: logger)

        // Rows that exist: stored under the tenant they name now, and removed from any tenant they named before.
        var pending: [(item: KnowledgeItemQueue.Item, tenantID: Int64)] = []
        for claim in claims {
            guard let item = rows[claim.itemID] else { continue }
            switch await tenantID(for: item, known: &tenants) {
            case .success(let tenantID):
                pending.append((item, tenantID))
            case .failure(let reason):
                retry.insert(item.id)
                summary.failed += 1
                summary.failures.append(.init(path: Self.sourceURI(forItem: item.id), reason: reason.message))
            }
        }
        let work = pending
        let outcomes = await ingestor.runBounded(count: work.count, start: start, progress: progress) { index in
            let (item, tenantID) = work[index]
            let uri = Self.sourceURI(forItem: item.id)
            let states = stored[uri] ?? [:]
            return await ingestor.ingestText(
                Self.document(for: item), state: states[tenantID], existed: !states.isEmpty, tenantID: tenantID,
                modelID: modelID)
        }
        var moved: [String] = []
        for ((item, tenantID), outcome) in zip(work, outcomes) {
            let uri = Self.sourceURI(forItem: item.id)
            summary.record(outcome, path: uri)
            if case .failed = outcome {
                retry.insert(item.id)
            } else if (stored[uri] ?? [:]).keys.contains(where: { $0 != tenantID }) {
                moved.append(uri)
                try await ingestor.store.deleteDocuments(sourceURIs: [uri], exceptTenant: tenantID, logger: logger)
            }
        }
        if !moved.isEmpty {
            logger.info("Knowledge items moved to another tenant", metadata: ["ingest.sources": "\(moved)"])
        }
        try await queue.finish(claims, retry: retry, instance: configuration.claims.instance)
        return summary
    }

    /// Why a row's tenant cannot be used.
    struct TenantProblem: Error {
        var message: String
    }

    /// The id of the tenant a row names, created if absent: the one place the row's `tenant` text becomes a
    /// `tenants.id` (as `ingest --tenant` does for files). `known` caches the names of this sync.
    func tenantID(for item: KnowledgeItemQueue.Item, known: inout [String: Int64]) async -> Result<Int64, TenantProblem>
    {
        if let id = known[item.tenant] { return .success(id) }
        guard TenantName.isValid(item.tenant) else {
            return .failure(
                TenantProblem(
                    message: "The row's tenant '\(item.tenant.prefix(80))' is not a valid tenant name (1-63 letters, "
                        + "digits, '.', '_' or '-', starting with a letter or digit). Correct the row's tenant "
                        + "column; the row is synced again with the next sync."))
        }
        do {
            let id = try await ingestor.store.ensureTenant(named: item.tenant, logger: logger)
            known[item.tenant] = id
            return .success(id)
        } catch {
            return .failure(
                TenantProblem(message: "The tenant '\(item.tenant)' could not be created: \(Migrator.describe(error))"))
        }
    }

    /// The source URI (and citation) of a row: `knowledge_items/<id>`.
    public static func sourceURI(forItem id: Int64) -> String { sourcePrefix + String(id) }

    /// The document a row becomes: its title, its content (the title again when the content is empty, so the row
    /// can still be found) and its tags.
    static func document(for item: KnowledgeItemQueue.Item) -> Ingestor.TextDocument {
        let uri = sourceURI(forItem: item.id)
        let title = item.title.trimmingCharacters(in: .whitespacesAndNewlines)
        let content = item.content.trimmingCharacters(in: .whitespacesAndNewlines)
        let tags = item.tags.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        return Ingestor.TextDocument(
            sourceURI: uri, title: title.isEmpty ? uri : title,
            text: content.isEmpty ? (title.isEmpty ? uri : title) : item.content,
            keywords: tags,
            metadata: ["source": "knowledge_items", "item_id": String(item.id), "tags": tags.joined(separator: ", ")])
    }
}
