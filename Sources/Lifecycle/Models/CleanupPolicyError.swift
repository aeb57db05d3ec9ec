/// Why a value in the configuration file's `lifecycle:` section could not be read as a cleanup policy.
///
/// The message names the key and the value and shows what is allowed, so that `unity-ai config check` can print it
/// next to the line: `disk_budget: '80G' is ambiguous; write '80GB' (powers of 1000) or '80GiB' (powers of 1024).`
public struct CleanupPolicyError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so it can be a metric label.
    public enum Code: String, Sendable {
        /// A size such as `disk_budget` that is not a number with a known unit.
        case invalidSize = "invalid_size"
        /// A duration such as `orphan_grace` that is not a number with a known unit.
        case invalidDuration = "invalid_duration"
        /// A `keep` entry that is neither a model name nor a glob over names.
        case invalidPattern = "invalid_pattern"
        /// A number out of its allowed range, such as `max_idle_days: 0`.
        case outOfRange = "out_of_range"
    }

    public var code: Code
    /// The configuration key at fault, such as `disk_budget`.
    public var key: String
    /// What is wrong and how to fix it.
    public var message: String
    public var description: String { message }

    public init(code: Code, key: String, message: String) {
        self.code = code
        self.key = key
        self.message = message
    }

    static let sizeHelp =
        "write a number and a unit: B, KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB "
        + "(powers of 1024), such as '80GB' or '75GiB'; a number alone is bytes"

    static func invalidSize(_ text: String, key: String, reason: String) -> CleanupPolicyError {
        CleanupPolicyError(
            code: .invalidSize, key: key, message: "\(key): '\(text.prefix(64))' \(reason); \(sizeHelp).")
    }

    static let durationHelp =
        "write whole numbers with units s, m, h, d or w, such as '24h', '30m', '7d' or '1h30m'"

    static func invalidDuration(_ text: String, key: String, reason: String) -> CleanupPolicyError {
        CleanupPolicyError(
            code: .invalidDuration, key: key, message: "\(key): '\(text.prefix(64))' \(reason); \(durationHelp).")
    }

    static func invalidPattern(_ text: String, reason: String) -> CleanupPolicyError {
        CleanupPolicyError(
            code: .invalidPattern, key: "keep",
            message: "keep: '\(text.prefix(200))' \(reason). Write a model name as Ollama shows it ('llama3.2:latest', "
                + "'jdoe/mario:latest'; no tag means ':latest') or a glob with '*' and '?' ('llama3*', '*:latest', "
                + "'llama3.2:*' for every tag).")
    }

    static func outOfRange(key: String, value: Int64, range: ClosedRange<Int64>, hint: String) -> CleanupPolicyError {
        CleanupPolicyError(
            code: .outOfRange, key: key,
            message: "\(key): \(value) is out of range \(range.lowerBound)-\(range.upperBound); \(hint).")
    }
}
