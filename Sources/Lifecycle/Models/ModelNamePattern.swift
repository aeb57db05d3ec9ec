import Foundation

/// An entry of the cleanup policy's `keep` list: a model name, or a glob over model names.
///
/// A name without wildcards means exactly that model, completed as Ollama completes names: `llama3.2` is
/// `llama3.2:latest`, and `registry.ollama.ai/library/llama3.2:1b` is `llama3.2:1b`. A glob (`*` for any run of
/// characters, `?` for one) is matched against both the name as Ollama shows it (`llama3.2:latest`,
/// `hf.co/bartowski/qwen:Q4_K_M`) and the fully qualified name (`registry.ollama.ai/library/llama3.2:latest`), so
/// `llama3*` keeps every tag of every `llama3…` model, `*:latest` every `latest` tag, and `registry.ollama.ai/*`
/// everything from the public registry. Matching ignores case, as Ollama's names do.
public struct ModelNamePattern: Sendable, Hashable, CustomStringConvertible {
    /// The entry as written, trimmed.
    public let text: String
    private let exact: OllamaModelName?
    private let glob: [UInt8]

    /// Parses a `keep` entry.
    ///
    /// - Throws: ``CleanupPolicyError`` with code ``CleanupPolicyError/Code/invalidPattern`` for an empty entry,
    ///   characters no model name holds, or a name Ollama would not accept.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw CleanupPolicyError.invalidPattern(text, reason: "is empty") }
        guard trimmed.utf8.count <= 512 else {
            throw CleanupPolicyError.invalidPattern(text, reason: "is longer than 512 characters")
        }
        let allowed = trimmed.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "*"), UInt8(ascii: "?"):
                true
            default: false
            }
        }
        guard allowed else {
            throw CleanupPolicyError.invalidPattern(
                text,
                reason: "has characters no model name holds (only letters, digits, '_', '-', '.', ':', '/' and "
                    + "the wildcards '*' and '?' are allowed; character classes like '[ab]' are not supported)")
        }
        self.text = trimmed
        if trimmed.contains("*") || trimmed.contains("?") {
            exact = nil
            glob = Array(trimmed.lowercased().utf8)
        } else {
            guard let name = OllamaModelName(parsing: trimmed) else {
                throw CleanupPolicyError.invalidPattern(text, reason: "is not a model name Ollama accepts")
            }
            exact = name
            glob = []
        }
    }

    public var description: String { text }

    /// Whether the pattern keeps `name`.
    public func matches(_ name: OllamaModelName) -> Bool {
        if let exact { return exact == name }
        return Self.glob(glob, matches: Array(name.displayName.lowercased().utf8))
            || Self.glob(glob, matches: Array(name.qualifiedName.lowercased().utf8))
    }

    /// Wildcard matching with one backtracking point, linear in practice and never exponential.
    static func glob(_ pattern: [UInt8], matches text: [UInt8]) -> Bool {
        var (p, t) = (0, 0)
        var star: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, t)
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let resume = star {
                p = resume.pattern + 1
                t = resume.text + 1
                star = (resume.pattern, resume.text + 1)
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
