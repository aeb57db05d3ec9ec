import Foundation
import Lifecycle
import NIOCore
import PostgresNIO
import Storage
import Testing

@testable import Backup

/// Backup sets against the real SeaweedFS and PostgreSQL: backup → fresh database → restore, verify, interrupted
/// runs, shared model blobs, unsafe archive entries.
@Suite(.serialized) struct BackupSetTests {
    @Test func restoreIntoFreshDatabaseReproducesEveryRowAndRestoringTwiceChangesNothing() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let (report, original) = try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let service = BackupFixtures.service(database, target, modelsDirectory: models.fixture.root)
            let report = try await service.run()
            return (report, try await BackupFixtures.checksums(database))
        }
        #expect(report.tables["chunks"] == 2400)
        #expect(report.tables["chunk_embeddings"] == 2400)

        // Two models share the weights, template and license: each blob is stored once.
        let uniqueBlobs = models.manifests.reduce(Set<OllamaModelsFixtureBuilder.Blob>()) { $0.union($1.blobs) }
        let referenced = models.manifests.reduce(0) { $0 + $1.blobs.count }
        #expect(uniqueBlobs.count < referenced)
        #expect(report.blobsUploaded == uniqueBlobs.count)
        let stored = try await target.list(prefix: "blobs/")
        #expect(Set(stored.map(\.key)) == Set(uniqueBlobs.map { "blobs/" + $0.fileName }))

        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target)
            let verified = try await service.verify(id: report.id)
            #expect(verified.ok, "\(verified.failures)")
            #expect(verified.objects == report.objects)

            let first = try await service.restore(id: report.id)
            #expect(first.rowsWritten > 0)
            #expect(try await BackupFixtures.checksums(database) == original)
            // The restored space gets its HNSW index (no question builds one).
            let indexes = try await database.query(
                """
                SELECT count(*)::bigint FROM pg_indexes i JOIN embedding_models m
                  ON i.indexname = 'chunk_embeddings_hnsw_model_' || m.id
                WHERE m.name = 'test-16'
                """, logger: TestDatabase.logger)
            for count in try indexes.decode(Int64.self) { #expect(count == 1) }

            let second = try await service.restore(id: report.id)
            #expect(second.rowsWritten == 0)
            #expect(try await BackupFixtures.checksums(database) == original)

            // Identity sequences moved past the restored ids: a new row gets a fresh id.
            try await database.query("INSERT INTO tenants (name) VALUES ('after-restore')", logger: TestDatabase.logger)

            // A second run stores no blob again.
            let again = try await BackupFixtures.service(database, target, modelsDirectory: models.fixture.root).run()
            #expect(again.blobsUploaded == 0)
            #expect(again.blobsAlreadyStored == uniqueBlobs.count)
            #expect(try await service.list().map(\.id) == [report.id, again.id].sorted())
        }
    }

    @Test func tamperedOrMissingObjectFailsVerifyNamingIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let target = try LocalBackupTarget(directory: directory.path + "/backups")
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let service = BackupFixtures.service(database, target, embeddings: false)
            let report = try await service.run()
            let manifest = try await service.manifest(of: report.id)
            #expect(manifest.tables["chunk_embeddings"] == nil)
            #expect(manifest.tables["chunks"] == 2400)
            #expect(try await service.verify(id: report.id).ok)

            let documents = "sets/\(report.id)/tables/documents.tar.gz"
            let chunks = "sets/\(report.id)/tables/chunks.tar.gz"
            try await target.put(.single(ByteBuffer(string: "not the archive")), at: documents, sizeHint: nil)
            try await target.delete(chunks)
            let verified = try await service.verify(id: report.id)
            #expect(!verified.ok)
            #expect(verified.failures.count == 2)
            #expect(verified.failures.contains { $0.hasPrefix(documents) && $0.contains("tampered") })
            #expect(verified.failures.contains { $0.hasPrefix(chunks) && $0.contains("missing") })

            await #expect(throws: BackupError.self) { try await service.restore(id: report.id) }
            // The failed restore changed nothing.
            #expect(try await BackupFixtures.checksums(database)["tenants"]?.hasPrefix("2 ") == true)
        }
    }

    @Test func interruptedRunIsListedOnlyWithAllAndRemovedByALaterRun() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let service = BackupFixtures.service(database, target)
            struct Interrupted: Error {}
            let start = Date.now
            await #expect(throws: Interrupted.self) {
                _ = try await service.run(date: start) { throw Interrupted() }
            }
            #expect(try await service.list().isEmpty)
            let all = try await service.list(includeIncomplete: true)
            let incomplete = try #require(all.first)
            #expect(all.count == 1)
            #expect(!incomplete.complete)
            #expect(incomplete.objects > 0)
            await #expect(throws: BackupError.self) { try await service.verify(id: incomplete.id) }

            // Within the hour the leftovers stay (a run may still be writing them); after it, the next run removes them.
            let soon = try await service.run(date: start.addingTimeInterval(600))
            #expect(soon.removedIncompleteSets.isEmpty)
            let later = try await service.run(date: start.addingTimeInterval(2 * 3600))
            #expect(later.removedIncompleteSets == [incomplete.id])
            let remaining = try await service.list(includeIncomplete: true)
            #expect(remaining.map(\.id) == [soon.id, later.id])
            #expect(remaining.allSatisfy { $0.complete })
        }
    }

    @Test func perTenantRestoreRestoresThatTenantAndTouchesNoOther() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let target = try LocalBackupTarget(directory: directory.path + "/backups")
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            try await database.query(
                """
                INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens, output_tokens,
                    cost_usd, latency_ms, cache_hit, fallbacks, status)
                VALUES (now(), 'team-a', 'ollama', 'm', 'e', 1, 1, 0, 1, false, 0, 'ok')
                """, logger: TestDatabase.logger)
            let service = BackupFixtures.service(database, target)
            let report = try await service.run()
            let teamA = try await BackupFixtures.tenantChecksums(database, tenant: "team-a")
            #expect(teamA["documents"]?.hasPrefix("3 ") == true)
            #expect(teamA["usage_records"]?.hasPrefix("1 ") == true)

            // After the backup: team-a loses its documents and usage; default changes.
            for statement in [
                "DELETE FROM documents WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'team-a')",
                "DELETE FROM usage_records WHERE tenant = 'team-a'",
                "UPDATE chunks SET text = text || ' (edited)' WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'default')",
                "DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE tenant = 'default' LIMIT 5)",
            ] {
                try await database.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
            }
            let defaultBefore = try await BackupFixtures.tenantChecksums(database, tenant: "default")
            let metricsBefore = try await BackupFixtures.checksums(database)["plugin_metrics"]

            let restored = try await service.restore(id: report.id, tenant: "team-a")
            #expect(restored.rowsWritten > 0)
            #expect(try await BackupFixtures.tenantChecksums(database, tenant: "team-a") == teamA)
            #expect(try await BackupFixtures.tenantChecksums(database, tenant: "default") == defaultBefore)
            #expect(try await BackupFixtures.checksums(database)["plugin_metrics"] == metricsBefore)
            #expect(try await service.restore(id: report.id, tenant: "team-a").rowsWritten == 0)

            await #expect(throws: BackupError.self) { try await service.restore(id: report.id, tenant: "nobody") }

            // Another appliance where team-a's id is held by another tenant: refused, nothing written.
            try await TestDatabase.withFreshDatabase { other, _ in
                try await other.query("INSERT INTO tenants (name) VALUES ('someone-else')", logger: TestDatabase.logger)
                let before = try await BackupFixtures.checksums(other)
                let restoring = BackupFixtures.service(other, target)
                let error = await #expect(throws: BackupError.self) {
                    try await restoring.restore(id: report.id, tenant: "team-a")
                }
                #expect(error?.code == .conflict)
                #expect(try await BackupFixtures.checksums(other) == before)
            }
        }
    }

    @Test(arguments: ["../escape.jsonl", "/tmp/absolute.jsonl", "tenants/../../x.jsonl", "symlink", "other/000001.jsonl"])
    func unsafeArchiveEntriesAreRejected(entry: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let archive = directory.path + "/tenants.tar.gz"
        let script = """
            import io, sys, tarfile
            name = sys.argv[2]
            with tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as tar:
                if name == "symlink":
                    info = tarfile.TarInfo("tenants/000001.jsonl"); info.type = tarfile.SYMTYPE; info.linkname = "/etc/passwd"
                    tar.addfile(info)
                else:
                    data = b'{"id": 1, "name": "x"}\\n'
                    info = tarfile.TarInfo(name); info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, archive, entry]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let table = try #require(BackupTable.named("tenants"))
        var pages = 0
        await #expect(throws: BackupError.self) {
            try await BackupService.readPages(of: table, archive: archive) { _ in pages += 1 }
        }
        #expect(pages == 0)
    }
}
