import Foundation

/// Decides which backup sets a prune keeps and deletes: pure, with the time passed in, so that tests can check that
/// retention keeps exactly the right sets.
public enum BackupRetentionPlanner {
    /// A set in the target.
    public struct Candidate: Sendable, Hashable {
        /// The set's id.
        public var id: String
        /// When the set was written (a complete set's manifest; an incomplete set's id).
        public var created: Date

        /// A set called `id`, written at `created`.
        public init(id: String, created: Date) {
            self.id = id
            self.created = created
        }
    }

    /// Why a set is kept.
    public enum Reason: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Among the `keep_last` newest; `rank` 1 is the newest.
        case last(rank: Int)
        /// The newest set of `day` (`2026-11-29`), one of the `keep_daily` days.
        case daily(day: String)
        /// The newest set of `week` (`2026-W48`), one of the `keep_weekly` weeks.
        case weekly(week: String)

        /// `last 1`, `daily 2026-11-29`, `weekly 2026-W48`.
        public var description: String {
            switch self {
            case .last(let rank): "last \(rank)"
            case .daily(let day): "daily \(day)"
            case .weekly(let week): "weekly \(week)"
            }
        }
    }

    /// A kept set and every rule that keeps it.
    public struct Kept: Sendable, Hashable {
        /// The set.
        public var set: Candidate
        /// Every rule that keeps it.
        public var reasons: [Reason]
    }

    /// What a prune does.
    public struct Plan: Sendable, Hashable {
        /// The complete sets kept, newest first.
        public var keep: [Kept]
        /// The complete sets deleted, oldest first.
        public var delete: [Candidate]
        /// Incomplete sets (interrupted runs) old enough to be removed, oldest first.
        public var removeIncomplete: [Candidate]
        /// Incomplete sets left alone because a run may still be writing them.
        public var youngIncomplete: [Candidate]
        /// What the operator should know: rules that asked for more sets than there are, so all were kept.
        public var notes: [String]
    }

    /// The plan for `complete` and `incomplete` sets under `retention` at `now`.
    ///
    /// - Parameters:
    ///   - incompleteMaximumAge: An incomplete set younger than this may still be being written, and is left alone.
    /// - Precondition: `retention.isConfigured` (otherwise nothing would be kept; the caller refuses first).
    public static func plan(
        complete: [Candidate], incomplete: [Candidate], retention: BackupRetention, now: Date,
        incompleteMaximumAge: Duration
    ) -> Plan {
        // Newest first; the id breaks ties between sets of the same second.
        let sets = complete.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        var reasons: [String: [Reason]] = [:]
        var notes: [String] = []

        if let count = retention.keepLast {
            for (index, set) in sets.prefix(max(0, count)).enumerated() {
                reasons[set.id, default: []].append(.last(rank: index + 1))
            }
            if sets.count < count {
                notes.append("keep_last \(count): there are only \(sets.count) sets, so all of them are kept.")
            }
        }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = retention.timeZone
        func bucketed(_ count: Int?, name: String, unit: String, bucket: (Date) -> String, reason: (String) -> Reason) {
            guard let count else { return }
            var seen: Set<String> = []
            for set in sets {
                let key = bucket(set.created)
                guard !seen.contains(key) else { continue }
                guard seen.count < count else { break }
                seen.insert(key)
                reasons[set.id, default: []].append(reason(key))
            }
            if seen.count < count {
                notes.append(
                    "\(name) \(count): only \(seen.count) \(unit) have sets, so the newest set of each of them is kept.")
            }
        }
        bucketed(
            retention.keepDaily, name: "keep_daily", unit: "days",
            bucket: { date in
                let parts = calendar.dateComponents([.year, .month, .day], from: date)
                return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            }, reason: { .daily(day: $0) })
        bucketed(
            retention.keepWeekly, name: "keep_weekly", unit: "weeks",
            bucket: { date in
                let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
                return String(format: "%04d-W%02d", parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0)
            }, reason: { .weekly(week: $0) })

        let keep = sets.compactMap { set in reasons[set.id].map { Kept(set: set, reasons: $0) } }
        let delete = sets.filter { reasons[$0.id] == nil }.reversed()
        let maximumAge = Double(incompleteMaximumAge.components.seconds)
        let oldestFirst = incomplete.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
        return Plan(
            keep: keep, delete: Array(delete),
            removeIncomplete: oldestFirst.filter { now.timeIntervalSince($0.created) > maximumAge },
            youngIncomplete: oldestFirst.filter { now.timeIntervalSince($0.created) <= maximumAge }, notes: notes)
    }
}
