import Foundation

/// The disk use of an Ollama models directory, measured from the files themselves.
///
/// Ollama's `/api/tags` reports each model's size as the sum of the sizes its manifest declares, so models that share
/// blobs (tags of one model, models created `FROM` another) are counted once per model; ``apparentBytes`` is that sum.
/// ``totalBytes`` counts every referenced blob once, at its size on disk, which is what the models really occupy.
public struct OllamaDiskUsage: Sendable, Hashable {
    /// The bytes on disk of every blob some manifest references, each blob once.
    public var totalBytes: Int64
    /// The sum of the models' declared sizes, as `/api/tags` adds them up: shared blobs counted once per model.
    public var apparentBytes: Int64
    /// Every model, sorted by name.
    public var models: [Model]
    /// Blobs no manifest references, oldest first.
    public var orphans: [File]
    /// Files left by unfinished pulls, oldest first.
    public var partials: [File]
    /// Manifest files that are not usable models.
    public var invalidManifests: [OllamaModelsDirectory.InvalidManifest]
    /// Entries the scan did not measure.
    public var skipped: [OllamaModelsDirectory.SkippedEntry]

    /// The bytes of all ``orphans``.
    public var orphanBytes: Int64 { orphans.reduce(0) { $0 + $1.bytes } }
    /// The bytes of all ``partials``.
    public var partialBytes: Int64 { partials.reduce(0) { $0 + $1.bytes } }

    /// One model's disk use.
    public struct Model: Sendable, Hashable {
        /// The model's name; ``OllamaModelName/displayName`` is what `/api/tags` shows.
        public var name: OllamaModelName
        /// The SHA-256 of the manifest's bytes, as Ollama reports `digest`.
        public var digest: OllamaDigest
        /// The manifest file, relative to the models directory.
        public var path: String
        /// When the manifest was written: the model's pull or creation time.
        public var modified: Date
        /// The declared size `/api/tags` reports for this model.
        public var sizeBytes: Int64
        /// The bytes on disk of the blobs this model references, each once: ``uniqueBytes`` + ``sharedBytes``.
        public var diskBytes: Int64
        /// The bytes no other manifest references: what deleting this model alone would free.
        public var uniqueBytes: Int64
        /// The bytes of blobs other manifests reference too; deleting this model alone leaves them.
        public var sharedBytes: Int64
        /// Every blob the model references, in manifest order: the manifest itself, the config, then the layers.
        public var blobs: [BlobUse]
        /// Referenced blobs that are not on disk. Ollama cannot run a model with a missing layer; pull it again.
        public var missingBlobs: [OllamaDigest]
    }

    /// One blob as a model uses it.
    public struct BlobUse: Sendable, Hashable {
        /// What the blob is to the model.
        public enum Role: String, Sendable, Hashable {
            /// The manifest's own bytes, stored as a blob by newer Ollama (`manifests-v2/`).
            case manifest
            case config
            case layer
        }
        /// The blob's digest; its file is `blobs/sha256-<hex>`.
        public var digest: OllamaDigest
        /// What the blob is to the model.
        public var role: Role
        /// The layer's media type; empty for the manifest's own blob.
        public var mediaType: String
        /// The size the manifest declares; nil for the manifest's own blob, which declares none.
        public var declaredSize: Int64?
        /// The size on disk; nil when the blob is missing.
        public var bytes: Int64?
        /// The other models (display names) and invalid manifests (paths) that reference the blob too.
        public var sharedWith: [String]
    }

    /// An orphaned blob or a partial download.
    public struct File: Sendable, Hashable {
        /// The file, relative to the models directory.
        public var path: String
        /// The bytes it holds on disk.
        public var bytes: Int64
        /// Its modification time.
        public var modified: Date
        /// Whole seconds since ``modified``; 0 for a time in the future.
        public var ageSeconds: Int64
    }
}
