import Crypto
import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The appliance's own PostgreSQL+pgvector, kept under its data directory and reached through a unix socket.
///
/// `initdb` runs on first use; a server already running for the data directory is shared rather than started
/// twice; the process that started the server stops it when the last process using it releases it. When the
/// appliance runs as root, PostgreSQL runs as an unprivileged user, and a cluster that user cannot reach under the
/// data directory is placed in `/var/lib/unity-ai/clusters/` instead.
public struct EmbeddedPostgres: Sendable {
    public struct Configuration: Sendable {
        /// The appliance's data directory.
        public var dataDirectory: String
        /// A bin directory to use instead of searching (`UNITY_AI_PG_BIN`).
        public var binaryDirectory: String?
        /// The user PostgreSQL runs as when the appliance runs as root (`UNITY_AI_PG_USER`). Defaults to
        /// `postgres` when that user exists, else a system user `unity-ai-pg` that is created.
        public var serverUser: String?
        /// How long `initdb` and the server start may take. Defaults to 120 seconds.
        public var startTimeout: Duration = .seconds(120)
        /// The database the appliance uses. Defaults to `unity_ai`.
        public var databaseName = "unity_ai"

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Starts the server, or joins the one already running for this data directory.
    /// Call ``EmbeddedPostgresLease/release(logger:)`` when done.
    public func start(logger: Logger) async throws -> EmbeddedPostgresLease {
        let dataDirectory = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let binaries = try await PostgresBinaries.locate(
            explicitDirectory: configuration.binaryDirectory, dataDirectory: dataDirectory)
        let serverUser = ProcessIdentity.isRoot ? try await resolveServerUser(logger: logger) : nil
        let runner = CommandRunner(user: serverUser)
        if let serverUser {
            let reachable = try await runner.run("/usr/bin/test", ["-x", binaries.path(of: "postgres")])
            guard reachable.succeeded else {
                throw StorageError(
                    .binariesNotFound,
                    "PostgreSQL runs as '\(serverUser)' because the appliance runs as root, but '\(serverUser)' cannot "
                        + "reach \(binaries.directory). Install the binaries where it can: ./deploy/install-postgres.sh "
                        + "puts them in /opt/unity-ai, or set UNITY_AI_PG_BIN.")
            }
        }
        let layout = try await ClusterLayout.make(
            dataDirectory: dataDirectory, serverUser: serverUser, runner: runner, logger: logger)

        let lock = try await FileLock.acquire(path: layout.root + "/lock")
        defer { lock.unlock() }

        var started = false
        if !layout.isRunning {
            try await initializeIfNeeded(layout: layout, binaries: binaries, runner: runner, logger: logger)
            try layout.writeServerSettings()
            logger.info("Starting embedded PostgreSQL", metadata: ["postgres.data": "\(layout.data)"])
            let result = try await runner.run(
                binaries.path(of: "pg_ctl"),
                ["-D", layout.data, "-l", layout.logFile, "-w", "-t", "\(configuration.startTimeout.components.seconds)",
                    "start"],
                timeout: configuration.startTimeout + .seconds(10))
            guard result.succeeded else {
                throw StorageError(
                    .serverStartFailed,
                    "Embedded PostgreSQL did not start (pg_ctl exited \(result.status)).\n\(result.output.suffix(600))\n"
                        + "Last lines of \(layout.logFile):\n\(layout.logTail())\n"
                        + "Hint: another PostgreSQL may be using \(layout.data), or the data directory may belong to "
                        + "another PostgreSQL version; remove \(layout.root) to start afresh (this deletes its data).")
            }
            started = true
            try layout.recordOwner()
        } else {
            logger.info("Using the embedded PostgreSQL already running", metadata: ["postgres.data": "\(layout.data)"])
        }
        let registration = try layout.registerClient()
        let lease = EmbeddedPostgresLease(
            layout: layout, binaries: binaries, runner: runner, registration: registration, startedHere: started,
            settings: DatabaseSettings(
                endpoint: .unixSocket(path: layout.socketPath), username: "postgres",
                database: configuration.databaseName))
        do {
            try await ensureDatabase(layout: layout, logger: logger)
        } catch {
            lock.unlock()
            await lease.release(logger: logger)
            throw error
        }
        return lease
    }

    private func resolveServerUser(logger: Logger) async throws -> String {
        if let user = configuration.serverUser {
            guard ProcessIdentity.ids(ofUser: user) != nil else {
                throw StorageError(.serverStartFailed, "UNITY_AI_PG_USER names '\(user)', but no such user exists.")
            }
            return user
        }
        if ProcessIdentity.ids(ofUser: "postgres") != nil { return "postgres" }
        let user = "unity-ai-pg"
        if ProcessIdentity.ids(ofUser: user) == nil {
            logger.notice("Creating system user for PostgreSQL", metadata: ["postgres.user": "\(user)"])
            let result = try await CommandRunner().run(
                "/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
            guard result.succeeded else {
                throw StorageError(
                    .serverStartFailed,
                    "PostgreSQL refuses to run as root and creating the user '\(user)' failed: \(result.output). "
                        + "Create an unprivileged user and set UNITY_AI_PG_USER.")
            }
        }
        return user
    }

    private func initializeIfNeeded(
        layout: ClusterLayout, binaries: PostgresBinaries, runner: CommandRunner, logger: Logger
    ) async throws {
        let versionFile = layout.data + "/PG_VERSION"
        if let existing = try? String(contentsOfFile: versionFile, encoding: .utf8) {
            let major = try await binaries.majorVersion()
            let existingMajor = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            guard existingMajor == major else {
                throw StorageError(
                    .serverStartFailed,
                    "The embedded cluster in \(layout.data) was created by PostgreSQL \(existingMajor), but the binaries "
                        + "in \(binaries.directory) are PostgreSQL \(major). Point UNITY_AI_PG_BIN at PostgreSQL "
                        + "\(existingMajor), or back up with the old version and remove \(layout.root).")
            }
            return
        }
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: layout.data), !contents.isEmpty {
            throw StorageError(
                .serverStartFailed,
                "\(layout.data) is not empty but holds no PostgreSQL cluster (no PG_VERSION). Move it away and retry.")
        }
        logger.notice("Creating embedded PostgreSQL cluster", metadata: ["postgres.data": "\(layout.data)"])
        let result = try await runner.run(
            binaries.path(of: "initdb"),
            ["-D", layout.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"],
            timeout: configuration.startTimeout)
        guard result.succeeded else {
            throw StorageError(
                .serverStartFailed,
                "initdb failed (exit \(result.status)):\n\(result.output.suffix(1200))\n"
                    + "Hint: check that \(layout.root) is writable by the PostgreSQL user and that the disk has space.")
        }
        try layout.includeServerSettings()
    }

    private func ensureDatabase(layout: ClusterLayout, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: .init(unixSocketPath: layout.socketPath, username: "postgres", password: nil, database: "postgres"),
            id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        let name = configuration.databaseName
        let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        if !exists {
            let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoted)"), logger: logger)
            logger.info("Created database", metadata: ["postgres.database": "\(name)"])
        }
    }
}

/// One use of the embedded server. Releasing the last lease, when the process that started the server has
/// released its own or has exited, stops it.
public final class EmbeddedPostgresLease: Sendable {
    /// How to connect to the server.
    public let settings: DatabaseSettings
    /// Whether this process started the server.
    public let startedHere: Bool
    let layout: ClusterLayout
    let binaries: PostgresBinaries
    let runner: CommandRunner
    let registration: String
    private let released = Mutex(false)

    init(
        layout: ClusterLayout, binaries: PostgresBinaries, runner: CommandRunner, registration: String,
        startedHere: Bool, settings: DatabaseSettings
    ) {
        self.layout = layout
        self.binaries = binaries
        self.runner = runner
        self.registration = registration
        self.startedHere = startedHere
        self.settings = settings
    }

    /// Gives the server up; stops it when no other live process uses it and its starter has gone or is this one.
    public func release(logger: Logger) async {
        guard released.withLock({ released in
            defer { released = true }
            return !released
        }) else { return }  // releasing twice is harmless
        guard let lock = try? await FileLock.acquire(path: layout.root + "/lock") else { return }
        defer { lock.unlock() }
        layout.unregisterClient(registration)
        guard layout.liveClients().isEmpty, layout.ownerIsGoneOrSelf() else {
            logger.info("Leaving embedded PostgreSQL running for its other users")
            return
        }
        logger.info("Stopping embedded PostgreSQL", metadata: ["postgres.data": "\(layout.data)"])
        let result = try? await runner.run(
            binaries.path(of: "pg_ctl"), ["-D", layout.data, "-m", "fast", "-w", "-t", "60", "stop"],
            timeout: .seconds(70))
        if result?.succeeded != true {
            logger.error(
                "Embedded PostgreSQL did not stop cleanly",
                metadata: ["postgres.output": "\(result?.output.suffix(400) ?? "")"])
        }
        layout.clearOwner()
    }
}
