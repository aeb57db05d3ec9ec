import Foundation
import Lifecycle
import NIOCore
import Routing
import Storage
import Synchronization
import Testing

@testable import Backup

/// The scheduler's `backup`, `backup_verify` and `backup_prune` jobs, configured in `schedules:` and driven by an
/// injected clock as the other job kinds' tests drive theirs, over the real PostgreSQL and SeaweedFS.
@Suite(.serialized) struct BackupJobTests {
    static let yaml = """
        schedules:
          - {name: nightly-backup, job: backup, cron: "0 2 * * *"}
          - {name: backup-check, job: backup_verify, cron: "0 4 * * *"}
          - {name: retention, job: backup_prune, cron: "30 4 * * *"}
        backups:
          retention: {keep_last: 1}
        """

    /// The scheduler of `yaml`'s schedules with the backup kinds' work over `target`.
    static func scheduler(
        database: Database, target: any BackupTarget, clock: JobSchedulerTests.TestClock
    ) throws -> (JobScheduler, RoutingConfiguration) {
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: [:])
        let jobs = BackupService.scheduledWork(retention: configuration.backups.retention) {
            BackupFixtures.service(database, target)
        }
        var settings = JobScheduler.Configuration()
        settings.instance = "test"
        let scheduler = JobScheduler(
            configuration: settings, schedules: configuration.schedules, jobs: jobs,
            ledger: PostgresJobRunLedger(client: database, logger: TestDatabase.logger), now: { clock.now },
            logger: TestDatabase.logger)
        return (scheduler, configuration)
    }

    static func history(_ database: Database, _ job: String) async throws -> [JobRun] {
        try await PostgresJobRunLedger(client: database, logger: TestDatabase.logger).history(job: job, limit: 10)
    }

    @Test func theBackupKindsRunFromTheirSchedulesAndRecordWhatTheyDid() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            // The first night's slots at 02:00, 04:00 and 04:30 UTC.
            let midnight = Calendar(identifier: .iso8601).startOfDay(for: Date().addingTimeInterval(-2 * 86_400))
            let clock = JobSchedulerTests.TestClock(midnight.addingTimeInterval(2 * 3600 + 5))
            let (scheduler, configuration) = try Self.scheduler(database: database, target: target, clock: clock)
            #expect(configuration.schedules.map(\.kind) == [.backup, .backupVerify, .backupPrune])
            let service = BackupFixtures.service(database, target)

            await JobSchedulerTests.tick(scheduler)  // 02:00: backup
            let first = try #require(try await Self.history(database, "nightly-backup").first)
            #expect(first.status == .succeeded, "\(first.error ?? "")")
            let sets = try await service.list()
            #expect(sets.count == 1)
            #expect(first.summary?.hasPrefix("set \(sets[0].id): ") == true)

            clock.now = midnight.addingTimeInterval(4 * 3600 + 5)
            await JobSchedulerTests.tick(scheduler)  // 04:00: verify
            let verified = try #require(try await Self.history(database, "backup-check").first)
            #expect(verified.status == .succeeded, "\(verified.error ?? "")")
            #expect(verified.summary?.hasPrefix("set \(sets[0].id) intact") == true)

            // The next night: a second set, then a tampered object fails the verify, then the prune keeps one set.
            clock.now = midnight.addingTimeInterval(86_400 + 2 * 3600 + 5)
            await JobSchedulerTests.tick(scheduler)
            let newest = try #require(try await service.list().last)
            let tampered = "sets/\(newest.id)/tables/tenants.tar.gz"
            try await target.put(.single(ByteBuffer(string: "tampered")), at: tampered, sizeHint: nil)
            clock.now = midnight.addingTimeInterval(86_400 + 4 * 3600 + 5)
            await JobSchedulerTests.tick(scheduler)
            let failed = try #require(try await Self.history(database, "backup-check").first)
            #expect(failed.status == .failed)
            #expect(failed.error?.contains(tampered) == true, "\(failed.error ?? "")")

            clock.now = midnight.addingTimeInterval(86_400 + 4.5 * 3600 + 5)
            await JobSchedulerTests.tick(scheduler)
            let pruned = try #require(try await Self.history(database, "retention").first)
            #expect(pruned.status == .succeeded, "\(pruned.error ?? "")")
            #expect(pruned.summary?.hasPrefix("kept 1 sets, deleted 1") == true, "\(pruned.summary ?? "")")
            #expect(try await service.list().map(\.id) == [newest.id])
        }
    }

    @Test func aVerifyWithNoSetAndAPruneWithoutRetentionFailWithTheirReason() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            let jobs = BackupService.scheduledWork(retention: BackupRetention()) { BackupFixtures.service(database, target) }
            let verify = try #require(jobs[.backupVerify])
            let noSet = await #expect(throws: BackupError.self) { _ = try await verify() }
            #expect(noSet?.message.contains("No complete backup set") == true)
            let prune = try #require(jobs[.backupPrune])
            let noRetention = await #expect(throws: BackupError.self) { _ = try await prune() }
            #expect(noRetention?.code == .retention)
        }
    }
}
