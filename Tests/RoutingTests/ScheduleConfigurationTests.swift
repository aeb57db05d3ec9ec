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
        // The file schedules housekeeping itself: no default one is added for it (the inventory's default remains).
        #expect(configuration.effectiveSchedules.map(\.name) == ["tidy", "model_refresh"])
    }

    @Test func withoutSchedulesHousekeepingRunsEveryTenMinutesInUTC() throws {
        let configuration = try RoutingConfiguration.parse(yaml: "routing: {default_strategy: cost_optimized}\n", environment: [:])
        let schedule = try #require(configuration.effectiveSchedules.first)
        #expect(schedule.kind == .housekeeping && schedule.cron.expression.source == "*/10 * * * *")
        #expect(schedule.cron.timeZone.secondsFromGMT() == 0)
    }

    @Test(arguments: [
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
