import Foundation

extension OllamaModelsDirectory {
    /// Removes one orphaned blob or partial download, after checking again that it is one.
    ///
    /// Models are only ever deleted through Ollama's API; this is the appliance's only way to remove a file itself, so
    /// it trusts nothing it is given. It refuses (``ModelStoreError/Code/refused``) unless all of these hold:
    ///
    /// - `path` is directly in `<root>/blobs/` (given relative to the root, `blobs/<name>`, or absolute), with no `.`
    ///   or `..` components, and `blobs` is a real directory, not a link;
    /// - its name is a blob's (`sha256-<64 hex>`) or a partial download's (`sha256-<64 hex>-partial`,
    ///   `…-partial-<n>`);
    /// - it is a regular file, not a link or directory;
    /// - it was last modified before `modifiedBefore`, when given (the executor passes `now - orphan_grace`);
    /// - for a complete blob, a fresh scan finds no manifest referencing it and no unreadable manifest that might.
    ///
    /// A pull that adopts an existing orphan (Ollama reuses a blob already on disk without touching it) between the
    /// fresh scan and the removal would lose that blob; the window is a few milliseconds, and Ollama re-downloads the
    /// blob on the next pull.
    ///
    /// - Parameters:
    ///   - path: The file, as a ``CleanupPlan`` action names it (`blobs/sha256-…`), or absolute.
    ///   - root: The models directory.
    ///   - modifiedBefore: When given, files modified at or after it are refused as possibly in use.
    /// - Returns: The bytes removed, counted as the scan counts them; 0 when the file was already gone.
    /// - Throws: ``ModelStoreError``.
    @discardableResult
    public static func removeOrphanOrPartial(path: String, root: String, modifiedBefore: Date? = nil) throws -> Int64 {
        let resolvedRoot = try resolveRoot(root)
        let blobs = resolvedRoot.appendingPathComponent("blobs")
        guard (try? FileSystem.status(blobs))?.kind == .directory else {
            throw ModelStoreError.refused(path, because: "'\(blobs)' is not a directory")
        }

        let components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let name = components.last, !name.isEmpty, !components.contains("."), !components.contains("..") else {
            throw ModelStoreError.refused(path, because: "it is not a file name in blobs/ ('.' and '..' are refused)")
        }
        if path.hasPrefix("/") {
            let directory = components.dropLast().joined(separator: "/")
            guard (try? FileSystem.realPath(directory.isEmpty ? "/" : directory)) == blobs else {
                throw ModelStoreError.refused(path, because: "it is not directly in \(blobs)")
            }
        } else {
            guard components.count == 2, components[0] == "blobs" else {
                throw ModelStoreError.refused(path, because: "it is not directly in blobs/")
            }
        }

        let isBlob = OllamaDigest(blobFileName: name) != nil
        guard isBlob || partialDigest(name) != nil else {
            throw ModelStoreError.refused(path, because: "'\(name)' is neither a blob nor a partial download")
        }
        let full = blobs.appendingPathComponent(name)
        let status: FileSystem.Status
        do {
            guard let found = try FileSystem.status(full) else { return 0 }
            status = found
        } catch {
            throw ModelStoreError.unreadable(full, reason: "\(error)")
        }
        guard status.kind == .regular else { throw ModelStoreError.refused(path, because: "it is not a regular file") }
        if let modifiedBefore, status.modified >= modifiedBefore {
            throw ModelStoreError.refused(
                path, because: "it was modified at \(status.modified), within the grace period; a pull may be using it")
        }

        if isBlob, let digest = OllamaDigest(blobFileName: name) {
            let snapshot = try scan(path: resolvedRoot)
            let graph = ReferenceGraph(snapshot)
            if graph.isReferenced(digest) {
                throw ModelStoreError.refused(path, because: "a manifest references it, so it is not an orphan")
            }
            if let hiding = snapshot.invalidManifests.first(where: \.hidesReferences) {
                throw ModelStoreError.refused(
                    path, because: "'\(hiding.path)' cannot be read and might reference it (\(hiding.reason.rawValue))")
            }
        }

        do {
            try FileSystem.unlinkFile(full)
        } catch {
            if error.isNotFound { return 0 }
            throw ModelStoreError.removalFailed(full, reason: "\(error)")
        }
        return isBlob ? status.size : min(status.size, status.allocatedBytes)
    }
}
