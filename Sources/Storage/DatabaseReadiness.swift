import Logging
import PostgresNIO

/// Checks that a server can hold the appliance's schema, and whether it does.
public enum DatabaseReadiness {
    /// Fails with a clear message when the server has no pgvector to create.
    public static func requireVectorExtension(client: Database, settings: DatabaseSettings, logger: Logger)
        async throws
    {
        let rows: QueryRows
        do {
            rows = try await client.query(
                "SELECT count(*)::bigint FROM pg_available_extensions WHERE name = 'vector'", logger: logger)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(
                .serverUnreachable,
                "Cannot query PostgreSQL at \(settings): \(Migrator.describe(error)). Check DATABASE_URL and that the "
                    + "server is running.")
        }
        for count in try rows.decode(Int64.self) where count == 0 {
            throw StorageError(
                .vectorUnavailable,
                "PostgreSQL at \(settings) has no pgvector extension, which the appliance needs for embeddings. "
                    + "Install pgvector on that server (then CREATE EXTENSION vector runs), or unset DATABASE_URL to "
                    + "use the embedded PostgreSQL.")
        }
    }

    /// Whether the server answers and every migration is applied.
    public static func isReady(client: Database, migrations: [Migration], logger: Logger) async -> Bool {
        do {
            let rows = try await client.query("SELECT max(version) FROM schema_migrations", logger: logger)
            for version in try rows.decode(Int?.self) {
                return version == migrations.map(\.version).max()
            }
            return false
        } catch {
            return false
        }
    }
}
