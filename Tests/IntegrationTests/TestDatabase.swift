import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

/// A fresh database on the test PostgreSQL (started by `./deploy/test.sh`) for each test, migrated and dropped
/// afterwards. A missing server is a failure that says what to run, never a skip.
enum TestDatabase {
    static let logger: Logger = {
        var logger = Logger(label: "tests")
        logger.logLevel = .warning
        return logger
    }()

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var fixtures: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    static func migrations() throws -> [Migration] {
        try Migration.load(from: repositoryRoot.appendingPathComponent("migrations").path)
    }

    static func serverSettings() throws -> DatabaseSettings {
        guard let url = ProcessInfo.processInfo.environment["UNITY_AI_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError(
                "UNITY_AI_TEST_DATABASE_URL is not set. Run the suite with ./deploy/test.sh, which installs and starts "
                    + "PostgreSQL with pgvector and exports it.")
        }
        return try DatabaseSettings(url: url)
    }

    /// Runs `body` with a running client on a new, migrated database.
    static func withFreshDatabase<Result: Sendable>(
        migrate: Bool = true, _ body: @Sendable (Database, DatabaseSettings) async throws -> Result
    ) async throws -> Result {
        let server = try serverSettings()
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await admin(server) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let settings = server.with(database: String(name))
        let client = try Database(settings: settings, logger: logger)
        let result: Result
        do {
            result = try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask { await client.client.run() }
                defer { group.cancelAll() }
                try await Task.sleep(for: .milliseconds(5))
                if migrate { try await Migrator(client: client, migrations: try migrations()).migrate(logger: logger) }
                return try await body(client, settings)
            }
        } catch {
            try? await dropDatabase(String(name), server: server)
            throw error
        }
        try? await dropDatabase(String(name), server: server)
        return result
    }

    private static func dropDatabase(_ name: String, server: DatabaseSettings) async throws {
        try await admin(server) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    private static func admin(_ server: DatabaseSettings, _ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try server.clientConfiguration(), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Task.sleep(for: .milliseconds(5))
            try await body(client)
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory removed when the test ends.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("unity-ai-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ text: String, to relativePath: String) throws {
        try write(Data(text.utf8), to: relativePath)
    }

    func write(_ data: Data, to relativePath: String) throws {
        let url = URL(fileURLWithPath: path + "/" + relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func remove(_ relativePath: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + relativePath)
    }

    func delete() { try? FileManager.default.removeItem(atPath: path) }
}
