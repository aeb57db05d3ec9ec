import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Deletes what the router no longer needs from the shared tables, every `interval`: expired `response_cache`
/// entries and `rate_limit_windows` rows older than `windowRetention`. Several instances may run it at once; the
/// deletes are idempotent.
public struct RouterHousekeeping: Service {
    public struct Configuration: Sendable {
        /// Time between sweeps. Defaults to 10 minutes.
        public var interval: Duration = .seconds(600)
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

    public func run() async throws {
        let interval = configuration.interval
        while (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil {
            do {
                let removed = try await sweep(now: Date())
                logger.debug(
                    "Router housekeeping finished",
                    metadata: ["cache.expired": "\(removed.cacheEntries)", "rate_limit.windows": "\(removed.windows)"])
            } catch {
                logger.warning("Router housekeeping failed, retrying next sweep", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
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
