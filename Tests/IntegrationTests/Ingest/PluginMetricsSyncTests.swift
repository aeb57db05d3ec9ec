import Foundation
import Ingest
import PostgresNIO
import Retrieval
import Storage
import Testing

extension Appliance {
    /// A `plugin_metrics` sync over this appliance, as instance `instance`.
    func metricsSync(instance: String = "test", batchSize: Int = 16, hourlyRetentionDays: Int = 14) -> PluginMetricsSync
    {
        var configuration = PluginMetricsSync.Configuration()
        configuration.claims.instance = instance
        configuration.claims.batchSize = batchSize
        configuration.hourlyRetentionDays = hourlyRetentionDays
        return PluginMetricsSync(
            configuration: configuration,
            ingestor: Ingestor(store: store, embedder: embedder, logger: TestDatabase.logger),
            logger: TestDatabase.logger)
    }

    /// Inserts plugin readings in one statement (as a plugin's batch would be).
    func insertMetrics(_ rows: [MetricRow]) async throws {
        try await client.query(
            """
            INSERT INTO plugin_metrics (plugin, metric, value, unit, labels, host, collected_at)
            SELECT r.plugin, r.metric, r.value, r.unit, r.labels::jsonb, r.host, r.collected_at
            FROM unnest(\(rows.map(\.plugin))::text[], \(rows.map(\.metric))::text[], \(rows.map(\.value))::float8[],
                        \(rows.map(\.unit))::text[], \(rows.map(\.labels))::text[], \(rows.map(\.host))::text[],
                        \(rows.map(\.at))::timestamptz[])
                 AS r(plugin, metric, value, unit, labels, host, collected_at)
            """, logger: TestDatabase.logger)
    }
}

/// A row of `plugin_metrics` to insert.
struct MetricRow: Sendable {
    var plugin: String
    var host: String
    var metric: String
    var value: Double
    var unit: String
    var labels: String
    var at: Date
}

/// Plugin metrics as a source: summaries per plugin, host and window that answer questions about hosts, written
/// incrementally by window.
@Suite struct PluginMetricsSyncTests {
    /// 2025-03-03T00:00:00Z.
    static let start = Date(timeIntervalSince1970: 1_740_960_000)

    /// Two days of disk use every 30 minutes on three hosts: db-2 fills by 6 points a day, web-1 by 1.5,
    /// cache-3 shrinks by 0.5; and a SMART check per host, hourly, that fails on web-1 for two hours.
    static func fixture(days: Int = 2) -> [MetricRow] {
        var rows: [MetricRow] = []
        let disks: [(host: String, base: Double, perDay: Double)] = [
            ("web-1", 41, 1.5), ("db-2", 62, 6), ("cache-3", 55, -0.5),
        ]
        for step in 0..<(days * 48) {
            let hours = Double(step) / 2
            let at = start.addingTimeInterval(hours * 3_600)
            for disk in disks {
                rows.append(
                    MetricRow(
                        plugin: "disk-monitor", host: disk.host, metric: "disk_used_percent",
                        value: disk.base + disk.perDay * hours / 24, unit: "%", labels: #"{"mount": "/var"}"#, at: at))
            }
            if step % 2 == 0 {
                for disk in disks {
                    let failing = disk.host == "web-1" && (30...31).contains(step / 2)
                    rows.append(
                        MetricRow(
                            plugin: "smart-monitor", host: disk.host, metric: "smart_passed", value: failing ? 0 : 1,
                            unit: "", labels: #"{"device": "/dev/sda"}"#, at: at))
                }
            }
        }
        return rows
    }

    @Test func theHostWhoseDiskFillsFastestIsNamedAndCitedToItsSummary() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            try await appliance.insertMetrics(Self.fixture())
            let summary = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(2 * 86_400 + 600))
            // 2 plugins × 3 hosts × 48 hours, 2 plugins × 3 hosts × 2 days, 2 plugins × 2 days of rankings.
            #expect(summary.added == 288 + 12 + 4 && summary.failed == 0, "\(summary.failures.prefix(3))")

            let answer = try await appliance.askService.ask(
                question: "Which host's disk is filling fastest?", tenant: "default", topK: 5)
            let firstSentence = answer.answer.components(separatedBy: " [").first ?? ""
            #expect(firstSentence.contains("host db-2"), "\(answer.answer)")
            #expect(!firstSentence.contains("web-1") && !firstSentence.contains("cache-3"), "\(answer.answer)")
            #expect(
                answer.citations.first?.source.hasPrefix("plugin_metrics/disk-monitor/*/2025-03-0") == true,
                "\(answer.citations)")

            let smart = try await appliance.askService.ask(
                question: "Did any SMART check fail this week?", tenant: "default", topK: 5)
            #expect(smart.answer.contains("web-1"), "\(smart.answer)")
            #expect(
                smart.citations.first?.source.hasPrefix("plugin_metrics/smart-monitor/") == true, "\(smart.citations)")
        }
    }

    @Test func aClosedHourIsSummarisedOnceAndTheOpenOneRefreshed() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let hour = 3_600.0
            func readings(from: Double, through: Double) -> [MetricRow] {
                stride(from: from, through: through, by: 0.25).map { hours in
                    MetricRow(
                        plugin: "disk-monitor", host: "db-2", metric: "disk_used_percent", value: 60 + hours, unit: "%",
                        labels: #"{"mount": "/"}"#, at: Self.start.addingTimeInterval(hours * hour))
                }
            }
            // 10:00 to 12:30: hours 10 and 11 closed, 12 open.
            try await appliance.insertMetrics(readings(from: 10, through: 12.5))
            let first = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(12.6 * hour))
            #expect(first.added == 3 + 1 + 1 && first.failed == 0, "\(first)")  // three hours, the day, the ranking

            let idle = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(12.7 * hour))
            #expect(idle.added + idle.updated + idle.unchanged + idle.removed + idle.chunksEmbedded == 0, "\(idle)")

            // New readings in the open hour: that hour, its day and the ranking are summarised again (the ranking's
            // text comes out the same: same trend, same rounded time to full); hours 10 and 11 are not read.
            try await appliance.insertMetrics(readings(from: 12.75, through: 12.75))
            let closedBefore = try await appliance.count(
                "SELECT count(*) FROM documents WHERE source_uri LIKE 'plugin_metrics/disk-monitor/db-2/2025-03-03T1_:00Z' AND updated_at = created_at"
            )
            let second = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(12.8 * hour))
            #expect(second.updated == 2 && second.unchanged == 1 && second.added == 0, "\(second)")
            #expect(closedBefore == 3)
            #expect(
                try await appliance.count(
                    """
                    SELECT count(*) FROM documents
                    WHERE source_uri IN ('plugin_metrics/disk-monitor/db-2/2025-03-03T10:00Z',
                                         'plugin_metrics/disk-monitor/db-2/2025-03-03T11:00Z')
                      AND updated_at = created_at
                    """) == 2)
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM chunks WHERE text LIKE '%12 readings of 1 series, the last at 12:45 UTC%'")
                    == 1)
            #expect(try await appliance.count("SELECT count(*) FROM plugin_metric_days") == 0)
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM plugin_metric_hours WHERE summarised_seq IS DISTINCT FROM change_seq")
                    == 0)
        }
    }

    @Test func hourlySummariesPastTheRetentionGoAndDailyOnesStay() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let old = (0..<4).map { step in
                MetricRow(
                    plugin: "redis-monitor", host: "cache-1", metric: "used_memory_percent", value: 40 + Double(step),
                    unit: "%",
                    labels: "{}", at: Self.start.addingTimeInterval(Double(step) * 1_800))
            }
            try await appliance.insertMetrics(old)
            // While recent, the hours have documents of their own.
            let recent = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(86_400))
            #expect(recent.added == 2 + 1 + 1, "\(recent)")
            // Twenty days on, the hourly documents are removed; the day and its ranking stay.
            let later = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(20 * 86_400))
            #expect(later.removed == 2, "\(later)")
            let sources = try await client.query("SELECT source_uri FROM documents", logger: TestDatabase.logger)
            #expect(
                Set(try sources.decode(String.self))
                    == ["plugin_metrics/redis-monitor/*/2025-03-03", "plugin_metrics/redis-monitor/cache-1/2025-03-03"])
        }
    }

    /// Rows written before the migrations (the seed's table with its rows) are summarised by the first sync.
    @Test func rowsThatPredateTheMigrationAreSummarised() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { client, _ in
            let appliance = Appliance(client: client)
            let migrations = try TestDatabase.migrations()
            try await Migrator(client: client, migrations: migrations.filter { $0.version <= 4 }).migrate(
                logger: TestDatabase.logger)
            try await appliance.insertMetrics(Self.fixture(days: 1).filter { $0.plugin == "disk-monitor" })
            try await Migrator(client: client, migrations: migrations).migrate(logger: TestDatabase.logger)
            let summary = try await appliance.metricsSync().sync(now: Self.start.addingTimeInterval(86_400))
            #expect(summary.added == 72 + 3 + 1 && summary.failed == 0, "\(summary)")
        }
    }

    /// Two instances sync at once: each plugin-day is summarised by one of them, and every document once.
    @Test func concurrentSyncsSummariseEachPluginDayOnce() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            try await appliance.insertMetrics(Self.fixture(days: 2))
            let now = Self.start.addingTimeInterval(2 * 86_400 + 600)
            let summaries = try await withThrowingTaskGroup(of: IngestSummary.self) { group in
                for instance in ["a", "b"] {
                    group.addTask { try await appliance.metricsSync(instance: instance, batchSize: 1).sync(now: now) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(summaries.reduce(0) { $0 + $1.added } == 304, "\(summaries)")
            #expect(summaries.reduce(0) { $0 + $1.updated + $1.unchanged + $1.failed } == 0, "\(summaries)")
            #expect(try await appliance.count("SELECT count(*) FROM documents") == 304)
            #expect(try await appliance.count("SELECT count(*) FROM plugin_metric_days") == 0)
        }
    }
}
