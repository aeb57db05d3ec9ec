import Foundation
import Lifecycle

extension BackupService {
    /// What the scheduler's `backup`, `backup_verify` and `backup_prune` jobs do, over the service `make` returns
    /// (made at each run, so a target that cannot be set up fails that run with its reason, recorded in the history).
    ///
    /// - `backup` writes a new set.
    /// - `backup_verify` re-downloads and re-hashes the newest complete set; it fails when an object is damaged or
    ///   missing, or when there is no set at all (backups are not happening).
    /// - `backup_prune` prunes by `retention`; it fails when no retention is configured.
    public static func scheduledWork(
        retention: BackupRetention, make: @escaping @Sendable () throws -> BackupService
    ) -> [JobKind: JobScheduler.Work] {
        [
            .backup: {
                let report = try await make().run()
                return "set \(report.id): \(report.objects) objects, \(report.bytes) bytes, "
                    + "\(report.tables.values.reduce(0, +)) rows; \(report.blobsUploaded) model blobs uploaded"
            },
            .backupVerify: {
                let service = try make()
                guard let newest = try await service.list().last else {
                    throw BackupError(
                        .notFound,
                        "No complete backup set in \(service.target) to verify: check that a `backup` job is scheduled "
                            + "and succeeds (unity-ai jobs history).")
                }
                let report = try await service.verify(id: newest.id)
                guard report.ok else {
                    throw BackupError(
                        .verifyFailed,
                        "Set \(report.id): \(report.failures.count) objects failed verification; first: "
                            + (report.failures.first ?? ""))
                }
                return "set \(report.id) intact: \(report.objects) objects, \(report.bytes) bytes, \(report.rows) rows"
            },
            .backupPrune: {
                let report = try await make().prune(retention: retention)
                return "kept \(report.kept.count) sets, deleted \(report.deleted.count), removed "
                    + "\(report.blobsDeleted) blobs (\(report.blobBytesDeleted) bytes)"
                    + (report.notes.isEmpty ? "" : "; " + report.notes.joined(separator: " "))
            },
        ]
    }
}
