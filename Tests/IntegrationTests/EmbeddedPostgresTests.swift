import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

/// The embedded default: initdb on first use, reuse, sharing between processes' leases, clean stop.
@Suite struct EmbeddedPostgresTests {
    @Test func startsSharesReusesAndStops() async throws {
        guard let binaries = ProcessInfo.processInfo.environment["UNITY_AI_PG_BIN"] else {
            throw TestSetupError("UNITY_AI_PG_BIN is not set. Run ./deploy/test.sh, which installs PostgreSQL with pgvector.")
        }
        let dataDirectory = "/tmp/unity-ai-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: dataDirectory)
        configuration.binaryDirectory = binaries
        let embedded = EmbeddedPostgres(configuration: configuration)
        let logger = TestDatabase.logger

        let first = try await embedded.start(logger: logger)
        #expect(first.startedHere)
        try await Self.write(settings: first.settings, value: "kept")

        // A second user joins the running server instead of starting another.
        let second = try await embedded.start(logger: logger)
        #expect(!second.startedHere)
        await second.release(logger: logger)
        #expect(try await Self.read(settings: first.settings) == "kept")

        await first.release(logger: logger)
        #expect(!FileManager.default.fileExists(atPath: first.settings.socketPath))

        // The next start reuses the cluster and its data.
        let third = try await embedded.start(logger: logger)
        #expect(third.startedHere)
        #expect(try await Self.read(settings: third.settings) == "kept")
        await third.release(logger: logger)
    }

    @Test func missingBinariesAreAClearError() async throws {
        var configuration = EmbeddedPostgres.Configuration(dataDirectory: "/tmp/unity-ai-nobin-\(UUID().uuidString.prefix(8))")
        configuration.binaryDirectory = "/nonexistent/bin"
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let error = await #expect(throws: StorageError.self) {
            try await EmbeddedPostgres(configuration: configuration).start(logger: TestDatabase.logger)
        }
        #expect(error?.code == .binariesNotFound)
        #expect(error?.message.contains("UNITY_AI_PG_BIN") == true)
    }

    static func withClient<T: Sendable>(_ settings: DatabaseSettings, _ body: @Sendable (Database) async throws -> T) async throws -> T {
        let client = try Database(settings: settings, logger: TestDatabase.logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.client.run() }
            defer { group.cancelAll() }
            try await Task.sleep(for: .milliseconds(5))
            return try await body(client)
        }
    }

    static func write(settings: DatabaseSettings, value: String) async throws {
        try await withClient(settings) { client in
            try await client.query("CREATE TABLE IF NOT EXISTS probe (value text)", logger: TestDatabase.logger)
            try await client.query("INSERT INTO probe VALUES (\(value))", logger: TestDatabase.logger)
            try await client.query("CREATE EXTENSION IF NOT EXISTS vector", logger: TestDatabase.logger)
        }
    }

    static func read(settings: DatabaseSettings) async throws -> String? {
        try await withClient(settings) { client in
            let rows = try await client.query("SELECT value FROM probe", logger: TestDatabase.logger)
            for value in try rows.decode(String.self) { return value }
            return nil
        }
    }
}

extension DatabaseSettings {
    var socketPath: String {
        if case .unixSocket(let path) = endpoint { return path }
        return ""
    }
}
