import Foundation

/// Which backup sets `backup prune` keeps: the `backups.retention` section of the configuration file.
///
/// A set is kept when any rule keeps it; every other complete set is deleted. Each rule counts back from the newest
/// set, never from today, so a pause in backups never lets a prune delete the last good sets.
///
/// ## Configuration keys
/// - `keep_last` (whole number, 1-100000, default: none): the newest sets.
/// - `keep_daily` (whole number, default: none): the newest set of each of the latest days that have sets.
/// - `keep_weekly` (whole number, default: none): the newest set of each of the latest ISO weeks that have sets.
/// - `time_zone` (IANA name, default `UTC`): where a day and a week begin.
public struct BackupRetention: Sendable, Hashable {
    /// The newest sets kept whatever their dates. Defaults to none.
    public var keepLast: Int?
    /// Days (that have sets, newest first) whose newest set is kept. Defaults to none.
    public var keepDaily: Int?
    /// ISO weeks (that have sets, newest first) whose newest set is kept. Defaults to none.
    public var keepWeekly: Int?
    /// Where days and weeks begin. Defaults to UTC.
    public var timeZone: TimeZone = .gmt

    /// The most a `keep_*` value may be.
    public static let maximumCount = 100_000

    /// A retention that keeps nothing: ``isConfigured`` is false and a prune refuses to run with it.
    public init() {}

    /// A retention from its counts; `nil` leaves a rule out.
    public init(keepLast: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil, timeZone: TimeZone = .gmt) {
        self.keepLast = keepLast
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.timeZone = timeZone
    }

    /// Whether any rule is set: a prune without one would delete every set, so it is refused.
    public var isConfigured: Bool { keepLast != nil || keepDaily != nil || keepWeekly != nil }

    /// `keep_last 7, keep_daily 14` — for messages and summaries.
    public var description: String {
        let rules = [("keep_last", keepLast), ("keep_daily", keepDaily), ("keep_weekly", keepWeekly)].compactMap {
            name, value in value.map { "\(name) \($0)" }
        }
        return rules.isEmpty ? "no retention rule" : rules.joined(separator: ", ")
    }

    /// The first problem with the counts, naming the key; `nil` when they are usable.
    public var problem: String? {
        for (name, value) in [("keep_last", keepLast), ("keep_daily", keepDaily), ("keep_weekly", keepWeekly)] {
            if let value, !(1...Self.maximumCount).contains(value) {
                return "\(name) is \(value); use a whole number from 1 to \(Self.maximumCount), or leave it out"
            }
        }
        return nil
    }
}
