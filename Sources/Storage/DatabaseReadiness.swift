import Logging
import PostgresNIO

/// Checks that a server can hold the appliance's schema, and whether it does.
public enum DatabaseReadiness {
    /// Fails with a clear message, naming the version found and what to install, when the server has no pgvector
    /// or one older than ``PgvectorVersion/minimum`` (in the database, or to create there).
    public static func requireVectorExtension(client: Database, settings: DatabaseSettings, logger: Logger)
        async throws
    {
        let rows: QueryRows
        do {
            rows = try await client.query(
                """
                SELECT (SELECT extversion::text FROM pg_extension WHERE extname = 'vector'),
                       (SELECT default_version::text FROM pg_available_extensions WHERE name = 'vector')
                """, logger: logger)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(
                .serverUnreachable,
                "Cannot query PostgreSQL at \(settings): \(Migrator.describe(error)). Check DATABASE_URL and that the "
                    + "server is running.")
        }
        for (installed, available) in try rows.decode((String?, String?).self) {
            if let problem = PgvectorVersion.problem(
                installed: installed, available: available, server: "PostgreSQL at \(settings)")
            {
                throw StorageError(.vectorUnavailable, problem)
            }
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
