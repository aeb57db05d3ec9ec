import Foundation

/// The models in an Ollama models directory and the disk they really use, computed from a scanned ``Snapshot``.
///
/// Everything here is arithmetic over the snapshot: ``OllamaModelsDirectory/scan(path:)`` is the only I/O, so the
/// store can be built from a snapshot made in memory. ``usage(now:)`` answers `models usage`; ``CleanupPlanner``
/// uses the same reference counting to say what a cleanup frees.
///
/// Bytes are file sizes (`st_size`) of the blobs in `blobs/`; manifests under `manifests/` are a few hundred bytes of
/// names and are not counted. See ``OllamaDiskUsage`` for what each figure means and why it differs from Ollama's.
public struct OllamaModelStore: Sendable {
    public typealias Snapshot = OllamaModelsDirectory.Snapshot

    /// The scanned directory.
    public let snapshot: Snapshot

    /// A store over a snapshot, scanned or built in memory.
    public init(snapshot: Snapshot) {
        self.snapshot = snapshot
    }

    /// Scans the models directory at `path`.
    ///
    /// - Throws: ``ModelStoreError`` when the directory is missing, unreadable, or not Ollama's.
    public init(path: String) throws {
        self.init(snapshot: try OllamaModelsDirectory.scan(path: path))
    }

    /// The disk use of every model, orphan and partial download.
    ///
    /// - Parameter now: The time ages are measured from.
    public func usage(now: Date) -> OllamaDiskUsage {
        let graph = ReferenceGraph(snapshot)
        let models = snapshot.manifests.enumerated().map { index, manifest in
            modelUsage(manifest, index: index, graph: graph)
        }
        return OllamaDiskUsage(
            totalBytes: graph.referencedBytes,
            apparentBytes: snapshot.manifests.reduce(0) { $0 &+ $1.declaredSize },
            models: models.sorted { $0.name < $1.name },
            orphans: orphans(graph).map { file($0.path, bytes: $0.bytes, modified: $0.modified, now: now) },
            partials: snapshot.partials.sorted(by: Self.oldestFirst).map {
                file($0.path, bytes: $0.bytes, modified: $0.modified, now: now)
            },
            invalidManifests: snapshot.invalidManifests,
            skipped: snapshot.skipped)
    }

    /// The bytes each deletion would free if the models were deleted through Ollama in this order.
    ///
    /// Deletions are dedup-aware and order-aware: a deletion frees the blobs that no manifest left after it (and after
    /// the deletions before it) references. Names that match no model free 0.
    public func bytesFreed(deletingInOrder names: [String]) -> [Int64] {
        var graph = ReferenceGraph(snapshot)
        return names.map { name in
            guard let parsed = OllamaModelName(parsing: name),
                let index = snapshot.manifests.firstIndex(where: { $0.name == parsed })
            else { return 0 }
            return graph.delete(index).bytes
        }
    }

    // MARK: Helpers

    /// Complete blobs nothing references, oldest first.
    func orphans(_ graph: ReferenceGraph) -> [OllamaModelsDirectory.Blob] {
        snapshot.blobs.filter { !graph.isReferenced($0.digest) }.sorted(by: Self.oldestFirst)
    }

    private func modelUsage(
        _ manifest: OllamaModelsDirectory.Manifest, index: Int, graph: ReferenceGraph
    ) -> OllamaDiskUsage.Model {
        var uses: [OllamaDiskUsage.BlobUse] = []
        var seen = Set<OllamaDigest>()
        var unique: Int64 = 0
        var shared: Int64 = 0
        var missing: [OllamaDigest] = []
        let entries: [(OllamaDigest, OllamaDiskUsage.BlobUse.Role, String, Int64?)] =
            [(manifest.digest, .manifest, "", nil)]
            + (manifest.config.map { [($0.digest, .config, $0.mediaType, $0.size)] } ?? [])
            + manifest.layers.map { ($0.digest, .layer, $0.mediaType, $0.size) }
        for (digest, role, mediaType, declared) in entries where seen.insert(digest).inserted {
            let bytes = graph.blobBytes[digest]
            // The manifest's own blob exists only in newer Ollama's layout; its absence is normal, not missing.
            if role == .manifest && bytes == nil { continue }
            let others =
                (graph.manifestHolders[digest] ?? []).subtracting([index]).map { graph.manifests[$0].name.displayName }
                + (graph.protectedHolders[digest] ?? [])
            if let bytes {
                if others.isEmpty { unique += bytes } else { shared += bytes }
            } else {
                missing.append(digest)
            }
            uses.append(
                OllamaDiskUsage.BlobUse(
                    digest: digest, role: role, mediaType: mediaType, declaredSize: declared, bytes: bytes,
                    sharedWith: others.sorted()))
        }
        return OllamaDiskUsage.Model(
            name: manifest.name, digest: manifest.digest, path: manifest.path, modified: manifest.modified,
            sizeBytes: manifest.declaredSize, diskBytes: unique + shared, uniqueBytes: unique, sharedBytes: shared,
            blobs: uses, missingBlobs: missing)
    }

    private func file(_ path: String, bytes: Int64, modified: Date, now: Date) -> OllamaDiskUsage.File {
        OllamaDiskUsage.File(
            path: path, bytes: bytes, modified: modified, ageSeconds: Self.ageSeconds(of: modified, now: now))
    }

    /// Whole seconds from `date` to `now`; 0 when `date` is later (a clock set back, or a file touched in the future).
    static func ageSeconds(of date: Date, now: Date) -> Int64 {
        let age = now.timeIntervalSince(date)
        guard age.isFinite, age > 0 else { return 0 }
        return age >= Double(Int64.max) ? Int64.max : Int64(age)
    }

    private static func oldestFirst(_ lhs: OllamaModelsDirectory.Blob, _ rhs: OllamaModelsDirectory.Blob) -> Bool {
        (lhs.modified, lhs.path) < (rhs.modified, rhs.path)
    }

    private static func oldestFirst(_ lhs: OllamaModelsDirectory.Partial, _ rhs: OllamaModelsDirectory.Partial) -> Bool
    {
        (lhs.modified, lhs.path) < (rhs.modified, rhs.path)
    }
}
