import Foundation
import Testing

@testable import Lifecycle

/// Retention keeps exactly the right sets: the planner is pure, so every case is sets and dates in, a plan out.
@Suite struct BackupRetentionPlannerTests {
    /// 2026-11-30 (a Monday) 12:00:00 UTC.
    static let monday = Date(timeIntervalSince1970: 1_796_040_000)
    static let hour: TimeInterval = 3600
    static let day: TimeInterval = 86_400

    /// A set `hours` after Monday noon, with an id that sorts by time as real ids do.
    static func set(_ hours: Double, _ suffix: String = "000000") -> BackupRetentionPlanner.Candidate {
        let date = monday.addingTimeInterval(hours * hour)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return .init(id: formatter.string(from: date) + "-" + suffix, created: date)
    }

    static func plan(
        _ sets: [BackupRetentionPlanner.Candidate], _ retention: BackupRetention, incomplete: [BackupRetentionPlanner.Candidate] = [],
        now: Date = monday.addingTimeInterval(30 * day)
    ) -> BackupRetentionPlanner.Plan {
        BackupRetentionPlanner.plan(
            complete: sets.shuffled(), incomplete: incomplete, retention: retention, now: now,
            incompleteMaximumAge: .seconds(3600))
    }

    @Test func keepLastKeepsTheNewestSetsAndDeletesTheRestOldestFirst() {
        let sets = (0..<10).map { Self.set(Double($0) * 6) }
        let plan = Self.plan(sets, BackupRetention(keepLast: 3))
        #expect(plan.keep.map(\.set) == [sets[9], sets[8], sets[7]])
        #expect(plan.keep.map(\.reasons) == [[.last(rank: 1)], [.last(rank: 2)], [.last(rank: 3)]])
        #expect(plan.delete == Array(sets[0..<7]))
        #expect(plan.notes.isEmpty)
    }

    @Test func keepDailyKeepsTheNewestSetOfEachOfTheLatestDaysThatHaveSets() {
        // Monday: 3 sets; Tuesday: none; Wednesday: 2; Thursday: 1; Friday: 2.
        let sets = [
            Self.set(-11), Self.set(0), Self.set(11),  // Monday 01:00, 12:00, 23:00
            Self.set(2 * 24 - 10), Self.set(2 * 24 + 5),  // Wednesday 02:00, 17:00
            Self.set(3 * 24),  // Thursday 12:00
            Self.set(4 * 24 - 11), Self.set(4 * 24 - 1),  // Friday 01:00, 11:00
        ]
        let plan = Self.plan(sets, BackupRetention(keepDaily: 3))
        // The day without sets does not count: Friday, Thursday and Wednesday are the three latest days with sets.
        #expect(plan.keep.map(\.set) == [sets[7], sets[5], sets[4]])
        #expect(plan.keep.map(\.reasons) == [[.daily(day: "2026-12-04")], [.daily(day: "2026-12-03")], [.daily(day: "2026-12-02")]])
        #expect(Set(plan.delete) == Set([sets[0], sets[1], sets[2], sets[3], sets[6]]))
        #expect(plan.notes.isEmpty)
    }

    @Test func keepWeeklyUsesISOWeeksInTheConfiguredTimeZone() {
        // Sunday 2026-12-06 23:30 UTC is still week 49 in UTC, but Monday 00:30 (week 50) in Berlin.
        let sundayLate = Self.set(6 * 24 + 11.5)
        let earlierThatWeek = Self.set(3 * 24)  // Thursday of week 49
        let previousWeek = Self.set(-3 * 24)  // Friday of week 48
        let sets = [previousWeek, earlierThatWeek, sundayLate]
        let utc = Self.plan(sets, BackupRetention(keepWeekly: 2))
        #expect(utc.keep.map(\.set) == [sundayLate, previousWeek])
        #expect(utc.keep.map(\.reasons) == [[.weekly(week: "2026-W49")], [.weekly(week: "2026-W48")]])
        #expect(utc.delete == [earlierThatWeek])

        let berlin = Self.plan(sets, BackupRetention(keepWeekly: 2, timeZone: TimeZone(identifier: "Europe/Berlin") ?? .gmt))
        #expect(berlin.keep.map(\.set) == [sundayLate, earlierThatWeek])
        #expect(berlin.keep.map(\.reasons) == [[.weekly(week: "2026-W50")], [.weekly(week: "2026-W49")]])
        #expect(berlin.delete == [previousWeek])
    }

    @Test func theRulesTogetherKeepTheUnionAndSayWhichRuleKeepsEachSet() {
        // Four sets a day (00:00, 06:00, 12:00, 18:00) for 21 days from Monday: three ISO weeks.
        let sets = (0..<(21 * 4)).map { Self.set(Double($0) * 6 - 12) }
        let plan = Self.plan(sets, BackupRetention(keepLast: 2, keepDaily: 3, keepWeekly: 2))
        let newest = sets[sets.count - 1]
        let kept = plan.keep.map(\.set)
        // last 2: the two newest; daily 3: the newest of the last 3 days (the newest is one of them); weekly 2: the
        // newest of this ISO week and of the one before.
        let newestOfDay = { (day: Int) in sets[day * 4 + 3] }
        #expect(plan.keep.first?.set == newest)
        #expect(plan.keep.first?.reasons.contains(.last(rank: 1)) == true)
        #expect(plan.keep.first?.reasons.contains { if case .daily = $0 { true } else { false } } == true)
        #expect(plan.keep.first?.reasons.contains { if case .weekly = $0 { true } else { false } } == true)
        #expect(Set(kept) == Set([newest, sets[sets.count - 2], newestOfDay(19), newestOfDay(18), Self.lastOfPreviousWeek(sets)]))
        #expect(plan.keep.count + plan.delete.count == sets.count)
        #expect(Set(plan.delete).isDisjoint(with: Set(kept)))
    }

    /// The newest set before the ISO week of the newest set (UTC).
    static func lastOfPreviousWeek(_ sets: [BackupRetentionPlanner.Candidate]) -> BackupRetentionPlanner.Candidate? {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = .gmt
        guard let newest = sets.last, let week = calendar.dateInterval(of: .weekOfYear, for: newest.created) else { return nil }
        return sets.last { $0.created < week.start }
    }

    @Test func withFewerSetsThanAskedEveryRuleKeepsThemAllAndSaysSo() {
        let sets = [Self.set(0), Self.set(1), Self.set(30)]
        let plan = Self.plan(sets, BackupRetention(keepLast: 7, keepDaily: 14, keepWeekly: 8))
        #expect(Set(plan.keep.map(\.set)) == Set(sets))
        #expect(plan.delete.isEmpty)
        #expect(plan.notes.count == 3)
        #expect(plan.notes.contains("keep_last 7: there are only 3 sets, so all of them are kept."))
        #expect(plan.notes.contains { $0.hasPrefix("keep_daily 14: only 2 days have sets") })
        #expect(plan.notes.contains { $0.hasPrefix("keep_weekly 8: only 1 weeks have sets") })
    }

    @Test func noSetsKeepsNothingAndDeletesNothing() {
        let plan = Self.plan([], BackupRetention(keepLast: 1))
        #expect(plan.keep.isEmpty && plan.delete.isEmpty)
        #expect(plan.notes == ["keep_last 1: there are only 0 sets, so all of them are kept."])
    }

    @Test func setsOfTheSameSecondAreOrderedByTheirIds() {
        let a = Self.set(0, "00000a")
        let b = Self.set(0, "00000b")
        let plan = Self.plan([a, b], BackupRetention(keepLast: 1))
        #expect(plan.keep.map(\.set) == [b])
        #expect(plan.delete == [a])
    }

    @Test func incompleteSetsAreRemovedOnlyOnceOlderThanTheirMaximumAgeByTheInjectedClock() {
        let now = Self.monday.addingTimeInterval(2 * Self.hour)
        let old = Self.set(0)  // two hours before now
        let recent = Self.set(1.5)  // half an hour before now
        let plan = Self.plan([Self.set(-24)], BackupRetention(keepLast: 1), incomplete: [recent, old], now: now)
        #expect(plan.removeIncomplete == [old])
        #expect(plan.youngIncomplete == [recent])
        // An hour later the recent one is old enough too.
        let later = Self.plan([Self.set(-24)], BackupRetention(keepLast: 1), incomplete: [recent, old], now: now.addingTimeInterval(Self.hour))
        #expect(later.removeIncomplete == [old, recent])
    }

    @Test(arguments: [
        (BackupRetention(), false, nil), (BackupRetention(keepLast: 0), true, "keep_last is 0"),
        (BackupRetention(keepDaily: 100_001), true, "keep_daily is 100001"), (BackupRetention(keepWeekly: 4), true, nil),
    ] as [(BackupRetention, Bool, String?)])
    func retentionSaysWhetherItIsConfiguredAndUsable(retention: BackupRetention, configured: Bool, problem: String?) {
        #expect(retention.isConfigured == configured)
        #expect(retention.problem?.hasPrefix(problem ?? "") ?? (problem == nil))
        if problem == nil { #expect(retention.problem == nil) }
    }
}
