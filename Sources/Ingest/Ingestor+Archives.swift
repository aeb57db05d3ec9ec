import Archive
import Crypto
import Foundation
import Logging
import NIOPosix
import Storage

/// Archives: each entry of a known kind is a document whose source URI is the archive's URI, `!/`, and the entry's
/// path (`file:///docs/bundle.zip!/guide/setup.md`), so one archive's documents are exactly those under
/// `file:///docs/bundle.zip!/`.
///
/// Every entry document carries the archive's SHA-256 in its metadata (`archive_sha256`): an archive whose hash
/// matches all of them, with every entry complete, is not opened at all. A changed archive is read once, streamed;
/// only entries whose bytes changed are extracted and embedded, and entries gone from it are removed. Entries
/// are collected before anything is stored, so a limit (a bomb) or damage found anywhere in the archive stores and
/// removes nothing.
extension Ingestor {
    /// An entry of a known kind, as read from an archive.
    struct ArchiveEntryRead: Sendable {
        var path: String
        var format: DocumentFormat
        /// The bytes, or `nil` when they are stored unchanged (or the entry failed).
        var data: Data?
        /// Why the entry cannot be ingested, if so.
        var failure: String?
    }

    /// What one read of an archive found.
    struct ArchiveRead: Sendable {
        var entries: [ArchiveEntryRead] = []
        /// Entries a defence passed over: path and reason.
        var skipped: [(path: String, reason: String)] = []
        /// Files of kinds the appliance does not read, and hidden files.
        var otherFiles = 0
    }

    /// Ingests one archive found under (or given as) a root; returns what it did.
    func ingestArchive(
        _ archive: DocumentWalker.Archive, displayPath: String, root: String, tenantID: Int64, modelID: Int,
        start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?
    ) async throws -> IngestSummary {
        var summary = IngestSummary()
        let prefix = Self.archivePrefix(forPath: archive.path)
        let path = archive.path
        let sha: String
        do {
            sha = try await NIOThreadPool.singleton.runIfActive { try Self.sha256(ofFileAt: path) }
        } catch {
            summary.failed += 1
            summary.failures.append(
                .init(path: path, reason: "Cannot read the archive (\(error.localizedDescription))."))
            return summary
        }
        let states = try await store.documentStates(
            tenantID: tenantID, scope: .under(prefix), modelID: modelID, logger: logger)
        let fingerprint = configuration.chunker.fingerprint
        let complete = states.values.allSatisfy {
            $0.chunkerFingerprint == fingerprint && $0.embeddedChunkCount == $0.chunkCount
        }
        if !states.isEmpty, complete,
            try await store.distinctMetadataValues("archive_sha256", tenantID: tenantID, under: prefix, logger: logger)
                == [sha]
        {
            summary.unchanged += states.count
            return summary
        }

        let limits = configuration.archiveLimits
        let maximumFileBytes = configuration.maximumFileBytes
        let read: ArchiveRead
        do {
            read = try await NIOThreadPool.singleton.runIfActive {
                try Self.readArchive(
                    at: path, limits: limits, maximumFileBytes: maximumFileBytes, prefix: prefix, states: states,
                    fingerprint: fingerprint)
            }
        } catch let error as ArchiveError {
            // Nothing was stored yet, and nothing is removed: the archive keeps what an earlier run stored.
            summary.failed += 1
            let reason =
                error.isLimit
                ? "The archive was rejected and nothing of it was stored (\(error.code) limit): \(error.message)"
                : error.message
            summary.failures.append(.init(path: path, reason: reason))
            logger.warning(
                "Archive rejected", metadata: ["ingest.path": "\(path)", "error.code": "\(error.code)"])
            return summary
        }

        for skipped in read.skipped {
            summary.skipped += 1
            summary.skippedEntries.append(.init(path: path + "!/" + skipped.path, reason: skipped.reason))
        }
        summary.skipped += read.otherFiles
        let metadata = ["root": root, "archive": path, "archive_sha256": sha]
        let entries = read.entries
        let outcomes = await runBounded(count: entries.count, start: start, progress: progress) { index in
            let entry = entries[index]
            if let failure = entry.failure { return .failed(failure) }
            guard let data = entry.data else { return .unchanged }
            return await ingestContent(
                data, format: entry.format, fileName: (entry.path as NSString).lastPathComponent,
                sourceURI: prefix + entry.path, displayPath: displayPath + "!/" + entry.path, metadata: metadata,
                state: states[prefix + entry.path], tenantID: tenantID, modelID: modelID)
        }
        var anyFailed = false
        for (entry, outcome) in zip(entries, outcomes) {
            if case .failed = outcome { anyFailed = true }
            summary.record(outcome, path: path + "!/" + entry.path)
        }
        // Entries gone from the archive; an entry that failed this time keeps what was stored for it.
        let kept = Set(entries.map { prefix + $0.path })
        let gone = states.keys.filter { !kept.contains($0) }
        if !gone.isEmpty {
            summary.removed += try await store.deleteDocuments(
                tenantID: tenantID, sourceURIs: Array(gone), logger: logger)
        }
        // Only a fully ingested archive is marked current: one with a failed entry is read again next time.
        if !anyFailed {
            try await store.setMetadataValue(
                "archive_sha256", to: sha, tenantID: tenantID, under: prefix, logger: logger)
        }
        return summary
    }

    /// Reads the whole archive, keeping the bytes only of entries that are not stored unchanged. Blocks.
    ///
    /// Throws the reader's ``ArchiveError`` on a limit or damage: the caller then stores nothing.
    static func readArchive(
        at path: String, limits: ArchiveReader.Limits, maximumFileBytes: Int, prefix: String,
        states: [String: KnowledgeStore.DocumentState], fingerprint: String
    ) throws(ArchiveError) -> ArchiveRead {
        let reader = try ArchiveReader(path: path, limits: limits)
        var read = ArchiveRead()
        var positions: [String: Int] = [:]
        while let entry = try reader.nextEntry() {
            if let reason = entry.skipReason {
                read.skipped.append((entry.path, reason.description))
                continue
            }
            guard entry.kind == .file else { continue }
            let components = entry.path.split(separator: "/")
            guard let name = components.last, !components.contains(where: { $0.hasPrefix(".") }),
                let format = DocumentFormat.detect(fileName: String(name))
            else {
                read.otherFiles += 1
                continue
            }
            var found = ArchiveEntryRead(path: entry.path, format: format)
            if let size = entry.size, size > Int64(maximumFileBytes) {
                found.failure = "The entry is over the \(maximumFileBytes)-byte limit."
            } else {
                let bytes = try reader.readAll()
                if bytes.count > maximumFileBytes {
                    found.failure = "The entry is over the \(maximumFileBytes)-byte limit."
                } else {
                    let sha = Ingestor.hex(SHA256.hash(data: bytes))
                    let state = states[prefix + entry.path]
                    let unchanged =
                        state.map {
                            $0.contentSHA256 == sha && $0.chunkerFingerprint == fingerprint
                                && $0.embeddedChunkCount == $0.chunkCount
                        } ?? false
                    if !unchanged { found.data = Data(bytes) }
                }
            }
            // A path stored twice (tar allows it): the later entry wins, as it would when unpacked.
            if let position = positions[entry.path] {
                read.entries[position] = found
            } else {
                positions[entry.path] = read.entries.count
                read.entries.append(found)
            }
        }
        return read
    }

    /// The SHA-256 of a file, read in 1 MiB blocks. Blocks.
    static func sha256(ofFileAt path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var hasher = SHA256()
        while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty {
            hasher.update(data: block)
        }
        return hex(hasher.finalize())
    }
}
