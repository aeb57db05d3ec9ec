import Foundation
import Ingest
import Lifecycle
import PostgresNIO
import Routing
import Storage
import Synchronization
import Testing

/// The server's `directory_sync` job over the real PostgreSQL: the configured roots are ingested at each slot (once
/// across instances), a change is picked up by the next slot, and a root that fails is a recorded failure that
/// names it while the other roots are still synced.
@Suite struct DirectorySyncJobTests {
    /// 2026-11-30 10:01:00 UTC, a slot of the default `1-59/5 * * * *`.
    static let firstSlot = Date(timeIntervalSince1970: 1_796_032_860)

    /// The scheduler as the server wires the job: the default schedule and `DirectorySync` over `roots`.
    static func scheduler(
        roots: [RoutingConfiguration.IngestRoot], appliance: Appliance, instance: String, now: @escaping @Sendable () -> Date
    ) throws -> JobScheduler {
        var routing = RoutingConfiguration()
        routing.ingest.roots = roots
        let schedules = routing.effectiveSchedules.filter { $0.kind == .directorySync }
        try #require(schedules.count == 1)
        let sync = DirectorySync(
            roots: roots, ingestor: Ingestor(store: appliance.store, embedder: appliance.embedder, logger: TestDatabase.logger),
            logger: TestDatabase.logger)
        var configuration = JobScheduler.Configuration()
        configuration.instance = instance
        return JobScheduler(
            configuration: configuration, schedules: schedules,
            jobs: [.directorySync: { try await sync.sync().jobSummary() }],
            ledger: PostgresJobRunLedger(client: appliance.client, logger: TestDatabase.logger), now: now,
            logger: TestDatabase.logger)
    }

    /// One tick of each scheduler at once, waited for.
    static func tick(_ schedulers: [JobScheduler]) async {
        await withTaskGroup(of: Void.self) { group in
            for scheduler in schedulers {
                group.addTask {
                    for (schedule, slot) in scheduler.takeDueSlots() {
                        await scheduler.execute(schedule, slot: slot, manual: false)
                    }
                }
            }
        }
    }

    /// The tenant's documents, as `display_path` (private flag).
    static func documents(_ appliance: Appliance, tenant: String) async throws -> [String: Bool] {
        let rows = try await appliance.client.query(
            """
            SELECT d.metadata->>'display_path', coalesce((d.metadata->>'private')::boolean, false)
            FROM documents d JOIN tenants t ON t.id = d.tenant_id WHERE t.name = \(tenant)
            """, logger: TestDatabase.logger)
        var documents: [String: Bool] = [:]
        for (path, isPrivate) in try rows.decode((String, Bool).self) { documents[path] = isPrivate }
        return documents
    }

    @Test func configuredRootsAreIngestedOncePerSlotAndTheNextSlotPicksUpChanges() async throws {
        let handbook = try TemporaryDirectory()
        let hr = try TemporaryDirectory()
        defer {
            handbook.delete()
            hr.delete()
        }
        try handbook.write("# Backups\n\nBackups run every night at 02:00 UTC.\n", to: "ops/backups.md")
        try handbook.write("# On-call\n\nThe on-call engineer answers a page within 5 minutes.\n", to: "oncall.md")
        try hr.write("# Salaries\n\nSalary reviews happen every March.\n", to: "salaries.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let now = Mutex(Self.firstSlot.addingTimeInterval(5))
            let roots: [RoutingConfiguration.IngestRoot] = [
                .init(path: handbook.path, tenant: "acme"), .init(path: hr.path, tenant: "acme-hr", isPrivate: true),
            ]
            // Two instances on one database look at the slot at the same moment: one of them runs it.
            let instances = try ["a", "b"].map { instance in
                try Self.scheduler(roots: roots, appliance: appliance, instance: instance, now: { now.withLock { $0 } })
            }
            await Self.tick(instances)
            let ledger = PostgresJobRunLedger(client: client, logger: TestDatabase.logger)
            let first = try await ledger.history(job: "directory_sync", limit: 10)
            #expect(first.count == 1)
            #expect(first.first?.status == .succeeded, "\(first)")
            #expect(first.first?.summary?.hasPrefix("3 added, 0 updated, 0 unchanged, 0 removed, 0 failed") == true, "\(first)")
            let handbookName = (handbook.path as NSString).lastPathComponent
            let hrName = (hr.path as NSString).lastPathComponent
            #expect(
                try await Self.documents(appliance, tenant: "acme")
                    == ["\(handbookName)/ops/backups.md": false, "\(handbookName)/oncall.md": false])
            #expect(try await Self.documents(appliance, tenant: "acme-hr") == ["\(hrName)/salaries.md": true])

            // Between slots: one file changes, one is added, one is deleted.
            try handbook.write("# Backups\n\nBackups run every night at 03:00 UTC now.\n", to: "ops/backups.md")
            try handbook.write("# Parking\n\nVisitors park on level 3.\n", to: "parking.md")
            try handbook.remove("oncall.md")
            now.withLock { $0 = Self.firstSlot.addingTimeInterval(5 * 60 + 5) }
            await Self.tick(instances)
            let second = try await ledger.history(job: "directory_sync", limit: 10)
            #expect(second.count == 2)
            #expect(second.first?.status == .succeeded, "\(second)")
            #expect(second.first?.summary?.hasPrefix("1 added, 1 updated, 1 unchanged, 1 removed, 0 failed") == true, "\(second)")
            #expect(
                try await Self.documents(appliance, tenant: "acme")
                    == ["\(handbookName)/ops/backups.md": false, "\(handbookName)/parking.md": false])
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%03:00 UTC now%'") == 1)
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%02:00 UTC%'") == 0)
        }
    }

    @Test func aMissingRootIsARecordedFailureNamingItAndTheOtherRootsAreStillSynced() async throws {
        let handbook = try TemporaryDirectory()
        defer { handbook.delete() }
        try handbook.write("# Backups\n\nBackups run every night at 02:00 UTC.\n", to: "backups.md")
        let missing = handbook.path + "-unmounted"
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let scheduler = try Self.scheduler(
                roots: [.init(path: missing, tenant: "acme"), .init(path: handbook.path, tenant: "acme")],
                appliance: appliance, instance: "a", now: { Self.firstSlot.addingTimeInterval(5) })
            await Self.tick([scheduler])
            let runs = try await PostgresJobRunLedger(client: client, logger: TestDatabase.logger)
                .history(job: "directory_sync", limit: 10)
            #expect(runs.count == 1)
            #expect(runs.first?.status == .failed)
            let error = try #require(runs.first?.error)
            #expect(error.contains("1 added") && error.contains("1 failed"), "\(error)")
            #expect(error.contains("first failure: \(missing): The path does not exist"), "\(error)")
            // The root after the missing one was synced all the same.
            #expect(try await Self.documents(appliance, tenant: "acme").count == 1)
        }
    }
}
