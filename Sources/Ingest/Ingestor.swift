import Crypto
import Foundation
import Logging
import Providers
import Storage

/// Brings files into the knowledge base: walks each root, extracts and chunks what changed, embeds the chunks and
/// stores each document in one transaction; documents whose files are gone from a root are removed.
///
/// Unchanged files (same SHA-256, same chunking, every chunk embedded by the current model) cost no embedding.
/// A file that cannot be read is reported in the summary and skipped; what is stored for it stays.
public struct Ingestor: Sendable {
    public struct Configuration: Sendable {
        public var chunker = Chunker.Configuration()
        /// Files larger than this are reported and skipped. Defaults to 32 MiB.
        public var maximumFileBytes = 32 << 20
        /// Files processed at once. Defaults to 4.
        public var concurrency = 4
        public init() {}
    }

    public let configuration: Configuration
    public let store: KnowledgeStore
    public let embedder: any EmbeddingProvider
    let logger: Logger

    public init(configuration: Configuration = .init(), store: KnowledgeStore, embedder: any EmbeddingProvider, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.embedder = embedder
        self.logger = logger
    }

    enum Outcome: Sendable {
        case added(chunks: Int), updated(chunks: Int), unchanged, failed(String)
    }

    /// Ingests every path (directories recursively, or single files) for the tenant, created if absent.
    public func ingest(
        paths: [String], tenant: String, progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) async throws -> IngestSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = IngestSummary()
        let tenantID = try await store.ensureTenant(named: tenant, logger: logger)
        let modelID = try await store.registerEmbeddingModel(
            name: embedder.model.name, dimensions: embedder.model.dimensions, logger: logger)

        for path in paths {
            let root = URL(fileURLWithPath: path).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: root) else {
                // A missing root (an unmounted volume, a typo) removes nothing.
                summary.failed += 1
                summary.failures.append(.init(path: root, reason: "The path does not exist; nothing under it was changed."))
                continue
            }
            let listing = DocumentWalker().walk(root: root)
            summary.skipped += listing.skipped.count
            for (directory, reason) in listing.unreadableDirectories {
                summary.failures.append(.init(path: directory, reason: reason))
                logger.warning("Cannot read directory", metadata: ["ingest.path": "\(directory)", "ingest.reason": "\(reason)"])
            }
            let isDirectory = (try? FileManager.default.attributesOfItem(atPath: root)[.type] as? FileAttributeType)
                == .typeDirectory
            if !isDirectory && listing.files.isEmpty && listing.unreadableDirectories.isEmpty {
                summary.failures.append(.init(path: root, reason: "not a file of a kind the appliance reads"))
                summary.failed += 1
                continue
            }
            let rootName = isDirectory ? (root as NSString).lastPathComponent : ""
            let prefix = isDirectory ? Self.uri(forPath: root) + "/" : Self.uri(forPath: root)
            let states = try await store.documentStates(
                tenantID: tenantID, sourcePrefix: prefix, modelID: modelID, logger: logger)

            let outcomes = await process(
                listing.files, rootName: rootName, root: root, states: states, tenantID: tenantID, modelID: modelID,
                summaryBefore: summary, start: start, progress: progress)
            var kept: Set<String> = []
            for (entry, outcome) in zip(listing.files, outcomes) {
                kept.insert(Self.uri(forPath: entry.path))
                switch outcome {
                case .added(let chunks):
                    summary.added += 1
                    summary.chunksEmbedded += chunks
                case .updated(let chunks):
                    summary.updated += 1
                    summary.chunksEmbedded += chunks
                case .unchanged:
                    summary.unchanged += 1
                case .failed(let reason):
                    summary.failed += 1
                    summary.failures.append(.init(path: entry.path, reason: reason))
                }
            }
            // Files gone from the root; never those under a directory that could not be read.
            let unreadablePrefixes = listing.unreadableDirectories.map { Self.uri(forPath: $0.path) + "/" }
            let gone = states.keys.filter { uri in
                !kept.contains(uri) && !unreadablePrefixes.contains(where: { uri.hasPrefix($0) })
            }
            if !gone.isEmpty {
                summary.removed += try await store.deleteDocuments(tenantID: tenantID, sourceURIs: Array(gone), logger: logger)
            }
        }
        summary.seconds = Double((clock.now - start).components.attoseconds) / 1e18
            + Double((clock.now - start).components.seconds)
        return summary
    }

    /// Processes files with bounded concurrency; outcomes come back in the order of `files`.
    private func process(
        _ files: [DocumentWalker.Entry], rootName: String, root: String, states: [String: KnowledgeStore.DocumentState],
        tenantID: Int64, modelID: Int, summaryBefore: IngestSummary, start: ContinuousClock.Instant,
        progress: (@Sendable (IngestProgress) -> Void)?
    ) async -> [Outcome] {
        var outcomes = [Outcome?](repeating: nil, count: files.count)
        var chunksSoFar = summaryBefore.chunksEmbedded
        var done = 0
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            func enqueue() {
                guard next < files.count else { return }
                let index = next
                let entry = files[index]
                next += 1
                group.addTask {
                    let displayPath = rootName.isEmpty ? entry.relativePath : rootName + "/" + entry.relativePath
                    let outcome = await ingestFile(
                        entry, displayPath: displayPath, root: root,
                        state: states[Self.uri(forPath: entry.path)], tenantID: tenantID, modelID: modelID)
                    return (index, outcome)
                }
            }
            for _ in 0..<max(1, configuration.concurrency) { enqueue() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                done += 1
                if case .added(let chunks) = outcome { chunksSoFar += chunks }
                if case .updated(let chunks) = outcome { chunksSoFar += chunks }
                let elapsed = ContinuousClock.now - start
                progress?(
                    IngestProgress(
                        filesDone: done, filesTotal: files.count, chunksEmbedded: chunksSoFar,
                        elapsedSeconds: Double(elapsed.components.seconds)
                            + Double(elapsed.components.attoseconds) / 1e18))
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
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: entry.path)
            if let size = attributes[.size] as? Int, size > configuration.maximumFileBytes {
                return .failed("The file is \(size) bytes, over the \(configuration.maximumFileBytes)-byte limit.")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: entry.path))
        } catch {
            return .failed("Cannot read the file (\(error.localizedDescription)).")
        }
        let sha = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let fingerprint = configuration.chunker.fingerprint
        if let state, state.contentSHA256 == sha, state.chunkerFingerprint == fingerprint,
            state.embeddedChunkCount == state.chunkCount
        {
            return .unchanged
        }
        do {
            let extracted = try TextExtractor().extract(
                data, format: entry.format, fileName: (entry.path as NSString).lastPathComponent)
            let chunks = Chunker(configuration: configuration.chunker).chunks(of: extracted)
            let title = extracted.title ?? displayPath
            let contexts = chunks.map { chunk in
                // The title and headings travel with the chunk text into both indexes.
                var heading = chunk.headingPath
                if heading.first != title { heading.insert(title, at: 0) }
                return heading.joined(separator: " > ")
            }
            let vectors = try await embedder.embedAll(zip(contexts, chunks).map { "\($0)\n\n\($1.text)" })
            let metadata: [String: String] = [
                "display_path": displayPath, "root": root, "format": entry.format.rawValue, "title": title,
                "chunker": fingerprint, "embedding_model": embedder.model.name,
            ]
            let metadataJSON = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
            try await store.replaceDocument(
                tenantID: tenantID, sourceURI: Self.uri(forPath: entry.path), contentSHA256: sha,
                metadataJSON: metadataJSON,
                chunks: zip(chunks, contexts).map { chunk, context in
                    KnowledgeStore.NewChunk(
                        ordinal: chunk.ordinal, text: chunk.text, tokenCount: chunk.tokenCount,
                        characterRange: chunk.characterRange, headingPath: chunk.headingPath,
                        searchText: context + "\n" + chunk.text)
                },
                embeddings: vectors, modelID: modelID, logger: logger)
            logger.debug("Ingested file", metadata: ["ingest.path": "\(displayPath)", "ingest.chunks": "\(chunks.count)"])
            return state == nil ? .added(chunks: chunks.count) : .updated(chunks: chunks.count)
        } catch let error as ExtractionError {
            return .failed(error.message)
        } catch {
            logger.warning("Ingesting a file failed", metadata: ["ingest.path": "\(displayPath)", "error": "\(error)"])
            return .failed("Storing or embedding failed: \(Migrator.describe(error))")
        }
    }

    /// `file://` URI of an absolute path. Kept unescaped so prefixes compare as paths do.
    static func uri(forPath path: String) -> String { "file://" + path }
}
