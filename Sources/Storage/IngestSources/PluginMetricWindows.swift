import Foundation
import Logging
import PostgresNIO
import Routing

/// The seed's `plugin_metrics` table seen by window: which plugin-days have hours to summarise (marked by the
/// triggers of `migrations/0006_plugin_metric_windows.sql`), the rows of one hour, and each hour's statistics.
///
/// A sync claims whole plugin-days (a lease, in one `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`): one
/// instance at a time writes a plugin's documents of a day, including its ranking across hosts.
public struct PluginMetricWindows: Sendable {
    let client: Database
    let logger: Logger

    /// The windows of `client`'s `plugin_metrics`.
    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A plugin-day this instance has claimed.
    public struct DayClaim: Sendable, Equatable {
        public var plugin: String
        /// 00:00 UTC of the day.
        public var day: Date
        /// The change the claim read: the day is done only if it is still this when the sync finishes.
        public var changeSeq: Int64
    }

    /// An hour whose rows changed since its statistics were stored.
    public struct StaleHour: Sendable, Equatable {
        /// `plugin_metrics.host`, `""` where it is NULL.
        public var host: String
        public var hour: Date
        public var changeSeq: Int64
    }

    /// A row of `plugin_metrics`.
    public struct Row: Sendable, Equatable {
        public var metric: String
        public var value: Double
        public var unit: String?
        /// The `labels` column as JSON text.
        public var labelsJSON: String
        public var collectedAt: Date
    }

    /// An hour's statistics, as JSON, to store.
    public struct HourStatistics: Sendable, Equatable {
        public var host: String
        public var hour: Date
        /// The change the statistics cover (``StaleHour/changeSeq`` as read).
        public var changeSeq: Int64
        public var seriesJSON: String

        /// Statistics of `host`'s `hour` as of change `changeSeq`.
        public init(host: String, hour: Date, changeSeq: Int64, seriesJSON: String) {
            self.host = host
            self.hour = hour
            self.changeSeq = changeSeq
            self.seriesJSON = seriesJSON
        }
    }

    /// The newest change number of a queued plugin-day, 0 when none is queued: a sync handles days changed up to it.
    public func latestDayChange() async throws -> Int64 {
        let rows = try await client.query(
            "SELECT coalesce(max(change_seq), 0)::bigint FROM plugin_metric_days", logger: logger)
        for seq in try rows.decode(Int64.self) { return seq }
        return 0
    }

    /// Claims up to `limit` queued plugin-days with changes in `(after, through]` that nobody holds, for `lease`.
    public func claimDays(limit: Int, after: Int64, through: Int64, instance: String, lease: Duration) async throws
        -> [DayClaim]
    {
        let rows = try await client.query(
            """
            UPDATE plugin_metric_days q
            SET claimed_by = \(instance), claimed_until = now() + make_interval(secs => \(lease.seconds))
            FROM (
                SELECT plugin, day FROM plugin_metric_days
                WHERE change_seq > \(after) AND change_seq <= \(through)
                  AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY change_seq
                LIMIT \(max(1, limit))
                FOR UPDATE SKIP LOCKED
            ) c
            WHERE q.plugin = c.plugin AND q.day = c.day
            RETURNING q.plugin, q.day, q.change_seq
            """, logger: logger)
        return try rows.decode((String, Date, Int64).self).map { DayClaim(plugin: $0, day: $1, changeSeq: $2) }
            .sorted { $0.changeSeq < $1.changeSeq }
    }

    /// The hours of a plugin-day whose rows changed since their statistics were stored.
    public func staleHours(plugin: String, day: Date) async throws -> [StaleHour] {
        let rows = try await client.query(
            """
            SELECT host, hour, change_seq FROM plugin_metric_hours
            WHERE plugin = \(plugin) AND hour >= \(day) AND hour < \(day) + interval '1 day'
              AND summarised_seq IS DISTINCT FROM change_seq
            ORDER BY host, hour
            """, logger: logger)
        return try rows.decode((String, Date, Int64).self).map { StaleHour(host: $0, hour: $1, changeSeq: $2) }
    }

    /// The rows of one plugin, host and hour in time order, at most `limit` of them.
    public func rows(plugin: String, host: String, hour: Date, limit: Int) async throws -> [Row] {
        let rows = try await client.query(
            """
            SELECT metric, value, unit, labels::text, collected_at FROM plugin_metrics
            WHERE plugin = \(plugin) AND coalesce(host, '') = \(host)
              AND collected_at >= \(hour) AND collected_at < \(hour) + interval '1 hour'
            ORDER BY collected_at, id
            LIMIT \(max(1, limit))
            """, logger: logger)
        return try rows.decode((String, Double, String?, String, Date).self).map {
            Row(metric: $0, value: $1, unit: $2, labelsJSON: $3, collectedAt: $4)
        }
    }

    /// The stored statistics of every host's hours of a plugin-day, as JSON: by host, then hour.
    public func storedHours(plugin: String, day: Date) async throws -> [String: [Date: String]] {
        let rows = try await client.query(
            """
            SELECT host, hour, series::text FROM plugin_metric_hours
            WHERE plugin = \(plugin) AND hour >= \(day) AND hour < \(day) + interval '1 day' AND series IS NOT NULL
            """, logger: logger)
        var hours: [String: [Date: String]] = [:]
        for (host, hour, json) in try rows.decode((String, Date, String).self) {
            hours[host, default: [:]][hour] = json
        }
        return hours
    }

    /// Stores hours' statistics with the change each covers, in one statement.
    public func saveHours(plugin: String, _ hours: [HourStatistics]) async throws {
        guard !hours.isEmpty else { return }
        try await client.query(
            """
            UPDATE plugin_metric_hours h
            SET series = s.series::jsonb, summarised_seq = s.change_seq
            FROM unnest(\(hours.map(\.host))::text[], \(hours.map(\.hour))::timestamptz[],
                        \(hours.map(\.changeSeq))::bigint[], \(hours.map(\.seriesJSON))::text[])
                 AS s(host, hour, change_seq, series)
            WHERE h.plugin = \(plugin) AND h.host = s.host AND h.hour = s.hour
            """, logger: logger)
    }

    /// Ends this instance's claims: a day still at the change it claimed leaves the queue; one that changed
    /// meanwhile, or is in `retry`, is released for the next sync.
    public func finish(_ claims: [DayClaim], retry: [DayClaim], instance: String) async throws {
        guard !claims.isEmpty else { return }
        let done = claims.filter { claim in !retry.contains { $0.plugin == claim.plugin && $0.day == claim.day } }
        try await client.query(
            """
            WITH done AS (
                DELETE FROM plugin_metric_days q
                USING unnest(\(done.map(\.plugin))::text[], \(done.map(\.day))::timestamptz[],
                             \(done.map(\.changeSeq))::bigint[]) AS d(plugin, day, change_seq)
                WHERE q.plugin = d.plugin AND q.day = d.day AND q.change_seq = d.change_seq
                  AND q.claimed_by = \(instance)
                RETURNING q.plugin, q.day
            )
            UPDATE plugin_metric_days q SET claimed_by = NULL, claimed_until = NULL
            FROM unnest(\(claims.map(\.plugin))::text[], \(claims.map(\.day))::timestamptz[]) AS c(plugin, day)
            WHERE q.plugin = c.plugin AND q.day = c.day AND q.claimed_by = \(instance)
              AND NOT EXISTS (SELECT 1 FROM done WHERE done.plugin = q.plugin AND done.day = q.day)
            """, logger: logger)
    }
}
