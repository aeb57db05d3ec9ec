import Foundation
import Lifecycle
import NIOCore
import Storage
import Testing

@testable import Backup

/// `backup prune` against the real SeaweedFS and PostgreSQL: exactly the retained sets stay, the blobs only deleted
/// sets used go, a dry run changes nothing, fewer sets than asked are all kept, and locks keep runs and prunes apart.
@Suite(.serialized) struct BackupPruneTests {
    static let day: TimeInterval = 86_400

    @Test func pruneKeepsExactlyTheRetainedSetsAndDeletesTheBlobsOnlyDeletedSetsUsed() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let now = Date()
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let service = BackupFixtures.service(database, target, modelsDirectory: models.fixture.root)
            let a = try await service.run(date: now.addingTimeInterval(-3 * Self.day))
            // qwen is deleted from Ollama: later sets no longer hold it, so its blobs belong to set a alone.
            try FileManager.default.removeItem(atPath: models.fixture.root + "/" + models.qwen.path)
            let b = try await service.run(date: now.addingTimeInterval(-2 * Self.day))
            let c = try await service.run(date: now.addingTimeInterval(-1 * Self.day))
            let d = try await service.run(date: now.addingTimeInterval(-3600))
            let qwenOnly = models.uniqueBlobs(of: models.qwen).map { "blobs/" + $0.fileName }
            let allBlobs = Set(try await target.list(prefix: "blobs/").map(\.key))
            #expect(Set(qwenOnly).isSubset(of: allBlobs) && qwenOnly.count == 3)

            // Blobs are uploaded now; the prune looks at them two hours later, when they are old enough to collect.
            let later = now.addingTimeInterval(2 * 3600)
            let plan = try await service.prune(retention: BackupRetention(keepLast: 2), dryRun: true, now: later)
            #expect(plan.dryRun && plan.deleted == [a.id, b.id] && plan.kept.map(\.id) == [d.id, c.id])
            #expect(plan.blobsDeleted == 3 && plan.notes.isEmpty)
            #expect(try await service.list().count == 4)
            #expect(Set(try await target.list(prefix: "blobs/").map(\.key)) == allBlobs)

            let report = try await service.prune(retention: BackupRetention(keepLast: 2), now: later)
            #expect(report.deleted == [a.id, b.id])
            #expect(report.kept.map(\.id) == [d.id, c.id])
            #expect(report.kept.map(\.reasons) == [["last 1"], ["last 2"]])
            #expect(report.blobsDeleted == 3)
            #expect(report.blobBytesDeleted == models.uniqueBlobs(of: models.qwen).reduce(0) { $0 + Int($1.size) })
            #expect(try await service.list().map(\.id) == [c.id, d.id])
            #expect(try await service.list(includeIncomplete: true).map(\.id) == [c.id, d.id])
            #expect(Set(try await target.list(prefix: "blobs/").map(\.key)) == allBlobs.subtracting(qwenOnly))
            #expect(try await target.list(prefix: "locks/").isEmpty)
            for kept in [c, d] { #expect(try await service.verify(id: kept.id).ok) }

            // Pruning again changes nothing.
            let again = try await service.prune(retention: BackupRetention(keepLast: 2), now: later)
            #expect(again.deleted.isEmpty && again.blobsDeleted == 0)
        }
    }

    @Test func withFewerSetsThanAskedThePruneKeepsThemAllAndSaysSo() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target)
            let first = try await service.run(date: Date().addingTimeInterval(-Self.day))
            let second = try await service.run()
            let report = try await service.prune(retention: BackupRetention(keepLast: 5, keepDaily: 7))
            #expect(report.deleted.isEmpty)
            #expect(Set(report.kept.map(\.id)) == [first.id, second.id])
            #expect(report.notes.contains("keep_last 5: there are only 2 sets, so all of them are kept."))
            #expect(report.notes.contains { $0.hasPrefix("keep_daily 7: only 2 days have sets") })
            #expect(try await service.list().count == 2)

            let refused = await #expect(throws: BackupError.self) { try await service.prune(retention: BackupRetention()) }
            #expect(refused?.code == .retention)
            #expect(refused?.message.contains("backups.retention.keep_last") == true)
            #expect(try await service.list().count == 2)
        }
    }

    @Test func aRunningBackupKeepsItsBlobsFromThePruneAndAStaleLockBlocksNothing() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let now = Date()
        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target, modelsDirectory: models.fixture.root)
            let old = try await service.run(date: now.addingTimeInterval(-2 * Self.day))
            try FileManager.default.removeItem(atPath: models.fixture.root + "/" + models.qwen.path)
            let new = try await service.run(date: now.addingTimeInterval(-Self.day))
            let later = now.addingTimeInterval(2 * 3600)

            // A run in progress (its lock is fresh at the prune's time): sets go, blobs stay.
            let running = BackupLock(kind: .run, id: BackupSetID.make(date: later.addingTimeInterval(-60)))
            try await running.take(in: target)
            let blocked = try await service.prune(retention: BackupRetention(keepLast: 1), now: later)
            #expect(blocked.deleted == [old.id])
            #expect(blocked.blobsDeleted == 0)
            #expect(blocked.notes.contains { $0.contains("a backup run is writing (\(running.key))") })
            #expect(blocked.staleLocksRemoved == 0)

            // The same lock three hours on is stale: ignored, removed, and the blobs are collected.
            let stale = try await service.prune(retention: BackupRetention(keepLast: 1), now: later.addingTimeInterval(3 * 3600))
            #expect(stale.staleLocksRemoved == 1)
            #expect(stale.blobsDeleted == 3)
            #expect(try await target.list(prefix: "locks/").isEmpty)
            #expect(try await service.list().map(\.id) == [new.id])
        }
    }

    @Test func aRunRefusesToStartWhileAPruneHoldsTheTargetAndLeavesNothing() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target)
            let now = Date()
            let prune = BackupLock(kind: .prune, id: BackupSetID.make(date: now.addingTimeInterval(-60)))
            try await prune.take(in: target)
            let error = await #expect(throws: BackupError.self) { try await service.run(date: now) }
            #expect(error?.code == .busy)
            #expect(error?.message.contains("A prune of \(target) is running") == true)
            #expect(try await target.list(prefix: "sets/").isEmpty)
            #expect(try await target.list(prefix: "locks/").map(\.key) == [prune.key])
            // A prune lock two hours old is stale: the run goes ahead.
            let report = try await service.run(date: now.addingTimeInterval(2 * 3600))
            #expect(try await service.list().map(\.id) == [report.id])
        }
    }
}
