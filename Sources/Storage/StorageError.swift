/// An error from the database layer: the embedded server, the connection or the migrations.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case binariesNotFound, serverStartFailed, serverUnreachable, invalidDatabaseURL, vectorUnavailable
            case migrationFailed, migrationEdited, migrationsNotFound, tenantNotFound, inconsistentData, schemaNotReady
            case invalidInput, notFound
        }

        private let base: Base
        public static let binariesNotFound = Code(base: .binariesNotFound)
        public static let serverStartFailed = Code(base: .serverStartFailed)
        public static let serverUnreachable = Code(base: .serverUnreachable)
        public static let invalidDatabaseURL = Code(base: .invalidDatabaseURL)
        public static let vectorUnavailable = Code(base: .vectorUnavailable)
        public static let migrationFailed = Code(base: .migrationFailed)
        public static let migrationEdited = Code(base: .migrationEdited)
        public static let migrationsNotFound = Code(base: .migrationsNotFound)
        public static let tenantNotFound = Code(base: .tenantNotFound)
        public static let inconsistentData = Code(base: .inconsistentData)
        /// The schema's migrations are not applied yet (a server that just started, or a database being set up).
        public static let schemaNotReady = Code(base: .schemaNotReady)

        /// A name or value given by the caller is not acceptable (the message says why).
        public static let invalidInput = Code(base: .invalidInput)
        /// What the caller named does not exist.
        public static let notFound = Code(base: .notFound)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and how to fix it. Never contains passwords.
    public var message: String
    /// When trying again may help (an unreachable server), how long to wait first.
    public var retryAfter: Duration?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// No tenant of that name exists.
    public static func tenantNotFound(_ name: String) -> StorageError {
        StorageError(.tenantNotFound, "Unknown tenant '\(name)'. Ingest documents for it first (unity-ai ingest PATH --tenant \(name)).")
    }
}
