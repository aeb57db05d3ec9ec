import Logging
import PostgresNIO

/// Applies ``Migration``s in order, each in its own transaction, and records them with their checksum in
/// `schema_migrations`. Applying twice is a no-op; an applied migration whose file changed is refused.
/// Several instances may migrate at once: an advisory lock serialises them.
public struct Migrator: Sendable {
    public let client: Database
    public let migrations: [Migration]

    public init(client: Database, migrations: [Migration]) {
        self.client = client
        self.migrations = migrations
    }

    /// An applied migration, as recorded.
    public struct AppliedMigration: Sendable, Equatable {
        public var version: Int
        public var fileName: String
        public var checksum: String
    }

    /// Applies what is pending and returns the file names applied now.
    @discardableResult
    public func migrate(logger: Logger) async throws -> [String] {
        try await client.withConnection(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await migrate(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// The migrations not applied yet, after checking that the applied ones are unchanged.
    public func pending(logger: Logger) async throws -> [Migration] {
        try await client.withConnection(logger: logger) { connection in
            try await ensureTable(on: connection, logger: logger)
            return try await verifiedPending(on: connection, logger: logger)
        }
    }

    static let lockKey: Int64 = 0x756E_6974_7961_69  // "unityai"

    private func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await ensureTable(on: connection, logger: logger)
        var appliedNow: [String] = []
        for migration in try await verifiedPending(on: connection, logger: logger) {
            logger.info("Applying migration", metadata: ["migration.file": "\(migration.fileName)"])
            do {
                try await connection.query("BEGIN", logger: logger)
                for statement in SQLScript.statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO schema_migrations (version, file_name, checksum)
                    VALUES (\(migration.version), \(migration.fileName), \(migration.checksum))
                    """, logger: logger)
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw StorageError(
                    .migrationFailed,
                    "Migration \(migration.fileName) failed and was rolled back: \(Self.describe(error))")
            }
            appliedNow.append(migration.fileName)
        }
        return appliedNow
    }

    private func ensureTable(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                file_name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
    }

    private func verifiedPending(on connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        let rows = try await connection.query(
            "SELECT version, file_name, checksum FROM schema_migrations ORDER BY version", logger: logger)
        var applied: [Int: AppliedMigration] = [:]
        for try await (version, fileName, checksum) in rows.decode((Int, String, String).self) {
            applied[version] = AppliedMigration(version: version, fileName: fileName, checksum: checksum)
        }
        for migration in migrations {
            guard let record = applied[migration.version] else { continue }
            guard record.checksum == migration.checksum else {
                throw StorageError(
                    .migrationEdited,
                    "Migration \(migration.fileName) was changed after it was applied (checksum \(record.checksum.prefix(12)) "
                        + "in the database, \(migration.checksum.prefix(12)) on disk). Restore the original file and put "
                        + "the change in a new migration.")
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    /// A readable message for a database error, including PostgreSQL's own message.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError, let message = error.serverInfo?[.message] {
            var text = message
            if let detail = error.serverInfo?[.detail] { text += " (\(detail))" }
            if let hint = error.serverInfo?[.hint] { text += " Hint: \(hint)" }
            return text
        }
        return String(describing: error)
    }
}
