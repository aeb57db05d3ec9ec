import Logging
import Storage

/// Stores the documents of an ingest in groups: documents ready to be stored queue here, and each transaction takes
/// all that queued while the previous ones ran (up to a group's bounds), so that under load many documents share
/// one transaction and one statement per table (``KnowledgeStore/replaceDocuments(_:logger:)``), and an idle
/// writer stores a lone document at once.
///
/// - A document is stored whole or not at all, as when each had its own transaction: a group whose transaction
///   fails is written again one document at a time, so a bad document fails only itself.
/// - Two writes of one document (tenant and source URI) are never in one group nor in two transactions at once:
///   the later waits, so the last write wins, as it did one transaction at a time.
public actor DocumentWriter {
    /// Group bounds and transactions in flight.
    public struct Configuration: Sendable {
        /// Documents in one transaction. Defaults to 16.
        public var maximumDocuments = 16
        /// Chunks in one transaction (a document with more goes alone). Defaults to 1,024.
        public var maximumChunks = 1_024
        /// Transactions writing at once. Defaults to 16 (the connection pool's size): on a loaded machine fewer
        /// backends get PostgreSQL a smaller share of the cores (docs/benchmarks.md).
        public var maximumInFlight = 16
        /// While a bulk write fills an empty embedding space (``refreshStatisticsWhileFilling(_:)``), the stored
        /// vectors' planner statistics are refreshed after this many chunks, then each time their number has grown
        /// fourfold. Defaults to 2,000.
        public var firstStatisticsRefreshAtChunks = 2_000

        /// The defaults.
        public init() {}
    }

    /// What the writer has done, for tests and the benchmark.
    public struct Statistics: Sendable, Equatable {
        /// Transactions that committed a group (of one or more documents).
        public var transactions = 0
        /// Documents stored.
        public var documents = 0
        /// The most documents one transaction stored.
        public var largestGroup = 0
        /// Groups whose transaction failed and whose documents were then written one at a time.
        public var splitGroups = 0
        /// Documents waiting now for a transaction.
        public var queued = 0
        /// Transactions running now.
        public var inFlight = 0
        /// Chunks stored.
        public var chunks = 0
        /// Planner statistics refreshes run while filling an empty space.
        public var statisticsRefreshes = 0
    }

    private struct Key: Hashable {
        var tenantID: Int64
        var sourceURI: String
    }

    private struct Pending {
        let write: KnowledgeStore.DocumentWrite
        let continuation: CheckedContinuation<Int64, any Error>
        var key: Key { Key(tenantID: write.tenantID, sourceURI: write.sourceURI) }
    }

    let store: KnowledgeStore
    let configuration: Configuration
    let logger: Logger
    private var pending: [Pending] = []
    private var writing: Set<Key> = []
    private var inFlight = 0
    private var statistics = Statistics()
    /// When set, the chunk count at which the next statistics refresh runs.
    private var nextStatisticsRefresh: Int?
    private var refreshingStatistics = false

    /// A writer over `store`; it starts no work until asked to write.
    public init(store: KnowledgeStore, configuration: Configuration = .init(), logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// What the writer has done so far.
    public var currentStatistics: Statistics {
        var current = statistics
        current.queued = pending.count
        current.inFlight = inFlight
        return current
    }

    /// Turns on or off refreshing the planner's statistics of stored vectors as this writer stores chunks: for a
    /// bulk write into an embedding space that had no vectors. Without statistics (a fresh table, or a model the
    /// last `ANALYZE` did not see) PostgreSQL plans the reuse lookup of every document as a read of all the
    /// tenant's vectors of the model, so a first ingest slows down as it grows until autovacuum's first `ANALYZE`
    /// (docs/benchmarks.md, "Ingest pipeline against its ceilings").
    public func refreshStatisticsWhileFilling(_ enabled: Bool) {
        nextStatisticsRefresh =
            enabled ? statistics.chunks.addingReportingOverflow(configuration.firstStatisticsRefreshAtChunks).partialValue : nil
    }

    /// Stores `write` (replacing what was stored under its source URI), in a transaction it may share with other
    /// documents; returns the document's id once committed.
    public func write(_ write: KnowledgeStore.DocumentWrite) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(write: write, continuation: continuation))
            dispatch()
        }
    }

    /// Starts transactions while there is room in flight and something to write.
    private func dispatch() {
        while inFlight < max(1, configuration.maximumInFlight), let group = takeGroup() {
            inFlight += 1
            let (store, logger) = (self.store, self.logger)
            Task {
                let outcome = await Self.store(group.map(\.write), in: store, logger: logger)
                await self.finish(group, outcome)
            }
        }
    }

    /// The oldest pending documents that fit one group, leaving in the queue a document that is being written or
    /// already in the group.
    private func takeGroup() -> [Pending]? {
        var group: [Pending] = []
        var keys: Set<Key> = []
        var chunks = 0
        var kept: [Pending] = []
        for item in pending {
            let fits =
                group.count < max(1, configuration.maximumDocuments)
                && (group.isEmpty || chunks + item.write.chunks.count <= configuration.maximumChunks)
            if fits && !writing.contains(item.key) && !keys.contains(item.key) {
                group.append(item)
                keys.insert(item.key)
                chunks += item.write.chunks.count
            } else {
                kept.append(item)
            }
        }
        guard !group.isEmpty else { return nil }
        pending = kept
        writing.formUnion(keys)
        return group
    }

    /// The group's outcome: its documents' ids, or each document's own result after the group's transaction
    /// failed and they were written one at a time.
    private enum Outcome: Sendable {
        case stored([Int64])
        case split([Result<Int64, any Error>])
    }

    private static func store(_ writes: [KnowledgeStore.DocumentWrite], in store: KnowledgeStore, logger: Logger) async
        -> Outcome
    {
        do {
            return .stored(try await store.replaceDocuments(writes, logger: logger))
        } catch {
            guard writes.count > 1 else { return .split([.failure(error)]) }
            logger.debug(
                "A group of documents failed to store; writing them one at a time",
                metadata: ["ingest.documents": "\(writes.count)", "error": "\(error)"])
            var results: [Result<Int64, any Error>] = []
            for write in writes {
                do {
                    guard let id = try await store.replaceDocuments([write], logger: logger).first else {
                        throw StorageError(.inconsistentData, "Storing \(write.sourceURI) returned no document id.")
                    }
                    results.append(.success(id))
                } catch {
                    results.append(.failure(error))
                }
            }
            return .split(results)
        }
    }

    private func finish(_ group: [Pending], _ outcome: Outcome) {
        inFlight -= 1
        for item in group { writing.remove(item.key) }
        switch outcome {
        case .stored(let ids):
            statistics.transactions += 1
            statistics.documents += group.count
            statistics.largestGroup = max(statistics.largestGroup, group.count)
            for item in group { statistics.chunks += item.write.chunks.count }
            for (item, id) in zip(group, ids) { item.continuation.resume(returning: id) }
        case .split(let results):
            if group.count > 1 { statistics.splitGroups += 1 }
            for (item, result) in zip(group, results) {
                if case .success = result {
                    statistics.transactions += 1
                    statistics.documents += 1
                    statistics.largestGroup = max(statistics.largestGroup, 1)
                    statistics.chunks += item.write.chunks.count
                }
                item.continuation.resume(with: result)
            }
        }
        refreshStatisticsIfDue()
        dispatch()
    }

    /// Starts a statistics refresh when the chunks stored reached the next threshold and none is running.
    private func refreshStatisticsIfDue() {
        guard let due = nextStatisticsRefresh, !refreshingStatistics, statistics.chunks >= due else { return }
        refreshingStatistics = true
        nextStatisticsRefresh = statistics.chunks.multipliedReportingOverflow(by: 4).partialValue
        let (store, logger) = (self.store, self.logger)
        Task {
            do {
                try await store.refreshEmbeddingStatistics(logger: logger)
                self.statisticsRefreshed(succeeded: true)
            } catch {
                // An optimisation: the write goes on with the plans it had.
                logger.debug("Could not refresh the vectors' planner statistics", metadata: ["error": "\(error)"])
                self.statisticsRefreshed(succeeded: false)
            }
        }
    }

    private func statisticsRefreshed(succeeded: Bool) {
        refreshingStatistics = false
        if succeeded { statistics.statisticsRefreshes += 1 }
    }
}
