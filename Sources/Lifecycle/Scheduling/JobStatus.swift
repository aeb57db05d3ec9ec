import Foundation

/// A schedule as `GET /api/jobs` and `unity-ai jobs list` show it: when it runs next and how it ran last.
public struct JobStatus: Sendable, Encodable {
    public var name: String
    public var job: String
    public var cron: String
    public var timeZone: String
    public var catchUpSeconds: Int64
    public var nextSlot: Date?
    public var lastRun: JobRun?

    enum CodingKeys: String, CodingKey {
        case name, job, cron, nextSlot = "next_slot", lastRun = "last_run", timeZone = "time_zone", catchUpSeconds = "catch_up_seconds"
    }

    /// Every schedule of `scheduler`, with its last run from `ledger`.
    public static func all(scheduler: JobScheduler, ledger: any JobRunLedger, now: Date = Date()) async throws -> [JobStatus] {
        var statuses: [JobStatus] = []
        for schedule in scheduler.schedules {
            statuses.append(
                JobStatus(
                    name: schedule.name, job: schedule.kind.name, cron: schedule.cron.expression.source,
                    timeZone: schedule.cron.timeZone.identifier, catchUpSeconds: schedule.catchUp.components.seconds,
                    nextSlot: schedule.cron.nextSlot(after: now), lastRun: try await ledger.history(job: schedule.name, limit: 1).first))
        }
        return statuses
    }
}
