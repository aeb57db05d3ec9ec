import Foundation
import Lifecycle
import Testing

@testable import Routing

/// The configuration file's `schedules:` list: validated with the key and the line, defaults filled in.
@Suite struct ScheduleConfigurationTests {
    @Test func schedulesReadWithTheirZoneAndCatchUp() throws {
        let yaml = """
            schedules:
              - name: tidy
                job: housekeeping
                cron: "*/15 1-5 * jan,dec mon-fri"
                time_zone: Europe/Berlin
                catch_up: 6h
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: [:])
        let schedule = try #require(configuration.schedules.first)
        #expect(schedule.name == "tidy" && schedule.kind == .housekeeping)
        #expect(schedule.cron.timeZone.identifier == "Europe/Berlin")
        #expect(schedule.catchUp == .seconds(6 * 3600))
        // The file schedules housekeeping itself: no default one is added for it (the other defaults remain).
        #expect(configuration.effectiveSchedules.map(\.name) == ["tidy", "model_refresh", "knowledge_sync", "plugin_metrics_sync"])
    }

    @Test func withoutSchedulesHousekeepingRunsEveryTenMinutesInUTC() throws {
        let configuration = try RoutingConfiguration.parse(yaml: "routing: {default_strategy: cost_optimized}\n", environment: [:])
        let schedule = try #require(configuration.effectiveSchedules.first)
        #expect(schedule.kind == .housekeeping && schedule.cron.expression.source == "*/10 * * * *")
        #expect(schedule.cron.timeZone.secondsFromGMT() == 0)
    }

    @Test func theSourceSyncsRunEveryFiveMinutesUnlessScheduled() throws {
        let defaults = try RoutingConfiguration.parse(yaml: "", environment: [:]).effectiveSchedules
        #expect(defaults.first { $0.kind == .knowledgeSync }?.cron.expression.source == "*/5 * * * *")
        #expect(defaults.first { $0.kind == .pluginMetricsSync }?.cron.expression.source == "2-59/5 * * * *")
        let yaml = "schedules:\n  - {name: items, job: knowledge_sync, cron: '* * * * *'}\n"
        let configured = try RoutingConfiguration.parse(yaml: yaml, environment: [:]).effectiveSchedules
        #expect(configured.filter { $0.kind == .knowledgeSync }.map(\.name) == ["items"])
    }

    @Test func theIngestSectionSetsTheSyncs() throws {
        let yaml = """
            ingest:
              knowledge_items: {batch_size: 10, lease: 5m}
              plugin_metrics: {tenant: ops, keep_hourly_days: 3, batch_size: 2, lease: 1h}
            """
        let ingest = try RoutingConfiguration.parse(yaml: yaml, environment: [:]).ingest
        #expect(ingest.knowledgeItemsBatchSize == 10 && ingest.knowledgeItemsLease == .seconds(300))
        #expect(ingest.pluginMetricsTenant == "ops" && ingest.pluginMetricsHourlyDays == 3)
        #expect(ingest.pluginMetricsBatchSize == 2 && ingest.pluginMetricsLease == .seconds(3600))
        #expect(try RoutingConfiguration.parse(yaml: "", environment: [:]).ingest == .init())
    }

    @Test func ingestRootsAreReadAndScheduleTheDirectorySyncEveryFiveMinutes() throws {
        let yaml = """
            ingest:
              roots:
                - {path: /srv/handbook}
                - {path: /srv/hr, tenant: acme, private: true}
            """
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: [:])
        #expect(
            configuration.ingest.roots == [
                .init(path: "/srv/handbook", tenant: "default", isPrivate: false),
                .init(path: "/srv/hr", tenant: "acme", isPrivate: true),
            ])
        let directorySync = configuration.effectiveSchedules.filter { $0.kind == .directorySync }
        #expect(directorySync.map(\.name) == ["directory_sync"])
        #expect(directorySync.first?.cron.expression.source == "1-59/5 * * * *")
        // Without roots there is nothing to sync, so no default schedule.
        #expect(!RoutingConfiguration().effectiveSchedules.contains { $0.kind == .directorySync })
        // A `schedules:` entry of the kind replaces the default.
        let scheduled = try RoutingConfiguration.parse(
            yaml: yaml + "\nschedules:\n  - {name: docs, job: directory_sync, cron: '0 * * * *'}\n", environment: [:])
        #expect(scheduled.effectiveSchedules.filter { $0.kind == .directorySync }.map(\.name) == ["docs"])
    }

    @Test(arguments: [
        ("ingest:\n  roots:\n    - {path: srv/docs}\n", "absolute path", 3),
        ("ingest:\n  roots:\n    - {tenant: acme}\n", "needs `path:`", 3),
        ("ingest:\n  roots:\n    - {path: /srv, tenant: 'a b'}\n", "valid tenant name", 3),
        ("ingest:\n  roots:\n    - {path: /srv, private: maybe}\n", "true or false", 3),
        ("ingest:\n  roots:\n    - {path: /srv, schedule: hourly}\n", "unknown key", 3),
        ("ingest:\n  roots:\n    - {path: /srv}\n    - {path: /srv}\n", "listed twice", 4),
        ("ingest:\n  plugin_metrics: {tenant: 'no spaces'}\n", "valid tenant name", 2),
        ("ingest:\n  knowledge_items: {lease: 5s}\n", "30s", 2),
        ("ingest:\n  knowledge_items: {batch_size: 0}\n", "from 1", 2),
        ("ingest:\n  feeds: {}\n", "unknown key", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '60 * * * *'}\n", "minute", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '0 0 30 2 *'}\n", "never run", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '* * * * *', time_zone: CET}\n", "IANA", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '* * * * *', time_zone: Mars/Olympus}\n", "IANA", 2),
        ("schedules:\n  - {name: a, job: teleport, cron: '* * * * *'}\n", "unknown job", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '* * * * *'}\n  - {name: a, job: housekeeping, cron: '* * * * *'}\n", "unique", 3),
        ("schedules:\n  - {job: housekeeping, cron: '* * * * *'}\n", "name", 2),
        ("schedules:\n  - {name: a, job: housekeeping, cron: '* * * * *', when: now}\n", "unknown key", 2),
    ])
    func aBadScheduleIsRefusedWithItsLine(_ yaml: String, _ words: String, _ line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.description.contains(words) == true, "\(error?.description ?? "")")
        #expect(error?.line == line, "\(error?.description ?? "")")
    }
}
