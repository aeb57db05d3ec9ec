import Foundation

/// A set in the target, as `backup list` shows it.
public struct BackupSetSummary: Codable, Sendable, Hashable {
    /// The set's id.
    public var id: String
    /// From the manifest; for an incomplete set, from its id.
    public var created: Date?
    /// Objects: the manifest's (shared blobs included) for a complete set, what is stored under `sets/<id>/` for an
    /// incomplete one.
    public var objects: Int
    /// Their bytes, counted the same way.
    public var bytes: Int
    /// `false` when the set has no manifest (an interrupted run).
    public var complete: Bool
}

extension BackupService {
    /// The sets in the target, oldest first; incomplete ones only when `includeIncomplete`.
    public func list(includeIncomplete: Bool = false) async throws -> [BackupSetSummary] {
        var result: [BackupSetSummary] = []
        for set in try await sets() {
            if set.complete {
                result.append(Self.summary(of: try await manifest(of: set.id)))
            } else if includeIncomplete {
                result.append(set)
            }
        }
        return result
    }

    /// The set `id`: from its manifest when it is complete, from what is stored under `sets/<id>/` when not.
    /// - Throws: ``BackupError/Code/notFound`` when nothing of the set exists.
    public func summary(of id: String) async throws -> BackupSetSummary {
        do {
            return Self.summary(of: try await manifest(of: id))
        } catch let error as BackupError where error.code == .incomplete {
            let objects = try await target.list(prefix: "sets/\(id)/")
            return BackupSetSummary(
                id: id, created: BackupSetID.date(of: id), objects: objects.count,
                bytes: objects.reduce(0) { $0 + $1.size }, complete: false)
        }
    }

    static func summary(of manifest: BackupManifest) -> BackupSetSummary {
        BackupSetSummary(
            id: manifest.id, created: manifest.created, objects: manifest.objects.count,
            bytes: manifest.objects.reduce(0) { $0 + $1.size }, complete: true)
    }

    /// Every set id under `sets/`, with what is stored for it and whether it has its manifest.
    func sets() async throws -> [BackupSetSummary] {
        var byID: [String: (objects: Int, bytes: Int, complete: Bool)] = [:]
        for object in try await target.list(prefix: "sets/") {
            let components = object.key.split(separator: "/")
            guard components.count >= 3 else { continue }
            let id = String(components[1])
            var entry = byID[id] ?? (0, 0, false)
            entry.objects += 1
            entry.bytes += object.size
            if components.count == 3 && components[2] == "manifest.json" { entry.complete = true }
            byID[id] = entry
        }
        return byID.keys.sorted().map { id in
            let entry = byID[id] ?? (0, 0, false)
            return BackupSetSummary(
                id: id, created: BackupSetID.date(of: id), objects: entry.objects, bytes: entry.bytes,
                complete: entry.complete)
        }
    }
}
