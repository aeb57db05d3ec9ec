/// A blob's content address in an Ollama models directory: `sha256:<64 hex digits>`.
///
/// Ollama names each blob file after its digest (`blobs/sha256-<hex>`), so a digest that is not exactly this shape
/// could name a path outside `blobs/` (`../../etc/passwd`). Parsing here is the gate: a manifest with any digest that
/// does not parse is reported as invalid and never used to build a path.
public struct OllamaDigest: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64 hexadecimal digits, as written.
    ///
    /// The case is kept rather than normalised: Ollama builds the blob's file name from the digest as written, and on
    /// a case-sensitive file system `sha256-ABC…` and `sha256-abc…` are different files. Ollama itself writes
    /// lowercase.
    public let hex: String

    /// Parses `sha256:<hex>` or `sha256-<hex>`, the two spellings Ollama's `BlobsPath` accepts; nil for anything else.
    public init?(_ text: String) {
        let utf8 = text.utf8
        guard utf8.count == 71, text.hasPrefix("sha256:") || text.hasPrefix("sha256-") else { return nil }
        let hex = text.dropFirst(7)
        guard hex.utf8.allSatisfy(Self.isHexDigit) else { return nil }
        self.hex = String(hex)
    }

    /// A digest from its 64 hexadecimal digits; nil when `hex` is anything else.
    public init?(hex: String) {
        self.init("sha256:" + hex)
    }

    /// Parses a blob file name: `sha256-<hex>` exactly, nothing before or after.
    init?(blobFileName name: String) {
        guard name.hasPrefix("sha256-") else { return nil }
        self.init(name)
    }

    /// `sha256:<hex>`, as manifests write it.
    public var description: String { "sha256:" + hex }

    /// `sha256-<hex>`, the blob's file name inside `blobs/`.
    public var blobFileName: String { "sha256-" + hex }

    public static func < (lhs: OllamaDigest, rhs: OllamaDigest) -> Bool { lhs.hex < rhs.hex }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default: false
        }
    }
}
