import Foundation
import PostgresNIO
@testable import Storage
import Testing

/// A call whose connection closes under it ends, even when the query it sent is never answered — PostgresNIO drops a
/// query sent in the instant its connection closes, which kept `unity-ai ingest` from exiting after a PostgreSQL
/// restart (the reliability suite's "PostgreSQL stopped mid-ingest" check).
@Suite struct ConnectionCloseWatchTests {
    /// Stands in for the dropped query: a wait that nothing ends until the test does.
    final class NeverAnswered: Sendable {
        let stream: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
        func wait() async { for await _ in stream {} }
        func release() { continuation.finish() }
    }

    @Test func aCallWhoseConnectionClosesEndsWithAConnectivityError() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { database, _ in
            let dropped = NeverAnswered()
            defer { dropped.release() }
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: StorageError.self) {
                try await database.withConnection(logger: TestDatabase.logger) { connection in
                    try await connection.close()
                    await dropped.wait()
                }
            }
            #expect(error?.code == .serverUnreachable)
            #expect(error?.message.contains("closed the connection") == true)
            // Before the fix the call never ended; the bound is far from both.
            #expect(clock.now - started < .seconds(30))

            // The outage it recorded ends with the next call that gets through (one trial a second).
            try await Task.sleep(for: .milliseconds(1100))
            let one = try await database.query("SELECT 1", logger: TestDatabase.logger).decode(Int.self)
            #expect(one == [1])
        }
    }

    @Test func aBodyThatFailsByItselfKeepsItsOwnError() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { database, _ in
            await #expect(throws: PSQLError.self) {
                try await database.withConnection(logger: TestDatabase.logger) { connection in
                    try await connection.query("SELECT 1 / 0", logger: TestDatabase.logger)
                }
            }
        }
    }

    @Test func eachConnectionIsWatchedOnceHoweverManyCallsItCarries() async throws {
        let settings = try TestDatabase.serverSettings()
        let connection = try await PostgresConnection.connect(
            configuration: try settings.connectionConfiguration(), id: 1, logger: TestDatabase.logger)
        let watch = ConnectionCloseWatch()
        for value in 0..<200 {
            let answer = try await watch.run(on: connection) { connection in
                var total = 0
                for try await number in try await connection.query("SELECT \(value)::int", logger: TestDatabase.logger)
                    .decode(Int.self)
                {
                    total += number
                }
                return total
            }
            #expect(answer == value)
        }
        #expect(watch.watchedConnections == 1)
        try await connection.close()
        // The close callback runs on the connection's event loop: give it a moment.
        for _ in 0..<100 where watch.watchedConnections != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(watch.watchedConnections == 0)
    }
}
