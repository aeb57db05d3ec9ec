/// One step of a pull, as `POST /api/pull` streams it: `pulling manifest`, then per blob `pulling <12 hex>` with its
/// digest and the bytes done out of its total, then `verifying sha256 digest`, `writing manifest` and `success`.
///
/// `total` and `completed` are those of the blob named by `digest`, not of the whole model; a blob already on disk
/// reports `completed == total` at once.
public struct OllamaPullProgress: Hashable, Sendable {
    /// Ollama's description of the step, e.g. `pulling dde5aa3fc5ff`.
    public var status: String
    /// The blob being downloaded (`sha256:<64 hex>`), when the step is a download.
    public var digest: String?
    /// The blob's size in bytes, when known.
    public var total: Int64?
    /// The bytes of the blob downloaded so far, when known.
    public var completed: Int64?

    /// A step as given.
    public init(status: String, digest: String? = nil, total: Int64? = nil, completed: Int64? = nil) {
        self.status = status
        self.digest = digest
        self.total = total
        self.completed = completed
    }

    /// Whether this is the last step of a pull that succeeded: the model is on disk and listed.
    public var isSuccess: Bool { status == "success" }
}
