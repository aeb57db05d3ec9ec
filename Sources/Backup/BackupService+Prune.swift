import Foundation
import Lifecycle
import Logging

/// What `backup prune` did, or with `dryRun` would do.
public struct BackupPruneReport: Codable, Sendable {
    /// A set the retention keeps, and the rules that keep it.
    public struct KeptSet: Codable, Sendable, Hashable {
        /// The set's id.
        public var id: String
        /// When the set was written.
        public var created: Date
        /// `last 1`, `daily 2026-11-29`, `weekly 2026-W48`.
        public var reasons: [String]
    }

    /// Whether nothing was deleted (the plan only).
    public var dryRun: Bool
    /// The rules applied: `keep_last 7, keep_daily 14`.
    public var retention: String
    /// The complete sets kept, newest first.
    public var kept: [KeptSet]
    /// The complete sets deleted (with `dryRun`: to delete), oldest first.
    public var deleted: [String]
    /// Incomplete sets (interrupted runs) older than an hour, removed.
    public var removedIncompleteSets: [String]
    /// Blobs no kept set references, deleted.
    public var blobsDeleted: Int
    /// The bytes of the deleted blobs.
    public var blobBytesDeleted: Int
    /// Blobs left: referenced by a kept set, or too young to tell.
    public var blobsKept: Int
    /// Stale locks (left by runs or prunes that died) removed.
    public var staleLocksRemoved: Int
    /// What the operator should know: rules that asked for more sets than there are (all are then kept), blobs not
    /// collected and why.
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", retention, kept, deleted, removedIncompleteSets = "removed_incomplete_sets"
        case blobsDeleted = "blobs_deleted", blobBytesDeleted = "blob_bytes_deleted", blobsKept = "blobs_kept"
        case staleLocksRemoved = "stale_locks_removed", notes
    }
}

extension BackupService {
    /// Deletes the complete sets `retention` does not keep (each set's manifest first, so a set being deleted never
    /// looks complete), the incomplete sets older than an hour, then the blobs that no kept set references.
    ///
    /// A prune holds a lock in the target. Blobs are collected only when no backup run holds a fresh lock (a run
    /// uploads blobs before its manifest lists them) and only when they are older than an hour; otherwise the report
    /// says they were left for the next prune. Stale locks are removed.
    ///
    /// - Parameters:
    ///   - dryRun: Decide and report, delete nothing.
    ///   - now: The time the decisions are made at (incomplete sets', blobs' and locks' ages).
    /// - Throws: ``BackupError/Code/retention`` when no rule is configured or a count is out of range.
    public func prune(retention: BackupRetention, dryRun: Bool = false, now: Date = .now) async throws
        -> BackupPruneReport
    {
        guard retention.isConfigured else {
            throw BackupError(
                .retention,
                "No retention is configured, and a prune without one would delete every set: set "
                    + "backups.retention.keep_last (or keep_daily, keep_weekly) in the configuration file, or pass "
                    + "--keep-last.")
        }
        if let problem = retention.problem { throw BackupError(.retention, "backups.retention: \(problem).") }
        let lock = BackupLock(kind: .prune, id: BackupSetID.make(date: now))
        if !dryRun { try await lock.take(in: target) }
        do {
            let report = try await prune(retention: retention, dryRun: dryRun, now: now, lock: lock)
            if !dryRun { await lock.release(in: target) }
            return report
        } catch {
            if !dryRun { await lock.release(in: target) }
            throw error
        }
    }

    private func prune(retention: BackupRetention, dryRun: Bool, now: Date, lock: BackupLock) async throws
        -> BackupPruneReport
    {
        let maximumAge = configuration.incompleteSetMaximumAge
        var notes: [String] = []
        var complete: [BackupRetentionPlanner.Candidate] = []
        var incomplete: [BackupRetentionPlanner.Candidate] = []
        var manifests: [String: BackupManifest] = [:]
        var unreadable: [String] = []
        for set in try await sets() {
            guard set.complete else {
                if let created = BackupSetID.date(of: set.id) { incomplete.append(.init(id: set.id, created: created)) }
                continue
            }
            do {
                let manifest = try await manifest(of: set.id)
                manifests[set.id] = manifest
                complete.append(.init(id: set.id, created: manifest.created))
            } catch let error as BackupError where error.code == .corrupt {
                // Never deleted, and its blobs cannot be known: nothing is collected this time.
                unreadable.append(set.id)
                notes.append("The manifest of set \(set.id) cannot be read (\(error.message)); the set is left alone.")
            }
        }
        let plan = BackupRetentionPlanner.plan(
            complete: complete, incomplete: incomplete, retention: retention, now: now, incompleteMaximumAge: maximumAge)
        notes += plan.notes
        if !plan.youngIncomplete.isEmpty {
            notes.append(
                "Incomplete sets less than an hour old are left alone (a run may be writing them): "
                    + plan.youngIncomplete.map(\.id).joined(separator: ", ") + ".")
        }
        if !dryRun {
            for set in plan.delete {
                // The manifest first: from then on the set is incomplete, never a damaged "complete" one.
                try await target.delete(BackupManifest.key(of: set.id))
                for object in try await target.list(prefix: "sets/\(set.id)/") { try await target.delete(object.key) }
                logger.notice("Backup set pruned", metadata: ["backup.id": "\(set.id)"])
            }
            for set in plan.removeIncomplete {
                for object in try await target.list(prefix: "sets/\(set.id)/") { try await target.delete(object.key) }
                logger.notice("Incomplete backup set removed", metadata: ["backup.id": "\(set.id)"])
            }
        }

        // Blobs: those a kept set references stay; so does every blob while a run may be uploading.
        let locks = try await BackupLock.all(in: target)
        let runs = locks.filter { $0.kind == .run && $0.isFresh(at: now, maximumAge: maximumAge) }
        let referenced = Set(
            plan.keep.flatMap { kept in (manifests[kept.set.id]?.objects ?? []).filter { $0.kind == "blob" }.map(\.key) })
        let blobs = try await target.list(prefix: "blobs/")
        var deletedBlobs = 0
        var deletedBytes = 0
        var young = 0
        if !unreadable.isEmpty {
            notes.append("No blob was deleted: an unreadable manifest may reference any of them.")
        } else if let run = runs.first {
            notes.append(
                "No blob was deleted: a backup run is writing (\(run.key)) and may reference blobs no manifest lists "
                    + "yet. The next prune collects them.")
        } else {
            for blob in blobs where !referenced.contains(blob.key) {
                guard let modified = blob.lastModified, now.timeIntervalSince(modified) > Double(maximumAge.components.seconds)
                else {
                    young += 1
                    continue
                }
                if !dryRun { try await target.delete(blob.key) }
                deletedBlobs += 1
                deletedBytes += blob.size
            }
            if young > 0 {
                notes.append(
                    "\(young) unreferenced blobs are less than an hour old and were left (a run may be about to list "
                        + "them); the next prune collects them.")
            }
        }
        var staleRemoved = 0
        for stale in locks where stale != lock && !stale.isFresh(at: now, maximumAge: maximumAge) {
            if !dryRun { await stale.release(in: target) }
            staleRemoved += 1
        }
        return BackupPruneReport(
            dryRun: dryRun, retention: retention.description,
            kept: plan.keep.map { .init(id: $0.set.id, created: $0.set.created, reasons: $0.reasons.map(\.description)) },
            deleted: plan.delete.map(\.id), removedIncompleteSets: plan.removeIncomplete.map(\.id),
            blobsDeleted: deletedBlobs, blobBytesDeleted: deletedBytes, blobsKept: blobs.count - deletedBlobs,
            staleLocksRemoved: staleRemoved, notes: notes)
    }
}
