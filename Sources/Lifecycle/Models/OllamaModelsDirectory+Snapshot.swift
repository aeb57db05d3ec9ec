import Foundation

extension OllamaModelsDirectory {
    /// What an Ollama models directory held when it was scanned: plain values, so that the arithmetic over them
    /// (``OllamaModelStore``, ``CleanupPlanner``) is pure and tests can build snapshots in memory.
    ///
    /// Paths are relative to ``root`` (`blobs/sha256-…`, `manifests/registry.ollama.ai/library/llama3.2/latest`).
    public struct Snapshot: Sendable, Hashable {
        /// The models directory, with symbolic links resolved.
        public var root: String
        /// The manifests Ollama would list, one per model name.
        public var manifests: [Manifest]
        /// Manifest files that are not usable models; see ``InvalidManifest``.
        public var invalidManifests: [InvalidManifest]
        /// The complete blobs in `blobs/`, whether referenced or not.
        public var blobs: [Blob]
        /// Partial downloads in `blobs/`.
        public var partials: [Partial]
        /// Entries the scan saw but did not measure (directories and links in `blobs/`, stray files).
        public var skipped: [SkippedEntry]

        public init(
            root: String, manifests: [Manifest], invalidManifests: [InvalidManifest] = [], blobs: [Blob],
            partials: [Partial] = [], skipped: [SkippedEntry] = []
        ) {
            self.root = root
            self.manifests = manifests
            self.invalidManifests = invalidManifests
            self.blobs = blobs
            self.partials = partials
            self.skipped = skipped
        }
    }

    /// One model: a manifest file and what it references.
    public struct Manifest: Sendable, Hashable {
        /// The model's name; ``OllamaModelName/displayName`` is what `/api/tags` shows.
        public var name: OllamaModelName
        /// The manifest file, relative to the root.
        public var path: String
        /// The SHA-256 of the manifest file's bytes: what Ollama reports as the model's `digest` (`/api/tags` shows
        /// its hex digits alone).
        public var digest: OllamaDigest
        /// The manifest file's modification time: when the model was pulled or created, or last re-pulled.
        public var modified: Date
        /// The config layer; nil when the manifest has none (Ollama allows an empty config digest).
        public var config: Layer?
        /// The layers, in manifest order.
        public var layers: [Layer]

        public init(
            name: OllamaModelName, path: String, digest: OllamaDigest, modified: Date, config: Layer?, layers: [Layer]
        ) {
            self.name = name
            self.path = path
            self.digest = digest
            self.modified = modified
            self.config = config
            self.layers = layers
        }

        /// The size `/api/tags` reports: the declared sizes of the config and every layer, a repeated layer counted
        /// each time.
        public var declaredSize: Int64 { ((config.map { [$0] } ?? []) + layers).reduce(0) { $0 &+ $1.size } }

        /// Every blob this manifest keeps alive, each once: its layers, its config and its own bytes stored as a blob.
        ///
        /// The last one matters for newer Ollama, whose `manifests-v2/` entries link to `blobs/sha256-<digest>`; Ollama
        /// counts a manifest's own digest as in use and deletes that blob with the model.
        public var referencedDigests: [OllamaDigest] {
            var seen = Set<OllamaDigest>()
            return ([digest] + (config.map { [$0.digest] } ?? []) + layers.map(\.digest)).filter {
                seen.insert($0).inserted
            }
        }
    }

    /// A layer or config entry of a manifest.
    public struct Layer: Sendable, Hashable {
        /// The blob holding it.
        public var digest: OllamaDigest
        /// The size the manifest declares. The file on disk is measured separately; see ``Blob/bytes``.
        public var size: Int64
        /// What the layer holds, such as `application/vnd.ollama.image.model` for weights.
        public var mediaType: String

        public init(digest: OllamaDigest, size: Int64, mediaType: String) {
            self.digest = digest
            self.size = size
            self.mediaType = mediaType
        }
    }

    /// A complete blob file, `blobs/sha256-<hex>`.
    public struct Blob: Sendable, Hashable {
        /// The digest the file is named after.
        public var digest: OllamaDigest
        /// The file's size (`st_size`).
        public var bytes: Int64
        /// The file's modification time: when the blob was downloaded or created.
        public var modified: Date

        public init(digest: OllamaDigest, bytes: Int64, modified: Date) {
            self.digest = digest
            self.bytes = bytes
            self.modified = modified
        }

        /// The blob's path relative to the root.
        public var path: String { "blobs/" + digest.blobFileName }
    }

    /// A file an unfinished pull left behind: `blobs/sha256-<hex>-partial` (the data) or `…-partial-<n>` (the
    /// progress of part n).
    public struct Partial: Sendable, Hashable {
        /// The file, relative to the root.
        public var path: String
        /// The blob being downloaded; the files of one download share it.
        public var digest: OllamaDigest
        /// The bytes the file holds on disk: the smaller of its size and its allocated blocks.
        ///
        /// Ollama creates the `-partial` file sparse at the blob's full size before downloading into it, so its
        /// apparent size says nothing about how much has arrived; the allocated blocks do.
        public var bytes: Int64
        /// The file's apparent size (`st_size`).
        public var apparentBytes: Int64
        /// The file's modification time: when the download last wrote to it.
        public var modified: Date

        public init(path: String, digest: OllamaDigest, bytes: Int64, apparentBytes: Int64, modified: Date) {
            self.path = path
            self.digest = digest
            self.bytes = bytes
            self.apparentBytes = apparentBytes
            self.modified = modified
        }
    }

    /// A file where a manifest should be that is not a usable model.
    ///
    /// It is reported, never deleted and never planned for. Whatever well-formed digests it names stay protected
    /// (``references``): a manifest with one bad entry may still be repaired, and Ollama itself keeps the blobs of a
    /// manifest it can decode. A file whose references cannot be known (``hidesReferences``) suspends orphan removal
    /// altogether, since any blob might belong to it.
    public struct InvalidManifest: Sendable, Hashable {
        /// Why the file is not a usable model.
        public enum Reason: String, Sendable, Hashable {
            /// Larger than ``OllamaModelsDirectory/maximumManifestBytes``; not read.
            case tooLarge = "too_large"
            /// Could not be read, or a directory below `manifests/` could not be listed.
            case unreadable
            /// Not a JSON manifest.
            case notJSON = "not_json"
            /// A config or layer digest is not `sha256:<64 hex>` (a path such as `../../etc/passwd`, for one).
            case invalidDigest = "invalid_digest"
            /// A declared size is negative.
            case invalidSize = "invalid_size"
            /// The path is not `<host>/<namespace>/<model>/<tag>` with parts Ollama accepts.
            case invalidName = "invalid_name"
            /// A symbolic link that does not lead to a blob directly in `blobs/`.
            case linkOutsideBlobs = "link_outside_blobs"
            /// A link to a blob whose bytes do not hash to the blob's name.
            case digestMismatch = "digest_mismatch"
            /// Neither a regular file nor a link to a blob.
            case notARegularFile = "not_a_regular_file"
            /// A second manifest for a name already read: a legacy `manifests/` copy of a model `manifests-v2/`
            /// holds, or the same name spelt with other capitals. Ollama reads the first only (and `ollama rm`
            /// removes a legacy copy with the v2 manifest), so its references count for nothing, as in Ollama.
            case shadowed
        }

        /// The file, relative to the root.
        public var path: String
        /// Why the file is not a usable model.
        public var reason: Reason
        /// What is wrong, for the operator.
        public var message: String
        /// The well-formed digests the file names, which stay protected. Empty for a shadowed copy, whose references
        /// Ollama ignores too.
        public var references: [OllamaDigest]

        public init(path: String, reason: Reason, message: String, references: [OllamaDigest] = []) {
            self.path = path
            self.reason = reason
            self.message = message
            self.references = references
        }

        /// Whether the file might reference blobs the scan cannot see, so that no blob can be proven orphaned.
        public var hidesReferences: Bool {
            switch reason {
            case .tooLarge, .unreadable, .notJSON, .linkOutsideBlobs, .digestMismatch, .notARegularFile: true
            case .invalidDigest, .invalidSize, .invalidName, .shadowed: false
            }
        }
    }

    /// An entry the scan saw but did not measure, with the reason.
    public struct SkippedEntry: Sendable, Hashable {
        /// The entry, relative to the root.
        public var path: String
        /// Why it was not measured.
        public var reason: String

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }
}
