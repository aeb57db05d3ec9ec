import Foundation

/// A fully qualified Ollama model name: host, namespace, model and tag.
///
/// On disk a model is the manifest file `manifests/<host>/<namespace>/<model>/<tag>`; users, the routing file and
/// Ollama's API write it short (`llama3.2` for `registry.ollama.ai/library/llama3.2:latest`). This type turns both
/// into one identity so that a pin on `llama3.2` protects the manifest at `registry.ollama.ai/library/llama3.2/latest`.
///
/// The rules are Ollama's (`types/model/name.go`): each part starts with a letter, digit or `_` and continues with
/// those, `-` or `.`; namespaces have no `.`; only the host may hold `:` (a port); the host is at most 350 bytes and
/// the other parts at most 80. Since no part can be `..` or contain `/`, a valid name is also a safe relative path.
///
/// Names compare case-insensitively, as Ollama compares them, and the public registry's two host names
/// (`registry.ollama.ai`, and `ollama.com` used by newer Ollama's `manifests-v2/`) are one host.
public struct OllamaModelName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The registry host; `registry.ollama.ai` for the public registry.
    public let host: String
    /// The namespace; `library` for the public registry's official models.
    public let namespace: String
    /// The model, such as `llama3.2`.
    public let model: String
    /// The tag, such as `latest` or `1b`.
    public let tag: String

    /// The public registry's host, omitted when Ollama displays a name.
    public static let defaultHost = "registry.ollama.ai"
    /// The host newer Ollama writes under `manifests-v2/` for the public registry.
    static let canonicalV2Host = "ollama.com"
    /// The namespace of the public registry's official models, omitted when Ollama displays a name.
    public static let defaultNamespace = "library"
    /// The tag a name without one means.
    public static let defaultTag = "latest"

    /// A name from its four parts; nil when a part breaks Ollama's rules.
    public init?(host: String, namespace: String, model: String, tag: String) {
        guard Self.isValid(host, .host), Self.isValid(namespace, .namespace), Self.isValid(model, .model),
            Self.isValid(tag, .tag)
        else { return nil }
        self.host = Self.isPublicRegistry(host) ? Self.defaultHost : host
        self.namespace = namespace
        self.model = model
        self.tag = tag
    }

    /// Parses a name as users and Ollama's API write it: `[scheme://][host/][namespace/]model[:tag]`.
    ///
    /// Missing parts take Ollama's defaults, so `llama3.2`, `library/llama3.2:latest` and
    /// `registry.ollama.ai/library/llama3.2:latest` are one name. Returns nil for an empty part, a digest reference
    /// (`model@sha256:…`), more than three `/`-separated parts, or a part that breaks Ollama's rules.
    public init?(parsing text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        guard !rest.isEmpty, !rest.contains("@") else { return nil }

        var tag = Self.defaultTag
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: self.init(host: Self.defaultHost, namespace: Self.defaultNamespace, model: parts[0], tag: tag)
        case 2: self.init(host: Self.defaultHost, namespace: parts[0], model: parts[1], tag: tag)
        case 3: self.init(host: parts[0], namespace: parts[1], model: parts[2], tag: tag)
        default: return nil
        }
    }

    /// The name as Ollama shows it (`DisplayShortest`): `llama3.2:latest`, `jdoe/mario:latest`, or with the host when
    /// it is not the public registry, `hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M`.
    public var displayName: String {
        if !host.equalsIgnoringCase(Self.defaultHost) { return "\(host)/\(namespace)/\(model):\(tag)" }
        if !namespace.equalsIgnoringCase(Self.defaultNamespace) { return "\(namespace)/\(model):\(tag)" }
        return "\(model):\(tag)"
    }

    /// Every part written out: `registry.ollama.ai/library/llama3.2:latest`.
    public var qualifiedName: String { "\(host)/\(namespace)/\(model):\(tag)" }

    public var description: String { displayName }

    /// The identity names compare by: every part lowercased.
    private var key: [String] { [host.lowercased(), namespace.lowercased(), model.lowercased(), tag.lowercased()] }

    public static func == (lhs: OllamaModelName, rhs: OllamaModelName) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }
    public static func < (lhs: OllamaModelName, rhs: OllamaModelName) -> Bool {
        (lhs.displayName.lowercased(), lhs.displayName) < (rhs.displayName.lowercased(), rhs.displayName)
    }

    // MARK: Rules

    enum Part { case host, namespace, model, tag }

    static func isPublicRegistry(_ host: String) -> Bool {
        host.equalsIgnoringCase(defaultHost) || host.equalsIgnoringCase(canonicalV2Host)
    }

    static func isValid(_ text: String, _ part: Part) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= (part == .host ? 350 : 80), isWordByte(first) else {
            return false
        }
        return bytes.dropFirst().allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "-"): true
            case UInt8(ascii: "."): part != .namespace
            case UInt8(ascii: ":"): part == .host
            default: isWordByte(byte)
            }
        }
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

extension String {
    /// ASCII case-insensitive equality, as Go's `strings.EqualFold` is for the ASCII names Ollama allows.
    func equalsIgnoringCase(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
