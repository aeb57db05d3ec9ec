import Foundation
import Logging
import PostgresNIO

/// Deletes what the router no longer needs from the shared tables: expired `response_cache` entries and
/// `rate_limit_windows` rows older than `windowRetention`. The scheduler runs it (job kind `housekeeping`, every 10
/// minutes by default, once per cluster); the deletes are idempotent all the same.
public struct RouterHousekeeping: Sendable {
    public struct Configuration: Sendable {
        /// Rate-limit windows are kept this long after they start (daily windows need a day). Defaults to 2 days.
        public var windowRetention: Duration = .seconds(2 * 86_400)

        public init() {}
    }

    let configuration: Configuration
    let client: Database
    let logger: Logger

    public init(configuration: Configuration = .init(), client: Database, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    /// One sweep; returns what it deleted.
    public func sweep(now: Date) async throws -> (cacheEntries: Int, windows: Int) {
        let expired = try await PostgresResponseCacheStore(client: client, logger: logger).deleteExpired(now: now)
        let cutoff = now.addingTimeInterval(-Double(configuration.windowRetention.components.seconds))
        let rows = try await client.query(
            "WITH gone AS (DELETE FROM rate_limit_windows WHERE window_start < \(cutoff) RETURNING 1) SELECT count(*)::int FROM gone",
            logger: logger)
        var windows = 0
        for count in try rows.decode(Int.self) { windows = count }
        return (expired, windows)
    }
}
