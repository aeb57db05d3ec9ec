/// An error thrown by the backup module: what happened and what to check. Never contains credentials.
public struct BackupError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case invalidTarget, notFound, incomplete, corrupt, unsafeEntry, schemaTooNew, verifyFailed, conflict, io
            case busy, encryptionKey, retention, modelRestore
        }
        private let base: Base
        /// The target URL is not `s3://bucket/prefix` or `file:///dir`.
        public static let invalidTarget = Code(base: .invalidTarget)
        /// No set (or no object) with that id.
        public static let notFound = Code(base: .notFound)
        /// The set has no manifest: an interrupted run.
        public static let incomplete = Code(base: .incomplete)
        /// An object's bytes do not match the manifest, or cannot be parsed.
        public static let corrupt = Code(base: .corrupt)
        /// An archive entry with `..`, an absolute path, a link or an unexpected name.
        public static let unsafeEntry = Code(base: .unsafeEntry)
        /// The set was written by a newer schema than this appliance's.
        public static let schemaTooNew = Code(base: .schemaTooNew)
        /// Verification found tampered or missing objects.
        public static let verifyFailed = Code(base: .verifyFailed)
        /// A per-tenant restore would overwrite another tenant's rows.
        public static let conflict = Code(base: .conflict)
        /// A local file could not be read or written.
        public static let io = Code(base: .io)
        /// Another run or prune holds the target (a fresh lock): try again when it has finished.
        public static let busy = Code(base: .busy)
        /// The encryption key is missing, unreadable, or not the one the set was written with.
        public static let encryptionKey = Code(base: .encryptionKey)
        /// No retention is configured, or its values are unusable: a prune would delete every set.
        public static let retention = Code(base: .retention)
        /// Ollama refused or failed a model restore.
        public static let modelRestore = Code(base: .modelRestore)
        /// The code's name, such as `notFound`.
        public var description: String { base.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// What happened and how to fix it.
    public var message: String
    /// Where it was thrown: `#fileID:#line`.
    public var location: String

    /// An error of `code` saying `message` (what happened and what to do; never a secret).
    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
