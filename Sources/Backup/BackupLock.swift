import Foundation
import NIOCore

/// A lock in the target (`locks/<kind>-<id>.json`) that keeps a run and a prune apart: a run holds one while it
/// writes, a prune while it deletes. Each writes its own lock, then looks for the other's, so on a target that lists
/// what was written (S3 does) at least one of two that start together sees the other.
///
/// A lock older than ``BackupService/Configuration/incompleteSetMaximumAge`` is stale — its holder died — and is
/// ignored, then removed by the next prune: a stale lock never blocks anything.
struct BackupLock: Sendable, Hashable {
    /// `run` or `prune`.
    enum Kind: String, Sendable {
        case run, prune
    }

    var kind: Kind
    /// A set id: the run's set, or one made for the prune (its time is the lock's).
    var id: String

    var key: String { "locks/\(kind.rawValue)-\(id).json" }
    /// When it was taken, from its id.
    var date: Date? { BackupSetID.date(of: id) }

    /// The locks in `target`.
    static func all(in target: any BackupTarget) async throws -> [BackupLock] {
        try await target.list(prefix: "locks/").compactMap { object in
            let name = object.key.dropFirst("locks/".count)
            guard name.hasSuffix(".json") else { return nil }
            let stem = name.dropLast(".json".count)
            for kind in [Kind.run, .prune] where stem.hasPrefix(kind.rawValue + "-") {
                let id = String(stem.dropFirst(kind.rawValue.count + 1))
                guard BackupSetID.date(of: id) != nil else { return nil }
                return BackupLock(kind: kind, id: id)
            }
            return nil
        }
    }

    /// Whether the lock was taken less than `maximumAge` before `now`.
    func isFresh(at now: Date, maximumAge: Duration) -> Bool {
        guard let date else { return false }
        return now.timeIntervalSince(date) <= Double(maximumAge.components.seconds)
    }

    /// Writes the lock.
    func take(in target: any BackupTarget, host: String = ProcessInfo.processInfo.hostName) async throws {
        let body = #"{"kind": "\#(kind.rawValue)", "id": "\#(id)", "host": "\#(host.filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" })"}"#
        try await target.put(.single(ByteBuffer(string: body)), at: key, sizeHint: body.utf8.count)
    }

    /// Removes the lock; a failure is left for the next prune (the lock goes stale).
    func release(in target: any BackupTarget) async {
        try? await target.delete(key)
    }
}
