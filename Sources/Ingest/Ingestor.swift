import Archive
import Crypto
import Foundation
import Logging
import NIOPosix
import Providers
import Routing
import Storage

/// Brings files into the knowledge base: walks each root, extracts and chunks what changed, embeds the chunks and
/// stores each document whole (in a transaction the ``DocumentWriter`` may share among several documents);
/// documents whose files are gone from a root are removed.
///
/// Unchanged files (same SHA-256, same chunking, every chunk embedded by the current model) cost no embedding.
/// A file that cannot be read is reported in the summary and skipped; what is stored for it stays.
///
/// Archives (zip and tar, plain or compressed) are read entry by entry, streamed and never unpacked to disk; each
/// entry of a known kind is a document (`bundle.zip!/guide/setup.md`). See `Ingestor+Archives.swift`.
public struct Ingestor: Sendable {
    public struct Configuration: Sendable {
        public var chunker = Chunker.Configuration()
        /// Files larger than this are reported and skipped. Defaults to 32 MiB.
        public var maximumFileBytes = 32 << 20
        /// Documents in flight at once: being read and extracted, waiting for their vectors, or being written (each
        /// in its own transaction). Defaults to 16; the batcher's pending bound makes the extra ones wait.
        public var concurrency = 16
        /// How texts are batched across documents for the embedder: batch size (default 64, split to the provider's
        /// own limit), batches in flight (default 4) and retries of a failed batch (default 1).
        public var embedding = EmbeddingBatcher.Configuration()
        /// How stored documents are grouped into transactions: up to 16 documents (1,024 chunks) in one, 16 at once.
        public var writes = DocumentWriter.Configuration()
        /// How far an archive may expand before it is rejected as a bomb, with nothing of it stored. Defaults to
        /// ``ArchiveReader/Limits``' defaults: 10,000 entries, 64 MiB an entry, 1 GiB in all, a 200:1 ratio.
        public var archiveLimits = ArchiveReader.Limits()
        /// How PDFs are read (`pdftotext` and its timeout).
        public var pdf = PDFTextExtractor()
        public init() {}
    }

    public let configuration: Configuration
    public let store: KnowledgeStore
    public let embedder: any EmbeddingProvider
    /// Batches the texts of all documents this ingestor handles (directories, tables, archives) for ``embedder``.
    public let batcher: EmbeddingBatcher
    /// Stores the documents this ingestor has embedded, many to a transaction under load.
    public let writer: DocumentWriter
    let logger: Logger

    public init(configuration: Configuration = .init(), store: KnowledgeStore, embedder: any EmbeddingProvider, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.embedder = embedder
        self.batcher = EmbeddingBatcher(embedder: embedder, configuration: configuration.embedding)
        self.writer = DocumentWriter(store: store, configuration: configuration.writes, logger: logger)
        self.logger = logger
    }

    /// What became of one document: `chunks` it now has, of which `embedded` texts were sent to the embedder (the
    /// others' vectors were reused or shared with another document of the run).
    enum Outcome: Sendable {
        case added(chunks: Int, embedded: Int), updated(chunks: Int, embedded: Int), unchanged, failed(String)

        var chunksEmbedded: Int {
            switch self {
            case .added(_, let embedded), .updated(_, let embedded): embedded
            case .unchanged, .failed: 0
            }
        }

        var chunksStored: Int {
            switch self {
            case .added(let chunks, _), .updated(let chunks, _): chunks
            case .unchanged, .failed: 0
            }
        }
    }

    /// Registers the embedder's model and makes sure its HNSW index exists (a write path's job, never a query's);
    /// returns the model's id.
    public func prepareEmbeddingSpace() async throws -> Int {
        try await store.prepareEmbeddingSpace(
            name: embedder.model.name, dimensions: embedder.model.dimensions, logger: logger
        ).id
    }

    /// Runs an ingest's writes, `body` (given the model's id), on the embedder's space prepared for a bulk write: its
    /// index is built after them when the model has no vectors yet
    /// (``KnowledgeStore/prepareEmbeddingSpaceForBulkWrite(name:dimensions:logger:)``), and the statistics of the
    /// vectors are refreshed as they fill it. The summary `body` returns gets the time spent building the index, at
    /// either end, as ``IngestSummary/indexSeconds``.
    func withBulkWrite(_ body: (Int) async throws -> IngestSummary) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let preparation = clock.now
        let prepared = try await store.prepareEmbeddingSpaceForBulkWrite(
            name: embedder.model.name, dimensions: embedder.model.dimensions, logger: logger)
        var indexSeconds = prepared.builtIndex ? (clock.now - preparation).seconds : 0
        await writer.refreshStatisticsWhileFilling(prepared.indexDeferred)
        var summary = try await body(prepared.space.id)
        await writer.refreshStatisticsWhileFilling(false)
        let finish = clock.now
        if try await store.finishBulkWrite(to: prepared, logger: logger) { indexSeconds += (clock.now - finish).seconds }
        summary.indexSeconds = indexSeconds
        return summary
    }

    /// Ingests every path (directories recursively, or single files) for the tenant, created if absent. The summary's
    /// seconds include building the model's index when this ingest gave the model its first vectors.
    public func ingest(
        paths: [String], tenant: String, progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let start = clock.now
        let tenantID = try await store.ensureTenant(named: tenant, logger: logger)
        var summary = try await withBulkWrite { modelID in
            var summary = IngestSummary()
            for path in paths {
                let root = URL(fileURLWithPath: path).standardizedFileURL.path
                summary.merge(
                    try await ingestRoot(
                        root, displayBase: nil, tenantID: tenantID, modelID: modelID, start: start, progress: progress))
            }
            return summary
        }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// Ingests one root (a directory or a file, absolute and standardised) and removes the documents gone from it.
    /// `displayBase` is the display path of the directory the root's entries are named under (the root itself for
    /// a directory, its folder for a file); `nil` names them under the root's own name, as a command-line root is.
    /// `metadataRoot` is the root stored in the documents' metadata (a watched directory's, for the paths it syncs).
    func ingestRoot(
        _ root: String, displayBase: String?, metadataRoot: String? = nil, tenantID: Int64, modelID: Int,
        start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?
    ) async throws -> IngestSummary {
        var summary = IngestSummary()
        guard FileManager.default.fileExists(atPath: root) else {
            // A missing root (an unmounted volume, a typo) removes nothing.
            summary.failed += 1
            summary.failures.append(.init(path: root, reason: "The path does not exist; nothing under it was changed."))
            return summary
        }
        // Walking and reading files block their thread: they run on NIO's thread pool for blocking I/O, never on
        // Swift concurrency's few threads.
        let listing = try await NIOThreadPool.singleton.runIfActive { DocumentWalker().walk(root: root) }
        summary.skipped += listing.skipped.count
        for (directory, reason) in listing.unreadableDirectories {
            summary.failures.append(.init(path: directory, reason: reason))
            logger.warning("Cannot read directory", metadata: ["ingest.path": "\(directory)", "ingest.reason": "\(reason)"])
        }
        let isDirectory = (try? FileManager.default.attributesOfItem(atPath: root)[.type] as? FileAttributeType)
            == .typeDirectory
        if !isDirectory && listing.files.isEmpty && listing.archives.isEmpty && listing.unreadableDirectories.isEmpty {
            summary.failures.append(.init(path: root, reason: "not a file of a kind the appliance reads"))
            summary.failed += 1
            return summary
        }
        let rootName = displayBase ?? (isDirectory ? (root as NSString).lastPathComponent : "")
        // Removal only ever touches what belonged to this root: the file itself, or what is under the folder.
        let rootURI = Self.uri(forPath: root)
        let scope: KnowledgeStore.SourceScope =
            isDirectory ? .under(rootURI.hasSuffix("/") ? rootURI : rootURI + "/") : .document(rootURI)
        let states = try await store.documentStates(tenantID: tenantID, scope: scope, modelID: modelID, logger: logger)

        let outcomes = await process(
            listing.files, rootName: rootName, root: metadataRoot ?? root, states: states, tenantID: tenantID, modelID: modelID,
            start: start, progress: progress)
        var kept: Set<String> = []
        for (entry, outcome) in zip(listing.files, outcomes) {
            kept.insert(Self.uri(forPath: entry.path))
            summary.record(outcome, path: entry.path)
        }
        // Files gone from the root; never those under a directory that could not be read, nor the entries of an
        // archive still present (its own pass below decides about them).
        let unreadablePrefixes = listing.unreadableDirectories.map { Self.uri(forPath: $0.path) + "/" }
            + listing.archives.map { Self.archivePrefix(forPath: $0.path) }
        let gone = states.keys.filter { uri in
            !kept.contains(uri) && !unreadablePrefixes.contains(where: { uri.hasPrefix($0) })
        }
        if !gone.isEmpty {
            summary.removed += try await store.deleteDocuments(tenantID: tenantID, sourceURIs: Array(gone), logger: logger)
        }
        for archive in listing.archives {
            let displayPath = rootName.isEmpty ? archive.relativePath : rootName + "/" + archive.relativePath
            summary.merge(
                try await ingestArchive(
                    archive, displayPath: displayPath, root: metadataRoot ?? root, tenantID: tenantID, modelID: modelID,
                    start: start, progress: progress))
        }
        return summary
    }

    /// Processes files with bounded concurrency; outcomes come back in the order of `files`.
    private func process(
        _ files: [DocumentWalker.Entry], rootName: String, root: String, states: [String: KnowledgeStore.DocumentState],
        tenantID: Int64, modelID: Int, start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?
    ) async -> [Outcome] {
        await runBounded(count: files.count, start: start, progress: progress) { index in
            let entry = files[index]
            let displayPath = rootName.isEmpty ? entry.relativePath : rootName + "/" + entry.relativePath
            return await ingestFile(
                entry, displayPath: displayPath, root: root, state: states[Self.uri(forPath: entry.path)],
                tenantID: tenantID, modelID: modelID)
        }
    }

    /// Runs `work` for indices `0..<count`, at most ``Configuration/concurrency`` at once, reporting progress after
    /// each; outcomes come back in index order.
    func runBounded(
        count: Int, start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?,
        _ work: @escaping @Sendable (Int) async -> Outcome
    ) async -> [Outcome] {
        var outcomes = [Outcome?](repeating: nil, count: count)
        var chunksSoFar = 0
        var storedSoFar = 0
        var done = 0
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            func enqueue() {
                guard next < count else { return }
                let index = next
                next += 1
                group.addTask { (index, await work(index)) }
            }
            for _ in 0..<max(1, configuration.concurrency) { enqueue() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                done += 1
                chunksSoFar += outcome.chunksEmbedded
                storedSoFar += outcome.chunksStored
                progress?(
                    IngestProgress(
                        filesDone: done, filesTotal: count, chunksEmbedded: chunksSoFar, chunksStored: storedSoFar,
                        elapsedSeconds: (ContinuousClock.now - start).seconds))
                enqueue()
            }
        }
        return outcomes.map { $0 ?? .failed("not processed") }
    }

    private func ingestFile(
        _ entry: DocumentWalker.Entry, displayPath: String, root: String, state: KnowledgeStore.DocumentState?,
        tenantID: Int64, modelID: Int
    ) async -> Outcome {
        let data: Data
        let limit = configuration.maximumFileBytes
        do {
            guard let read = try await NIOThreadPool.singleton.runIfActive({ () throws -> Data? in
                let attributes = try FileManager.default.attributesOfItem(atPath: entry.path)
                if let size = attributes[.size] as? Int, size > limit { return nil }
                return try Data(contentsOf: URL(fileURLWithPath: entry.path))
            }) else {
                return .failed("The file is over the \(limit)-byte limit.")
            }
            data = read
        } catch {
            return .failed("Cannot read the file (\(error.localizedDescription)).")
        }
        return await ingestContent(
            data, format: entry.format, fileName: (entry.path as NSString).lastPathComponent,
            sourceURI: Self.uri(forPath: entry.path), displayPath: displayPath, metadata: ["root": root],
            state: state, tenantID: tenantID, modelID: modelID)
    }

    /// Extracts, chunks, embeds and stores one document's bytes, unless they are stored unchanged.
    func ingestContent(
        _ data: Data, format: DocumentFormat, fileName: String, sourceURI: String, displayPath: String,
        metadata extraMetadata: [String: String], state: KnowledgeStore.DocumentState?, tenantID: Int64, modelID: Int
    ) async -> Outcome {
        let sha = Self.hex(SHA256.hash(data: data))
        if isStoredUnchanged(state, sha: sha) { return .unchanged }
        return await reportingFailures(displayPath: displayPath) {
            let extracted: ExtractedText
            if format == .pdf {
                // pdftotext is a subprocess we wait for: NIO's pool for blocking work, not a concurrency thread.
                let pdf = configuration.pdf
                extracted = try await NIOThreadPool.singleton.runIfActive { try pdf.extract(data, fileName: fileName) }
            } else {
                extracted = try TextExtractor().extract(data, format: format, fileName: fileName)
            }
            return try await storeExtracted(
                extracted, contentSHA256: sha, format: format, sourceURI: sourceURI, displayPath: displayPath,
                metadata: extraMetadata, existed: state != nil, tenantID: tenantID, modelID: modelID)
        }
    }

    /// Whether `state` holds content `sha`, chunked as now, with every chunk embedded by the current model.
    func isStoredUnchanged(_ state: KnowledgeStore.DocumentState?, sha: String) -> Bool {
        guard let state else { return false }
        return state.contentSHA256 == sha && state.chunkerFingerprint == configuration.chunker.fingerprint
            && state.embeddedChunkCount == state.chunkCount
    }

    /// Runs `work`, turning an extraction error into a failure with its message and any other error into a
    /// failure that says storing or embedding failed.
    func reportingFailures(displayPath: String, _ work: () async throws -> Outcome) async -> Outcome {
        do {
            return try await work()
        } catch let error as ExtractionError {
            return .failed(error.message)
        } catch {
            logger.warning("Ingesting a document failed", metadata: ["ingest.path": "\(displayPath)", "error": "\(error)"])
            return .failed("Storing or embedding failed: \(Migrator.describe(error))")
        }
    }

    /// Chunks, embeds and stores extracted text as one document, replacing what was stored under its source URI.
    ///
    /// - Parameters:
    ///   - keywords: words that belong to every chunk (a row's tags): they go into each chunk's searchable text and
    ///     the text embedded, after the title and headings.
    ///   - titleInHeadings: store the title as the first heading of every chunk, so citations and the extractive
    ///     answerer read each passage under it (a row's title is its heading; a file's comes from its first heading).
    ///   - existed: whether the document was stored before (under this tenant or another): `updated`, not `added`.
    func storeExtracted(
        _ extracted: ExtractedText, contentSHA256 sha: String, format: DocumentFormat, sourceURI: String,
        displayPath: String, metadata extraMetadata: [String: String], keywords: [String] = [],
        titleInHeadings: Bool = false, existed: Bool, tenantID: Int64, modelID: Int
    ) async throws -> Outcome {
        let fingerprint = configuration.chunker.fingerprint
        let title = extracted.title ?? displayPath
        let keywordLine = keywords.isEmpty ? "" : "\nTags: " + keywords.joined(separator: ", ")
        // The title and headings travel with the chunk text into both indexes.
        func withTitle(_ headingPath: [String]) -> [String] {
            headingPath.first == title ? headingPath : [title] + headingPath
        }
        func context(_ headingPath: [String]) -> String { withTitle(headingPath).joined(separator: " > ") + keywordLine }
        // Sized for the embedder, a chunk leaves room for the heading line embedded before it.
        let chunks = Chunker(configuration: configuration.chunker).chunks(of: extracted, context: context)
        let headingPaths = chunks.map { withTitle($0.headingPath) }
        let contexts = chunks.map { context($0.headingPath) }
        let texts = zip(contexts, chunks).map { "\($0)\n\n\($1.text)" }
        let (vectors, textHashes, embedded) = try await embeddings(for: texts, tenantID: tenantID, modelID: modelID)
        let metadata: [String: String] = extraMetadata.merging([
            "display_path": displayPath, "format": format.rawValue, "title": title,
            "chunker": fingerprint, "embedding_model": embedder.model.name,
        ]) { _, new in new }
        let metadataJSON = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        _ = try await writer.write(
            KnowledgeStore.DocumentWrite(
                tenantID: tenantID, sourceURI: sourceURI, contentSHA256: sha, metadataJSON: metadataJSON,
                chunks: zip(chunks, zip(contexts, headingPaths)).map { chunk, context in
                    KnowledgeStore.NewChunk(
                        ordinal: chunk.ordinal, text: chunk.text, tokenCount: chunk.tokenCount,
                        characterRange: chunk.characterRange, headingPath: titleInHeadings ? context.1 : chunk.headingPath,
                        searchText: context.0 + "\n" + chunk.text, headingText: context.0,
                        embeddingContext: context.0)
                },
                embeddings: vectors, textHashes: textHashes, modelID: modelID,
                textSearchConfiguration: configuration.chunker.textSearchConfiguration))
        logger.debug(
            "Ingested document",
            metadata: [
                "ingest.path": "\(displayPath)", "ingest.chunks": "\(chunks.count)", "ingest.embedded": "\(embedded)",
            ])
        return existed ? .updated(chunks: chunks.count, embedded: embedded) : .added(chunks: chunks.count, embedded: embedded)
    }

    /// Vectors for `texts` (the exact texts embedded), their SHA-256 and how many were sent to the embedder,
    /// reusing the tenant's vectors of identical texts, through the shared ``batcher``.
    func embeddings(for texts: [String], tenantID: Int64, modelID: Int) async throws
        -> (vectors: [[Float]], textHashes: [String], embedded: Int)
    {
        try await batcher.embeddings(for: texts, reusingFrom: store, tenantID: tenantID, modelID: modelID, logger: logger)
    }

    /// A document from a source other than a directory (a table, a benchmark corpus).
    public struct SourceDocument: Sendable {
        /// Identifies the document within its source, e.g. `beir://scifact/4983`.
        public var uri: String
        /// Shown in citations.
        public var displayPath: String
        public var format: DocumentFormat
        public var content: Data

        public init(uri: String, displayPath: String, format: DocumentFormat, content: Data) {
            self.uri = uri
            self.displayPath = displayPath
            self.format = format
            self.content = content
        }
    }

    /// Ingests documents from a non-file source. Documents stored under `sourcePrefix` (which ends with `/`, as
    /// `beir://scifact/` does) that are not among them are removed, as files gone from a directory are.
    public func ingest(
        documents: [SourceDocument], sourcePrefix: String, tenant: String,
        progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let start = clock.now
        let tenantID = try await store.ensureTenant(named: tenant, logger: logger)
        var summary = try await withBulkWrite { modelID in
            var summary = IngestSummary()
            let states = try await store.documentStates(
                tenantID: tenantID, scope: .under(sourcePrefix), modelID: modelID, logger: logger)
            let outcomes = await runBounded(count: documents.count, start: start, progress: progress) { index in
                let document = documents[index]
                return await ingestContent(
                    document.content, format: document.format, fileName: document.displayPath, sourceURI: document.uri,
                    displayPath: document.displayPath, metadata: [:], state: states[document.uri], tenantID: tenantID,
                    modelID: modelID)
            }
            for (document, outcome) in zip(documents, outcomes) { summary.record(outcome, path: document.uri) }
            let kept = Set(documents.map(\.uri))
            let gone = states.keys.filter { !kept.contains($0) }
            summary.removed += try await store.deleteDocuments(tenantID: tenantID, sourceURIs: Array(gone), logger: logger)
            return summary
        }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// `file://` URI of an absolute path. Kept unescaped so prefixes compare as paths do.
    static func uri(forPath path: String) -> String { "file://" + path }

    /// Lowercase hex of a digest, as `content_sha256`, `archive_sha256` and the reuse hashes store it. Written
    /// digit by digit: ingest hashes every chunk, and `String(format:)` per byte was an eighth of its own CPU
    /// (docs/benchmarks.md, "Ingest pipeline against its ceilings").
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(64)
        for byte in digest {
            digits.append(hexDigit(byte >> 4))
            digits.append(hexDigit(byte & 0x0f))
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// The lowercase ASCII hex digit of a value below 16.
    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value }

    /// The prefix of the source URIs of an archive's entries: `file:///docs/bundle.zip!/`.
    static func archivePrefix(forPath path: String) -> String { uri(forPath: path) + "!/" }
}

extension IngestSummary {
    mutating func record(_ outcome: Ingestor.Outcome, path: String) {
        switch outcome {
        case .added(_, let embedded):
            added += 1
            chunksEmbedded += embedded
        case .updated(_, let embedded):
            updated += 1
            chunksEmbedded += embedded
        case .unchanged:
            unchanged += 1
        case .failed(let reason):
            failed += 1
            failures.append(.init(path: path, reason: reason))
        }
    }

    /// Adds another run's counts and reports (not its time) to this one.
    public mutating func merge(_ other: IngestSummary) {
        added += other.added
        updated += other.updated
        unchanged += other.unchanged
        removed += other.removed
        failed += other.failed
        skipped += other.skipped
        chunksEmbedded += other.chunksEmbedded
        failures += other.failures
        skippedEntries += other.skippedEntries
    }
}
