import Foundation

/// When a scheduled job runs: a ``CronExpression`` read on the wall clock of a time zone, turned into instants.
///
/// The scheduler asks for ``nextSlot(after:)`` to know how long to sleep and ``previousSlot(atOrBefore:)`` to catch
/// up on a run missed while the appliance was down. Each slot is a distinct instant and slots strictly increase,
/// because a slot is the key of the once-per-cluster claim in the database: two wall-clock times that fall on one
/// instant must be one run, never two claims for the same key.
///
/// ## Daylight-saving time
///
/// A slot is an instant whose wall-clock time in ``timeZone`` matches the expression, except where the wall clock
/// jumps (daylight-saving time, or any other change of the zone's offset):
///
/// - **Spring forward.** Wall times the jump skips do not exist that day. A job whose hour field names specific hours
///   still runs once, at the first instant after the gap: `30 2 * * *` in Europe/Berlin runs on 2026-03-29 at 03:00
///   CEST (01:00 UTC). Several skipped times (`*/15 2 * * *`), or a skipped time and a time at the gap's end
///   (`0 2,3 * * *`), collapse into that one run. A job whose hour field matches every hour (`*`, `*/1`, `0-23`;
///   `*/2` names specific hours) keeps its rhythm in real time instead, as Vixie cron does for wildcard jobs:
///   `*/15 * * * *` runs at 01:45 CET and then at 03:00 CEST, fifteen minutes later, and `30 * * * *` has no run for
///   the hour that never existed.
/// - **Fall back.** Wall times the jump repeats occur twice. A job whose hour field names specific hours runs once, at
///   the first occurrence: `30 2 * * *` in Europe/Berlin runs on 2026-10-25 at 02:30 CEST (00:30 UTC) and not again at
///   02:30 CET. A job whose hour field matches every hour runs at both occurrences, so `*/15 * * * *` keeps running
///   every fifteen real minutes through the repeated hour and `0 * * * *` stays hourly.
///
/// Wall-clock arithmetic uses the proleptic Gregorian calendar (the same as `Calendar(identifier: .gregorian)` for
/// any date since 1582); the time zone supplies only offsets and the instants at which they change.
///
/// ## Bounds
///
/// ``nextSlot(after:)`` and ``previousSlot(atOrBefore:)`` look at most eight years ahead or back, long enough for a
/// 29 February job across a century year such as 2100, and return nil beyond that; an expression that can never
/// match (``CronExpression/isSatisfiable``) returns nil at once. Instants outside the years 1 to 9999 have no slots.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    /// Which wall-clock minutes the job runs at.
    public let expression: CronExpression
    /// Whose wall clock the expression is read on.
    public let timeZone: TimeZone

    /// A schedule reading `expression` on the wall clock of `timeZone`.
    public init(expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// Parses a schedule as the configuration file writes it.
    ///
    /// - Parameters:
    ///   - expression: A five-field cron expression or macro, such as `0 3 * * *` or `@daily`.
    ///   - timeZoneIdentifier: An IANA time zone name, such as `Europe/Berlin`.
    /// - Throws: ``CronError``, including ``CronError/Code/unknownTimeZone`` for a name Foundation does not know.
    public init(expression: String, timeZoneIdentifier: String) throws {
        let parsed = try CronExpression(expression)
        guard let timeZone = TimeZone(identifier: timeZoneIdentifier) else {
            throw CronError.unknownTimeZone(timeZoneIdentifier)
        }
        self.init(expression: parsed, timeZone: timeZone)
    }

    public var description: String { "\(expression) (\(timeZone.identifier))" }

    /// The first slot strictly after `date`; nil when there is none within eight years.
    public func nextSlot(after date: Date) -> Date? {
        guard let instant = Self.seconds(date, rounding: .down) else { return nil }
        let first = instant + 1
        var next: Int64?
        forEachSlot(from: first, through: min(first + Self.horizon, Self.latest)) {
            next = $0
            return false
        }
        return next.map(Self.date)
    }

    /// The latest slot at or before `date`; nil when there is none within eight years.
    ///
    /// The scheduler calls it with the current time when it starts: a slot later than the last recorded run was
    /// missed and runs now.
    public func previousSlot(atOrBefore date: Date) -> Date? {
        guard expression.isSatisfiable, let instant = Self.seconds(date, rounding: .down) else { return nil }
        let last = min(instant, Self.latest)
        // Most jobs run at least monthly: look back a little first, and over the whole horizon only if that fails.
        for window in [Self.shortLookBack, Self.horizon] {
            let first = max(last - window, Self.earliest)
            guard first <= last else { return nil }
            if let slot = lastSlot(from: first, through: last) { return Self.date(slot) }
        }
        return nil
    }

    /// The slots within `range`, bounds included, in order, at most `limit` of them.
    ///
    /// For showing upcoming runs. The range may be long; the limit bounds the work and the result.
    public func slots(in range: ClosedRange<Date>, limit: Int) -> [Date] {
        guard limit > 0,
            let first = Self.seconds(range.lowerBound, rounding: .up),
            let last = Self.seconds(range.upperBound, rounding: .down)
        else { return [] }
        var slots: [Date] = []
        slots.reserveCapacity(min(limit, 1024))
        forEachSlot(from: max(first, Self.earliest), through: min(last, Self.latest)) {
            slots.append(Self.date($0))
            return slots.count < limit
        }
        return slots
    }

    // MARK: Enumeration

    /// Calls `body` with each slot from `first` through `last` (seconds since 1970, both included) in increasing
    /// order, until `body` returns false.
    private func forEachSlot(from first: Int64, through last: Int64, _ body: (Int64) -> Bool) {
        guard first <= last, expression.isSatisfiable else { return }
        let everyHour = expression.matchesEveryHour
        // Start early enough that a repeated hour which began before `first` is still recognised as repeated.
        var start = first - Self.longestOffsetChange
        while start <= last {
            let segment = segment(from: start, before: last + 1)
            var from = max(first, segment.start)
            if segment.start >= first, runsAtGapEnd(segment, everyHour: everyHour) {
                guard body(segment.start) else { return }
                // A wall time matching at the gap's end is the same instant: one slot, not two.
                from = segment.start + 1
            }
            var local = max(from + segment.offset, segment.firstLocalTime(everyHour: everyHour))
            let localEnd = segment.end + segment.offset
            while let match = expression.firstMatch(atOrAfter: local, before: localEnd) {
                guard body(match - segment.offset) else { return }
                local = match + 60
            }
            start = segment.end
        }
    }

    /// The last slot from `first` through `last` (seconds since 1970, both included).
    private func lastSlot(from first: Int64, through last: Int64) -> Int64? {
        // Offset changes are rare (two a year at most in practice), so collecting them all is cheap.
        var segments: [OffsetSegment] = []
        var start = first - Self.longestOffsetChange
        while start <= last {
            let segment = segment(from: start, before: last + 1)
            segments.append(segment)
            start = segment.end
        }
        let everyHour = expression.matchesEveryHour
        for segment in segments.reversed() {
            let localStart = max(
                max(first, segment.start) + segment.offset, segment.firstLocalTime(everyHour: everyHour))
            let localEnd = min(segment.end - 1, last) + segment.offset
            if let match = expression.lastMatch(atOrBefore: localEnd, notBefore: localStart) {
                return match - segment.offset
            }
            // The gap slot is the segment's first instant, earlier than any wall-clock match in it.
            if segment.start >= first, runsAtGapEnd(segment, everyHour: everyHour) {
                return segment.start
            }
        }
        return nil
    }

    /// Whether wall times skipped at the start of `segment` include a match, so that the job runs at its start.
    private func runsAtGapEnd(_ segment: OffsetSegment, everyHour: Bool) -> Bool {
        guard segment.offsetBefore < segment.offset, !everyHour else { return false }
        return expression.firstMatch(
            atOrAfter: segment.start + segment.offsetBefore, before: segment.start + segment.offset) != nil
    }

    // MARK: Offsets

    /// A stretch of time over which the zone's offset from UTC is constant.
    private struct OffsetSegment {
        /// Seconds since 1970: the first instant.
        var start: Int64
        /// Seconds since 1970: the first instant after the segment.
        var end: Int64
        /// Local time minus UTC, in seconds.
        var offset: Int64
        /// The offset just before `start`: smaller after a gap, larger after a repeat, equal when `start` is no change.
        var offsetBefore: Int64

        /// The earliest local time in the segment that can hold a slot: after a fall-back, a job with specific hours
        /// skips the wall times that already occurred before `start`.
        func firstLocalTime(everyHour: Bool) -> Int64 {
            start + (offsetBefore > offset && !everyHour ? offsetBefore : offset)
        }
    }

    /// The segment starting at `start`, ending at the zone's next offset change or at `limit`.
    private func segment(from start: Int64, before limit: Int64) -> OffsetSegment {
        let offset = offset(at: start)
        var end = min(transition(after: start) ?? limit, limit)
        if self.offset(at: end - 1) != offset {
            // A change the transition API did not report; find it rather than read times with the wrong offset.
            var (same, changed) = (start, end - 1)
            while changed - same > 1 {
                let middle = same + (changed - same) / 2
                if self.offset(at: middle) == offset { same = middle } else { changed = middle }
            }
            end = changed
        }
        return OffsetSegment(start: start, end: end, offset: offset, offsetBefore: self.offset(at: start - 1))
    }

    private func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Self.date(instant)))
    }

    /// The next offset change strictly after `instant`, if the zone reports one.
    private func transition(after instant: Int64) -> Int64? {
        guard let next = timeZone.nextDaylightSavingTimeTransition(after: Self.date(instant)),
            let seconds = Self.seconds(next, rounding: .up), seconds > instant
        else { return nil }
        return seconds
    }

    // MARK: Instants

    /// How far searches look: eight years, so that `0 0 29 2 *` finds 2104-02-29 from March 2096.
    static let horizon: Int64 = 8 * 366 * 86_400
    /// The first, cheap look back of ``previousSlot(atOrBefore:)``: a little over a month.
    static let shortLookBack: Int64 = 35 * 86_400
    /// More than the largest jump of any zone's offset (Samoa skipped a whole day in 2011).
    static let longestOffsetChange: Int64 = 2 * 86_400
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the instants with slots.
    static let earliest: Int64 = -62_135_596_800
    static let latest: Int64 = 253_402_300_799

    /// Whole seconds since 1970, clamped just outside the supported years; nil for NaN.
    private static func seconds(_ date: Date, rounding: FloatingPointRoundingRule) -> Int64? {
        let seconds = date.timeIntervalSince1970.rounded(rounding)
        guard !seconds.isNaN else { return nil }
        return Int64(min(max(seconds, Double(earliest - 1)), Double(latest + 1)))
    }

    private static func date(_ seconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }
}
