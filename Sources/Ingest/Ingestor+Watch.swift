import Foundation
import Providers
import Routing
import Storage

/// `unity-ai ingest --watch`: a directory ingested, then followed.
extension Ingestor {
    /// Ingests the directory `path` for the tenant, then follows it with inotify (``DirectoryWatcher``) and
    /// re-syncs only the paths that changed: new and changed files are ingested (unchanged content costs a hash),
    /// deleted ones removed, a directory created or moved in is walked, one moved out or deleted is removed. Each
    /// sync's summary goes to `onSync` (the first is the full ingest). Returns when the calling task is cancelled.
    public func watch(
        path: String, tenant: String, watcher configuration: DirectoryWatcher.Configuration = .init(),
        onSync: @escaping @Sendable (IngestSummary) -> Void
    ) async throws {
        let root = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw IngestWatchError(message: "\(root) is not a directory; --watch follows a directory.")
        }
        // Watch first, so that nothing changed during the first ingest is missed.
        let changes = try DirectoryWatcher(root: root, configuration: configuration).changes()
        onSync(try await ingest(paths: [root], tenant: tenant))
        for await changed in changes {
            if Task.isCancelled { break }
            let clock = ContinuousClock()
            let start = clock.now
            var summary = try await sync(changed: changed, root: root, tenant: tenant)
            summary.seconds = (clock.now - start).seconds
            onSync(summary)
        }
    }

    /// Re-syncs the `changed` paths (absolute) under `root`, a directory ingested before.
    public func sync(changed: Set<String>, root: String, tenant: String) async throws -> IngestSummary {
        let tenantID = try await store.ensureTenant(named: tenant, logger: logger)
        let modelID = try await prepareEmbeddingSpace()
        let start = ContinuousClock.now
        var summary = IngestSummary()
        if changed.contains(root) {
            return try await ingestRoot(
                root, displayBase: nil, tenantID: tenantID, modelID: modelID, start: start, progress: nil)
        }
        let rootName = (root as NSString).lastPathComponent
        // A path under another changed directory is covered by that directory's walk.
        let sorted = changed.filter { $0.hasPrefix(root + "/") }.sorted()
        var covering: [String] = []
        for path in sorted where !covering.contains(where: { path.hasPrefix($0 + "/") }) {
            let relative = String(path.dropFirst(root.count + 1))
            guard !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
            let display = rootName + "/" + relative
            var status = stat()
            if lstat(path, &status) == 0 {
                switch status.st_mode & S_IFMT {
                case S_IFDIR:
                    covering.append(path)
                    summary.merge(
                        try await ingestRoot(
                            path, displayBase: display, metadataRoot: root, tenantID: tenantID, modelID: modelID,
                            start: start, progress: nil))
                case S_IFREG:
                    let name = (path as NSString).lastPathComponent
                    guard DocumentFormat.detect(fileName: name) != nil || DocumentWalker.isArchive(fileName: name)
                    else { continue }
                    summary.merge(
                        try await ingestRoot(
                            path, displayBase: (display as NSString).deletingLastPathComponent, metadataRoot: root,
                            tenantID: tenantID, modelID: modelID, start: start, progress: nil))
                default:
                    continue
                }
            } else {
                covering.append(path)
                summary.removed += try await removeDocuments(at: path, tenantID: tenantID, modelID: modelID)
            }
        }
        return summary
    }

    /// Removes what was stored for `path`, gone: the file, an archive's entries, or everything under a directory.
    private func removeDocuments(at path: String, tenantID: Int64, modelID: Int) async throws -> Int {
        let uri = Self.uri(forPath: path)
        var uris = [uri]
        for prefix in [Self.archivePrefix(forPath: path), uri + "/"] {
            uris += try await store.documentStates(
                tenantID: tenantID, scope: .under(prefix), modelID: modelID, logger: logger
            ).keys
        }
        return try await store.deleteDocuments(tenantID: tenantID, sourceURIs: uris, logger: logger)
    }
}
