import Foundation
import Lifecycle
import Logging
import PostgresNIO
import Storage
import Synchronization
import Testing

/// The scheduler on the real PostgreSQL, driven by an injected clock: each slot once across instances, catch-up,
/// failures recorded and retried at the next slot, no overlap, abandoned runs, shutdown.
@Suite struct JobSchedulerTests {
    final class TestClock: Sendable {
        private let date: Mutex<Date>
        init(_ date: Date) { self.date = Mutex(date) }
        var now: Date {
            get { date.withLock { $0 } }
            set { date.withLock { $0 = newValue } }
        }
    }

    /// 2026-11-30 10:00:00 UTC.
    static let start = Date(timeIntervalSince1970: 1_796_032_800)

    static func schedule(_ name: String, _ cron: String, zone: String = "UTC", catchUp: Duration = JobSchedule.onTimeSlack)
        throws -> JobSchedule
    {
        JobSchedule(
            name: name, kind: JobKind(name), cron: try CronSchedule(expression: cron, timeZoneIdentifier: zone), catchUp: catchUp)
    }

    static func scheduler(
        _ schedules: [JobSchedule], work: @escaping JobScheduler.Work, database: Database, clock: TestClock, instance: String
    ) -> JobScheduler {
        var configuration = JobScheduler.Configuration()
        configuration.instance = instance
        return JobScheduler(
            configuration: configuration, schedules: schedules,
            jobs: Dictionary(uniqueKeysWithValues: schedules.map { ($0.kind, work) }),
            ledger: PostgresJobRunLedger(client: database, logger: TestDatabase.logger), now: { clock.now },
            logger: TestDatabase.logger)
    }

    /// What one tick of `scheduler` does, waited for.
    static func tick(_ scheduler: JobScheduler) async {
        for (schedule, slot) in scheduler.takeDueSlots() { await scheduler.execute(schedule, slot: slot, manual: false) }
    }

    @Test func twoInstancesOnOneDatabaseRunEachSlotExactlyOnce() async throws {
        try await TestDatabase.withFreshDatabase { database, settings in
            let second = try Database(settings: settings, logger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await second.client.run() }
                defer { group.cancelAll() }
                let clock = TestClock(Self.start)
                let runs = Mutex<[Date]>([])
                let schedules = [try Self.schedule("sweep", "*/5 * * * *")]
                let work: JobScheduler.Work = {
                    runs.withLock { $0.append(clock.now) }
                    return "swept"
                }
                let a = Self.scheduler(schedules, work: work, database: database, clock: clock, instance: "a")
                let b = Self.scheduler(schedules, work: work, database: second, clock: clock, instance: "b")
                // An hour of 5-minute slots; both instances look at each one at the same moment.
                for minute in stride(from: 0, to: 60, by: 5) {
                    clock.now = Self.start.addingTimeInterval(Double(minute * 60 + 2))
                    async let first: Void = Self.tick(a)
                    async let other: Void = Self.tick(b)
                    _ = await (first, other)
                }
                #expect(runs.withLock { $0.count } == 12)
                let history = try await PostgresJobRunLedger(client: database, logger: TestDatabase.logger).history(job: "sweep", limit: 100)
                #expect(history.count == 12)
                #expect(Set(history.map(\.slot)).count == 12)
                #expect(history.allSatisfy { $0.status == .succeeded && $0.summary == "swept" })
                #expect(Set(history.map(\.instance)).isSubset(of: ["a", "b"]))
            }
        }
    }

    @Test func aSlotMissedWhileEveryInstanceWasDownRunsOnceWithinItsCatchUpWindow() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let clock = TestClock(Self.start.addingTimeInterval(30 * 60))  // 10:30, the 10:00 slot was missed
            let count = Mutex(0)
            let work: JobScheduler.Work = {
                count.withLock { $0 += 1 }
                return "ok"
            }
            let lenient = Self.scheduler(
                [try Self.schedule("hourly", "0 * * * *", catchUp: .seconds(2 * 3600))], work: work, database: database, clock: clock,
                instance: "a")
            await Self.tick(lenient)
            await Self.tick(lenient)  // once only
            #expect(count.withLock { $0 } == 1)
            // A restarted instance does not run it again: the slot is claimed in the database.
            let restarted = Self.scheduler(
                [try Self.schedule("hourly", "0 * * * *", catchUp: .seconds(2 * 3600))], work: work, database: database, clock: clock,
                instance: "b")
            await Self.tick(restarted)
            #expect(count.withLock { $0 } == 1)
            // Without a catch-up window, a slot 30 minutes old is not run.
            let strict = Self.scheduler(
                [try Self.schedule("strict", "0 * * * *")], work: work, database: database, clock: clock, instance: "c")
            await Self.tick(strict)
            #expect(count.withLock { $0 } == 1)
        }
    }

    struct JobFailed: Error, CustomStringConvertible {
        var description: String { "disk full" }
    }

    @Test func aFailingJobIsRecordedAndTriedAgainAtItsNextSlot() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let clock = TestClock(Self.start.addingTimeInterval(1))
            let attempts = Mutex(0)
            let work: JobScheduler.Work = {
                let attempt = attempts.withLock { value -> Int in
                    value += 1
                    return value
                }
                if attempt == 1 { throw JobFailed() }
                return "second time lucky"
            }
            let scheduler = Self.scheduler([try Self.schedule("flaky", "*/10 * * * *")], work: work, database: database, clock: clock, instance: "a")
            await Self.tick(scheduler)
            clock.now = Self.start.addingTimeInterval(600 + 1)
            await Self.tick(scheduler)
            let history = try await PostgresJobRunLedger(client: database, logger: TestDatabase.logger).history(job: "flaky", limit: 10)
            #expect(history.map(\.status) == [.succeeded, .failed])
            #expect(history.last?.error == "disk full")
        }
    }

    @Test func aSlotThatComesWhileTheJobStillRunsIsNotRunAlongsideIt() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let clock = TestClock(Self.start.addingTimeInterval(1))
            let (release, releaser) = AsyncStream.makeStream(of: Void.self)
            let (started, starting) = AsyncStream.makeStream(of: Void.self)
            let concurrent = Mutex((now: 0, most: 0))
            let work: JobScheduler.Work = {
                concurrent.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                starting.yield()
                for await _ in release { break }
                concurrent.withLock { $0.now -= 1 }
                return "done"
            }
            let schedule = try Self.schedule("long", "* * * * *")
            let scheduler = Self.scheduler([schedule], work: work, database: database, clock: clock, instance: "a")
            let first = Task { await scheduler.execute(schedule, slot: Self.start, manual: false) }
            for await _ in started { break }
            let overlapping = await scheduler.execute(schedule, slot: Self.start.addingTimeInterval(60), manual: false)
            #expect(overlapping == nil)
            releaser.yield()
            #expect(await first.value?.status == .succeeded)
            #expect(concurrent.withLock { $0.most } == 1)
        }
    }

    @Test func aRunLeftByAnInstanceThatDiedIsMarkedAbandonedWhenTheJobRunsNext() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            try await database.query(
                "INSERT INTO job_runs (job, slot, instance, status) VALUES ('nightly', now() - interval '1 day', 'gone:1', 'running')",
                logger: TestDatabase.logger)
            let clock = TestClock(Self.start.addingTimeInterval(1))
            let scheduler = Self.scheduler(
                [try Self.schedule("nightly", "0 * * * *")], work: { "ok" }, database: database, clock: clock, instance: "a")
            let run = try await scheduler.runNow(name: "nightly")
            #expect(run.manual && run.status == .succeeded)
            let history = try await PostgresJobRunLedger(client: database, logger: TestDatabase.logger).history(job: "nightly", limit: 10)
            #expect(history.map(\.status).sorted { $0.rawValue < $1.rawValue } == [.abandoned, .succeeded])
        }
    }

    @Test func shutdownCancelsARunningJobAndRecordsIt() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let clock = TestClock(Self.start.addingTimeInterval(1))
            let (started, starting) = AsyncStream.makeStream(of: Void.self)
            let work: JobScheduler.Work = {
                starting.yield()
                try await Task.sleep(for: .seconds(600))
                return "never"
            }
            let scheduler = Self.scheduler([try Self.schedule("slow", "0 * * * *")], work: work, database: database, clock: clock, instance: "a")
            let (ticks, ticker) = AsyncStream.makeStream(of: Void.self)
            let running = Task { try await scheduler.run(ticks: ticks) }
            ticker.yield()
            for await _ in started { break }
            ticker.finish()  // the ticks end as at shutdown: running jobs are cancelled
            try await running.value
            let history = try await PostgresJobRunLedger(client: database, logger: TestDatabase.logger).history(job: "slow", limit: 10)
            #expect(history.map(\.status) == [.cancelled])
        }
    }
}
