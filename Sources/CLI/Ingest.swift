import ArgumentParser
import Dispatch
import Archive
import Logging
import Foundation
import Ingest
import Providers
import Storage
import Synchronization

/// `unity-ai ingest PATH...`: brings files into a tenant's knowledge base.
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest files and directories (recursively) into the knowledge base.",
        discussion: """
            Unchanged files cost nothing; changed files replace their chunks; files gone from a directory are \
            removed from the knowledge base. Zip and tar archives (.zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) \
            are read entry by entry without unpacking; unsafe entries are skipped and listed, and an archive over \
            a size limit is rejected whole. PDFs are read with pdftotext (poppler-utils), page by page.

            --knowledge-items syncs the knowledge_items table (each row a document knowledge_items/<id> of the \
            tenant its tenant column names) and --plugin-metrics summarises plugin_metrics per plugin, host, hour \
            and day (documents plugin_metrics/<plugin>/<host>/<window>); both read only what changed since the \
            last sync. The server runs them on a schedule (jobs knowledge_sync and plugin_metrics_sync).

            --watch PATH ingests the directory, then follows it (inotify) until SIGINT or SIGTERM: after 500 ms \
            without changes, new and changed files are ingested and deleted ones removed; one summary line per sync.

            A chunk whose exact text the tenant already holds a vector of (same embedding model) reuses that \
            vector, whatever its path: copies and moves embed nothing. Texts of many files are embedded in \
            shared batches (--batch-size, --embedding-concurrency batches in flight).

            Exit status: 0 on success, 2 when some files or rows failed (they are listed and the rest were \
            ingested), 1 on an error that stopped the run.
            """)

    @OptionGroup var options: CommonOptions

    @Argument(help: "Files or directories to ingest.")
    var paths: [String] = []

    @Option(
        help: """
            The tenant that owns the documents; created if absent (default: default). With --knowledge-items: sync \
            only the rows of this tenant. With --plugin-metrics: the tenant that holds the summaries (default: the \
            configuration's ingest.plugin_metrics.tenant).
            """)
    var tenant: String?

    @Flag(help: "Sync the knowledge_items table: the rows inserted, updated or deleted since the last sync.")
    var knowledgeItems = false

    @Flag(help: "Summarise the plugin_metrics rows written since the last sync, per plugin, host, hour and day.")
    var pluginMetrics = false

    @Option(
        help: """
            Chunk size in tokens (default: what minilm reads, 256 word pieces with the heading line, when its \
            tokenizer is installed; else 400 estimated tokens). Sets UNITY_AI_CHUNK_TOKENIZER's counting.
            """)
    var chunkTokens: Int?

    @Option(help: "Tokens a chunk repeats from the previous one (default: 15 % of the chunk size).")
    var chunkOverlap: Int?

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Flag(
        name: .customLong("private"),
        help: ArgumentHelp(
            "Mark the documents of these paths private: an answer that uses them is generated only by a local provider.",
            discussion: "The mark follows the latest ingest of a path: ingesting it again without --private clears it."))
    var isPrivate = false

    @Flag(help: "Ingest the one directory given, then follow it and re-sync what changes until SIGINT/SIGTERM.")
    var watch = false

    @Option(help: "Texts in one embedding batch, split to the provider's own limit (default: 64).")
    var batchSize: Int?

    @Option(help: "Embedding batches in flight at once (default: 4).")
    var embeddingConcurrency: Int?

    @Option(help: "Documents in flight at once: read, waiting for vectors or being written (default: 16).")
    var concurrency: Int?

    @Option(help: "Most documents stored in one transaction when several are ready at once (default: 16).")
    var documentsPerTransaction: Int?

    @Option(help: "Transactions storing documents at once (default: 16).")
    var writeConcurrency: Int?

    @Option(help: "Entries an archive may hold before it is rejected (default: 10000).")
    var archiveMaxEntries: Int?

    @Option(help: "MiB one archive entry may expand to before the archive is rejected (default: 64).")
    var archiveMaxEntryMib: Int?

    @Option(help: "MiB an archive may expand to in all before it is rejected (default: 1024).")
    var archiveMaxTotalMib: Int?

    @Option(help: "Compression ratio (uncompressed:compressed) past which an archive is rejected as a bomb (default: 200).")
    var archiveMaxRatio: Int?

    func validate() throws {
        guard !paths.isEmpty || knowledgeItems || pluginMetrics else {
            throw ValidationError("Name at least one file or directory to ingest, or give --knowledge-items or --plugin-metrics.")
        }
        guard paths.isEmpty || (!knowledgeItems && !pluginMetrics) else {
            throw ValidationError(
                "Ingest paths and the --knowledge-items/--plugin-metrics tables in separate runs: --tenant means something else for each.")
        }
        if watch {
            guard paths.count == 1, !knowledgeItems, !pluginMetrics else {
                throw ValidationError("--watch follows exactly one directory: unity-ai ingest --watch PATH.")
            }
        }
        for (name, value, range) in [
            ("--batch-size", batchSize, 1...4096), ("--embedding-concurrency", embeddingConcurrency, 1...256),
            ("--concurrency", concurrency, 1...1024),
            ("--documents-per-transaction", documentsPerTransaction, 1...KnowledgeStore.maximumDocumentsPerWrite),
            ("--write-concurrency", writeConcurrency, 1...64),
        ] {
            if let value, !range.contains(value) {
                throw ValidationError("\(name) must be between \(range.lowerBound) and \(range.upperBound).")
            }
        }
        if let chunkTokens, !(16...8192).contains(chunkTokens) {
            throw ValidationError("--chunk-tokens must be between 16 and 8192.")
        }
        if let chunkOverlap, !(0..<(chunkTokens ?? 8192)).contains(chunkOverlap) {
            throw ValidationError("--chunk-overlap must be at least 0 and less than the chunk size.")
        }
        for (name, value) in [
            ("--archive-max-entries", archiveMaxEntries), ("--archive-max-entry-mib", archiveMaxEntryMib),
            ("--archive-max-total-mib", archiveMaxTotalMib), ("--archive-max-ratio", archiveMaxRatio),
        ] {
            if let value, !(1...(1 << 30)).contains(value) {
                throw ValidationError("\(name) must be between 1 and \(1 << 30).")
            }
        }
    }

    /// Gives a tenant whose vectors outgrew an exact search an HNSW index of its own, and drops those no longer
    /// needed (``TenantVectorIndexes``: maintenance after the writes, never on the read path). The ingest stands if
    /// this fails: searches stay complete without the index, only slower.
    static func reconcileTenantIndexes(runtime: ApplianceRuntime, store: KnowledgeStore, logger: Logger) async {
        let model = runtime.embedder.model
        do {
            let modelID = try await store.registerEmbeddingModel(name: model.name, dimensions: model.dimensions, logger: logger)
            await TenantVectorIndexes(client: runtime.client)
                .reconcileAfterWrites(modelID: modelID, dimensions: model.dimensions, logger: logger)
        } catch {
            logger.warning("Per-tenant vector indexes not reconciled", metadata: ["error": "\(error)"])
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.ingest", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        var ingestConfiguration = Ingestor.Configuration()
        ingestConfiguration.chunker = runtime.chunking
        if let chunkTokens {
            ingestConfiguration.chunker.targetTokens = chunkTokens
            ingestConfiguration.chunker.overlapTokens = Int((Double(chunkTokens) * 0.15).rounded())
        }
        if let chunkOverlap { ingestConfiguration.chunker.overlapTokens = chunkOverlap }
        guard ingestConfiguration.chunker.overlapTokens < ingestConfiguration.chunker.targetTokens else {
            throw ValidationError(
                "--chunk-overlap must be less than the chunk size (\(ingestConfiguration.chunker.targetTokens) tokens).")
        }
        if let archiveMaxEntries { ingestConfiguration.archiveLimits.maximumEntries = archiveMaxEntries }
        if let archiveMaxEntryMib { ingestConfiguration.archiveLimits.maximumEntrySize = Int64(archiveMaxEntryMib) << 20 }
        if let archiveMaxTotalMib { ingestConfiguration.archiveLimits.maximumTotalSize = Int64(archiveMaxTotalMib) << 20 }
        if let archiveMaxRatio { ingestConfiguration.archiveLimits.maximumCompressionRatio = Int64(archiveMaxRatio) }
        if let batchSize { ingestConfiguration.embedding.batchSize = batchSize }
        if let embeddingConcurrency { ingestConfiguration.embedding.maximumInFlight = embeddingConcurrency }
        if let concurrency { ingestConfiguration.concurrency = concurrency }
        if let documentsPerTransaction { ingestConfiguration.writes.maximumDocuments = documentsPerTransaction }
        if let writeConcurrency { ingestConfiguration.writes.maximumInFlight = writeConcurrency }
        let configuration = ingestConfiguration
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let (tenant, paths, knowledgeItems, pluginMetrics) = (self.tenant, self.paths, self.knowledgeItems, self.pluginMetrics)
        let isPrivate = self.isPrivate
        // At most ten redraws a second, and always the last file's.
        let lastDraw = Mutex<Double>(-1)
        let progress: @Sendable (IngestProgress) -> Void = { progress in
            guard showProgress else { return }
            let due = lastDraw.withLock { (last: inout Double) -> Bool in
                guard progress.filesDone == progress.filesTotal || progress.elapsedSeconds - last >= 0.1 else {
                    return false
                }
                last = progress.elapsedSeconds
                return true
            }
            guard due else { return }
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + progress.line(width: Self.terminalWidth())).utf8))
        }
        if watch {
            try await runtime.withDatabase { runtime in
                try await Self.follow(
                    paths[0], tenant: tenant ?? "default", ingestor: runtime.makeIngestor(configuration: configuration),
                    json: json)
            }
            return
        }
        let summary = try await runtime.withDatabase { runtime in
            let ingestor = runtime.makeIngestor(configuration: configuration)
            guard paths.isEmpty else {
                let tenantName = tenant ?? "default"
                let summary = try await ingestor.ingest(paths: paths, tenant: tenantName, progress: progress)
                // Each root's documents are marked private (or public again) as asked: answers that use them are
                // generated by a local provider only.
                let store = KnowledgeStore(client: runtime.client)
                let tenantID = try await store.ensureTenant(named: tenantName, logger: logger)
                for path in paths {
                    let root = "file://" + URL(fileURLWithPath: path).standardizedFileURL.path
                    try await store.markPrivate(isPrivate, tenantID: tenantID, root: root, logger: logger)
                }
                await Self.reconcileTenantIndexes(runtime: runtime, store: store, logger: logger)
                return summary
            }
            var summary = IngestSummary()
            if knowledgeItems {
                let synced = try await runtime.makeKnowledgeItemSync(ingestor: ingestor).sync(tenant: tenant, progress: progress)
                summary.merge(synced)
                summary.seconds += synced.seconds
            }
            if pluginMetrics {
                let synced = try await runtime.makePluginMetricsSync(ingestor: ingestor, tenant: tenant)
                    .sync(progress: progress)
                summary.merge(synced)
                summary.seconds += synced.seconds
            }
            return summary
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            let what =
                paths.isEmpty
                ? [knowledgeItems ? "knowledge_items" : nil, pluginMetrics ? "plugin_metrics" : nil].compactMap { $0 }
                    .joined(separator: " and ")
                : "tenant '\(tenant ?? "default")'"
            print("Ingested for \(what): \(summary.line).")
            for failure in summary.failures {
                FileHandle.standardError.write(Data("  failed: \(failure.path): \(failure.reason)\n".utf8))
            }
            for entry in summary.skippedEntries {
                FileHandle.standardError.write(Data("  skipped: \(entry.path): \(entry.reason)\n".utf8))
            }
        }
        if summary.failed > 0 { throw ExitCode(2) }
    }

    /// Ingests and follows `path` until SIGINT or SIGTERM, printing one line (or JSON object) per sync.
    static func follow(_ path: String, tenant: String, ingestor: Ingestor, json: Bool) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ingestor.watch(path: path, tenant: tenant) { summary in
                    if json {
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                        if let data = try? encoder.encode(summary) {
                            FileHandle.standardOutput.write(data + Data("\n".utf8))
                        }
                    } else {
                        FileHandle.standardOutput.write(Data("Synced \(path): \(summary.line).\n".utf8))
                        for failure in summary.failures {
                            FileHandle.standardError.write(Data("  failed: \(failure.path): \(failure.reason)\n".utf8))
                        }
                    }
                }
            }
            group.addTask { await Self.untilInterrupted() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Returns on the first SIGINT or SIGTERM (which then no longer end the process by themselves).
    static func untilInterrupted() async {
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        for await _ in signals { break }
        for source in sources { source.cancel() }
    }

    /// Columns of the terminal on stderr, or 100.
    static func terminalWidth() -> Int {
        var size = winsize()
        let status = withUnsafeMutablePointer(to: &size) { ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), $0) }
        guard status == 0, size.ws_col > 0 else { return 100 }
        return Int(size.ws_col)
    }
}
