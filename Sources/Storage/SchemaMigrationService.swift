import Logging
import ServiceLifecycle

/// Brings the schema up to date in the background of `serve`, retrying until the database answers: the server
/// listens at once and answers `/ready` with 503 until this has succeeded, instead of not starting at all while
/// its database is away.
public struct SchemaMigrationService: Service {
    public struct Configuration: Sendable {
        /// Time between attempts while the database cannot be reached. Defaults to 2 seconds.
        public var retryInterval: Duration = .seconds(2)
        public init() {}
    }

    let configuration: Configuration
    let database: Database
    let settings: DatabaseSettings
    let migrations: [Migration]
    let logger: Logger
    /// Runs once, after the schema is current (start-up checks that need it).
    let afterMigrations: (@Sendable () async -> Void)?

    public init(
        configuration: Configuration = .init(), database: Database, settings: DatabaseSettings, migrations: [Migration],
        logger: Logger, afterMigrations: (@Sendable () async -> Void)? = nil
    ) {
        self.configuration = configuration
        self.database = database
        self.settings = settings
        self.migrations = migrations
        self.logger = logger
        self.afterMigrations = afterMigrations
    }

    public func run() async throws {
        var lastProblem: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await DatabaseReadiness.requireVectorExtension(client: database, settings: settings, logger: logger)
                let applied = try await Migrator(client: database, migrations: migrations).migrate(logger: logger)
                if !applied.isEmpty { logger.info("Applied migrations", metadata: ["migrations": "\(applied)"]) }
                logger.info("Database schema is current", metadata: ["postgres.server": "\(settings)"])
                await afterMigrations?()
                break
            } catch let error as StorageError where error.code == .serverUnreachable {
                // Said once per distinct problem, not every attempt.
                if error.message != lastProblem {
                    logger.warning(
                        "Database not reachable yet; /ready answers 503 until it is, retrying",
                        metadata: ["postgres.server": "\(settings)", "error": "\(error.message)"])
                    lastProblem = error.message
                }
            } catch {
                // Not the connection (an edited migration, no pgvector): retrying will not help, and serving
                // against a schema that cannot be brought up to date would be wrong.
                logger.critical("Database schema cannot be brought up to date", metadata: ["error": "\(error)"])
                throw error
            }
            try? await Task.sleep(for: configuration.retryInterval)
        }
        // Done: stay until shutdown (a service that returns early stops the group).
        try? await gracefulShutdown()
    }
}
