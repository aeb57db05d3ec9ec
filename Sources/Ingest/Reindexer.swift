import Logging
import Providers
import Routing
import Storage

/// Builds a tenant's embedding space for another model from the stored chunks (`unity-ai reindex --model NAME`),
/// while the tenant's current default space keeps answering, and makes it the default only once every chunk has a
/// vector of it. Interrupted, it resumes where it stopped: it only ever embeds chunks that lack a vector.
///
/// Chunks are shared by all spaces, so nothing is re-read from the sources; chunks of a document that changes
/// while it runs are replaced with new ones, which a later pass picks up.
public struct Reindexer: Sendable {
    public struct Configuration: Sendable {
        /// Chunks read, embedded and stored at a time. Defaults to 256.
        public var chunksPerRound = 256
        /// Passes over the tenant's chunks before giving up on switching when documents keep changing (each pass
        /// embeds only what the previous ones left). Defaults to 3.
        public var maximumPasses = 3
        /// How texts are batched for the embedder (batch size, batches in flight, retries).
        public var embedding = EmbeddingBatcher.Configuration()
        public init() {}
    }

    /// Progress of a running reindex, reported after every round.
    public struct Progress: Sendable, Equatable {
        /// Chunks of the tenant with a vector of the model.
        public var chunksDone: Int
        /// Chunks of the tenant.
        public var chunksTotal: Int
        /// Texts sent to the embedder so far by this run.
        public var chunksEmbedded: Int
        public var elapsedSeconds: Double

        /// One line for a terminal `width` columns wide, in ingest's style:
        /// `[#####-----] 1200/5183 chunks · 300 embedded · 85 chunks/s · ETA 0:47`.
        public func line(width: Int = 100) -> String {
            let total = max(chunksTotal, chunksDone)
            let rate = elapsedSeconds > 0 ? Double(chunksEmbedded) / elapsedSeconds : 0
            var eta = "--:--"
            if rate > 0, rate.isFinite {
                let seconds = Double(total - chunksDone) / rate
                if seconds.isFinite, seconds < 360_000 { eta = IngestProgress.clock(Int(seconds.rounded())) }
            }
            let text =
                " \(chunksDone)/\(total) chunks · \(chunksEmbedded) embedded · "
                + "\(Int(rate.isFinite ? min(rate, 1e12).rounded() : 0)) chunks/s · ETA \(eta)"
            return IngestProgress.bar(
                fraction: total > 0 ? Double(chunksDone) / Double(total) : 1, text: text, width: width)
        }
    }

    /// What a reindex did.
    public struct Summary: Sendable, Codable, Equatable {
        public var tenant: String
        public var model: String
        /// Chunks of the tenant.
        public var chunks = 0
        /// Chunks that had a vector of the model before this run (a resumed run's earlier work).
        public var alreadyEmbedded = 0
        /// Vectors this run stored.
        public var stored = 0
        /// Texts this run sent to the embedder (identical texts are embedded once).
        public var chunksEmbedded = 0
        /// Whether the model is now the tenant's default space.
        public var isDefault = false
        /// The tenant's default space before the run (`nil`: the configured embedding model).
        public var previousDefault: String?
        public var seconds = 0.0

        enum CodingKeys: String, CodingKey {
            case tenant, model, chunks, stored, seconds
            case alreadyEmbedded = "already_embedded", chunksEmbedded = "chunks_embedded", isDefault = "is_default"
            case previousDefault = "previous_default"
        }
    }

    public let configuration: Configuration
    public let store: KnowledgeStore
    /// The model of the space to build.
    public let embedder: any EmbeddingProvider
    let logger: Logger

    public init(
        configuration: Configuration = .init(), store: KnowledgeStore, embedder: any EmbeddingProvider, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.embedder = embedder
        self.logger = logger
    }

    /// Embeds every chunk of `tenant` that lacks a vector of the model, builds the model's index, and makes the
    /// model the tenant's default space when every chunk has its vector.
    public func reindex(tenant: String, progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Summary {
        let clock = ContinuousClock()
        let start = clock.now
        guard let tenantID = try await store.tenantID(named: tenant, logger: logger) else {
            throw StorageError.tenantNotFound(tenant)
        }
        let model = embedder.model
        let modelID = try await store.registerEmbeddingModel(name: model.name, dimensions: model.dimensions, logger: logger)
        var summary = Summary(tenant: tenant, model: model.name)
        summary.previousDefault = try await store.defaultEmbeddingSpace(tenantID: tenantID, logger: logger)?.name
        let before = try await store.coverage(tenantID: tenantID, modelID: modelID, logger: logger)
        summary.chunks = before.chunks
        summary.alreadyEmbedded = before.embedded
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: configuration.embedding)

        for pass in 1...max(1, configuration.maximumPasses) {
            var afterID: Int64 = 0
            while true {
                let round = try await store.chunksLackingEmbedding(
                    tenantID: tenantID, modelID: modelID, afterID: afterID, limit: configuration.chunksPerRound,
                    logger: logger)
                guard let last = round.last else { break }
                afterID = last.id
                let (vectors, hashes, embedded) = try await batcher.embeddings(
                    for: round.map(\.text), reusingFrom: store, tenantID: tenantID, modelID: modelID, logger: logger)
                summary.stored += try await store.addMissingEmbeddings(
                    tenantID: tenantID, modelID: modelID, chunkIDs: round.map(\.id), vectors: vectors,
                    textHashes: hashes, logger: logger)
                summary.chunksEmbedded += embedded
                if let progress {
                    let coverage = try await store.coverage(tenantID: tenantID, modelID: modelID, logger: logger)
                    progress(
                        Progress(
                            chunksDone: coverage.embedded, chunksTotal: coverage.chunks,
                            chunksEmbedded: summary.chunksEmbedded, elapsedSeconds: (clock.now - start).seconds))
                }
            }
            // The index is built once the vectors are in (faster than growing it row by row), before questions
            // are sent to the space.
            try await store.createEmbeddingIndex(
                for: EmbeddingSpace(id: modelID, name: model.name, dimensions: model.dimensions), logger: logger)
            // Tenants that outgrew an exact search get their own index before questions go to the space.
            await TenantVectorIndexes(client: store.client)
                .reconcileAfterWrites(modelID: modelID, dimensions: model.dimensions, logger: logger)
            if try await store.makeDefaultIfComplete(tenantID: tenantID, modelID: modelID, logger: logger) {
                summary.isDefault = true
                break
            }
            logger.notice(
                "Chunks were added during the reindex; embedding them too",
                metadata: ["reindex.pass": "\(pass)", "embedding.model": "\(model.name)"])
        }
        let after = try await store.coverage(tenantID: tenantID, modelID: modelID, logger: logger)
        summary.chunks = after.chunks
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// Removes the tenant's space of the model called `name` (its vectors; its index and row too when no tenant
    /// uses it any more). Refuses the space the tenant answers from: its stored default, or `configuredModel` when
    /// it has none. Returns how many vectors were deleted.
    public func drop(
        model name: String, tenant: String, configuredModel: String
    ) async throws -> Int {
        guard let tenantID = try await store.tenantID(named: tenant, logger: logger) else {
            throw StorageError.tenantNotFound(tenant)
        }
        guard let space = try await store.embeddingSpace(named: name, logger: logger) else {
            throw StorageError(.notFound, "No embedding model called '\(name)' is registered: there is no such space to drop.")
        }
        let current = try await store.defaultEmbeddingSpace(tenantID: tenantID, logger: logger)?.name ?? configuredModel
        guard current != name else {
            throw StorageError(
                .invalidInput,
                "'\(name)' is the space tenant '\(tenant)' answers from. Switch first (unity-ai reindex --model OTHER "
                    + "--tenant \(tenant)), then drop it.")
        }
        return try await store.dropEmbeddingSpace(space, tenantID: tenantID, logger: logger)
    }
}
