/// Which manifests keep each blob alive, and what deleting manifests one after another frees.
///
/// This is the one place that models Ollama's delete (`DELETE /api/delete`, `ollama rm`): the manifest goes, then each
/// blob it referenced that no remaining manifest references. ``OllamaModelStore`` uses it for unique and shared bytes,
/// ``CleanupPlanner`` for the bytes each planned deletion frees, so the two can never disagree.
///
/// Holders are the snapshot's manifests plus its invalid manifests that name blobs: an invalid manifest is never
/// deleted, so what it names is never freed.
struct ReferenceGraph: Sendable {
    /// The size of every complete blob on disk.
    let blobBytes: [OllamaDigest: Int64]
    /// The manifests, in snapshot order; holder `i` is `manifests[i]`.
    let manifests: [OllamaModelsDirectory.Manifest]
    /// For each digest, the manifests (by index) that reference it.
    private(set) var manifestHolders: [OllamaDigest: Set<Int>] = [:]
    /// For each digest, the invalid manifests (by path) that name it; these never go away.
    let protectedHolders: [OllamaDigest: [String]]
    /// The manifests deleted so far.
    private(set) var deleted: Set<Int> = []

    init(_ snapshot: OllamaModelsDirectory.Snapshot) {
        var bytes: [OllamaDigest: Int64] = [:]
        for blob in snapshot.blobs { bytes[blob.digest] = blob.bytes }
        blobBytes = bytes
        manifests = snapshot.manifests
        for (index, manifest) in snapshot.manifests.enumerated() {
            for digest in manifest.referencedDigests { manifestHolders[digest, default: []].insert(index) }
        }
        var protected: [OllamaDigest: [String]] = [:]
        for invalid in snapshot.invalidManifests {
            for digest in Set(invalid.references) { protected[digest, default: []].append(invalid.path) }
        }
        protectedHolders = protected
    }

    /// Whether anything still references `digest`.
    func isReferenced(_ digest: OllamaDigest) -> Bool {
        !(manifestHolders[digest]?.isEmpty ?? true) || protectedHolders[digest] != nil
    }

    /// The bytes on disk of the blobs something still references, each once.
    var referencedBytes: Int64 {
        blobBytes.reduce(0) { total, blob in isReferenced(blob.key) ? total + blob.value : total }
    }

    /// Deletes manifest `index` as Ollama does and returns the blobs that go with it and their bytes on disk.
    ///
    /// A referenced blob missing from disk frees nothing. Deleting a manifest twice frees nothing the second time.
    @discardableResult
    mutating func delete(_ index: Int) -> (bytes: Int64, freed: [OllamaDigest]) {
        guard !deleted.contains(index), manifests.indices.contains(index) else { return (0, []) }
        deleted.insert(index)
        var bytes: Int64 = 0
        var freed: [OllamaDigest] = []
        for digest in manifests[index].referencedDigests {
            manifestHolders[digest]?.remove(index)
            if !isReferenced(digest), let size = blobBytes[digest] {
                bytes += size
                freed.append(digest)
            }
        }
        return (bytes, freed)
    }
}
