import Foundation

/// A parsed five-field cron expression: which wall-clock minutes a job runs at.
///
/// The syntax is Vixie cron's, the one `crontab(5)` documents, so that schedules copied from a crontab mean the same
/// thing here:
///
/// ```
/// ┌──────────── minute        0-59
/// │ ┌────────── hour          0-23
/// │ │ ┌──────── day-of-month  1-31
/// │ │ │ ┌────── month         1-12 or jan-dec
/// │ │ │ │ ┌──── day-of-week   0-7 or sun-sat (0 and 7 are Sunday)
/// * * * * *
/// ```
///
/// Each field is `*`, a number, a name (month and day-of-week only, case-insensitive), a range `a-b`, a step
/// `*/n`, `a-b/n` or `a/n` (from `a` to the field's maximum), or a comma-separated list of those. The macros
/// `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly` and `@annually` stand for their usual
/// expressions. Seconds, years and Quartz extensions (`?`, `L`, `W`, `#`) are rejected rather than guessed at.
///
/// Day-of-month and day-of-week combine as in Vixie cron: when both are restricted (neither starts with `*`), a day
/// matches if either matches (`0 0 13 * 5` runs on the 13th and on every Friday); otherwise both must match.
///
/// The expression knows nothing about time zones or instants; ``CronSchedule`` maps its wall-clock minutes to
/// instants in a time zone.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// One of the five fields, in the order they are written.
    public enum Field: String, Sendable, CaseIterable, CustomStringConvertible {
        case minute
        case hour
        case dayOfMonth = "day-of-month"
        case month
        case dayOfWeek = "day-of-week"

        /// The numbers the field accepts. Day-of-week accepts 7 as a second spelling of Sunday.
        public var allowedRange: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }

        /// The values `*` covers: day-of-week stops at 6, as 7 is Sunday again.
        var everyValue: ClosedRange<Int> { self == .dayOfWeek ? 0...6 : allowedRange }

        /// Three-letter names, starting at the field's first value; empty for fields without names.
        var names: [String] {
            switch self {
            case .month: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            case .dayOfWeek: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
            default: []
            }
        }

        public var description: String { rawValue }
    }

    /// The longest expression accepted, in UTF-8 bytes. Schedules come from a configuration file; anything longer is
    /// a mistake, and the bound keeps parsing cheap.
    public static let maximumLength = 256

    /// The supported macros and the expressions they stand for.
    static let macros: [(name: String, expression: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]

    /// The expression as written, without surrounding whitespace.
    public let source: String

    // One bit per allowed value: bit n set means value n matches. Day-of-week uses bits 0-6 (7 is folded into 0).
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    /// Whether the field was written starting with `*`; decides between AND and OR for the two day fields.
    let dayOfMonthIsUnrestricted: Bool
    let dayOfWeekIsUnrestricted: Bool

    /// Parses a cron expression.
    ///
    /// - Throws: ``CronError`` naming the field, the token and the allowed values.
    public init(_ text: String) throws {
        guard text.utf8.count <= Self.maximumLength else { throw CronError.tooLong(length: text.utf8.count) }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw CronError.empty }

        var fieldsText = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros.first(where: { $0.name == trimmed.lowercased() }) else {
                throw CronError.unknownMacro(trimmed)
            }
            fieldsText = macro.expression
        }
        let fields = fieldsText.split(whereSeparator: \.isWhitespace)
        guard fields.count == Field.allCases.count else {
            throw CronError.wrongFieldCount(trimmed, count: fields.count)
        }

        source = trimmed
        minutes = try Self.parse(fields[0], as: .minute)
        hours = try Self.parse(fields[1], as: .hour)
        daysOfMonth = try Self.parse(fields[2], as: .dayOfMonth)
        months = try Self.parse(fields[3], as: .month)
        daysOfWeek = try Self.parse(fields[4], as: .dayOfWeek)
        dayOfMonthIsUnrestricted = fields[2].hasPrefix("*")
        dayOfWeekIsUnrestricted = fields[4].hasPrefix("*")
    }

    public var description: String { source }

    /// Whether the expression can match any day at all.
    ///
    /// `0 0 30 2 *` (30 February) parses, as it does in cron, but never runs; configuration loading can use this to
    /// reject such schedules with a clear message instead of a job that silently never fires.
    public var isSatisfiable: Bool {
        // With both day fields restricted, every day-of-week value occurs in every month.
        if !dayOfMonthIsUnrestricted && !dayOfWeekIsUnrestricted { return true }
        // Otherwise a (month, day) pair must exist; every such pair falls on every weekday within the 400-year cycle.
        for month in 1...12 where months.contains(month) {
            let longest = month == 2 ? 29 : daysIn(month: month, year: 2001)
            if daysOfMonth & Self.bits(upTo: longest) != 0 { return true }
        }
        return false
    }

    /// Whether the expression matches a wall-clock minute of the proleptic Gregorian calendar.
    ///
    /// Values outside their fields' ranges, a day the month does not have, or a year outside 1-9999 never match.
    public func matches(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> Bool {
        guard (1...9999).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return false }
        return months.contains(month) && hours.contains(hour) && minutes.contains(minute)
            && dayMatches(day: day, weekday: weekday(daysSinceEpoch(year, month, day)))
    }

    /// Whether every hour matches (`*`, `*/1`, `0-23`): such a job runs on real elapsed time through daylight-saving
    /// changes rather than once per wall-clock time. See ``CronSchedule``.
    var matchesEveryHour: Bool { hours == Self.bits(upTo: 23) }

    /// Vixie cron's rule: OR when both day fields are restricted, AND (with the unrestricted one matching) otherwise.
    func dayMatches(day: Int, weekday: Int) -> Bool {
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(weekday)
        return dayOfMonthIsUnrestricted || dayOfWeekIsUnrestricted ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }

    // MARK: Parsing

    private static func parse(_ text: Substring, as field: Field) throws -> UInt64 {
        var mask: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronError.emptyItem(field, in: text) }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw CronError.invalidValue(field, token: item) }
            let base = parts[0]

            var step = 1
            if parts.count == 2 {
                let largest = field.everyValue.count
                guard let value = number(parts[1]), (1...largest).contains(value) else {
                    throw CronError.invalidStep(field, step: parts[1])
                }
                step = value
            }

            let range: ClosedRange<Int>
            if base == "*" {
                range = field.everyValue
            } else if base.contains("-") {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count == 2, !bounds[0].isEmpty, !bounds[1].isEmpty else {
                    throw CronError.invalidValue(field, token: item)
                }
                let lower = try value(bounds[0], as: field)
                let upper = try value(bounds[1], as: field)
                guard lower <= upper else { throw CronError.reversedRange(field, range: base) }
                range = lower...upper
            } else {
                let start = try value(base, as: field)
                // `5/10` means from 5 to the field's maximum; `sun/2` and `7/2` both start on Sunday.
                let from = field == .dayOfWeek && start == 7 ? 0 : start
                range = parts.count == 2 ? from...field.everyValue.upperBound : start...start
            }
            for value in stride(from: range.lowerBound, through: range.upperBound, by: step) {
                mask |= 1 << UInt64(field == .dayOfWeek && value == 7 ? 0 : value)
            }
        }
        return mask
    }

    /// A number or a name within the field's range.
    private static func value(_ token: Substring, as field: Field) throws -> Int {
        if !token.isEmpty, token.utf8.allSatisfy(isASCIIDigit) {
            // All digits but too large for `Int` is out of range too.
            guard let value = Int(token), field.allowedRange.contains(value) else {
                throw CronError.outOfRange(field, token: token)
            }
            return value
        }
        if let index = field.names.firstIndex(of: token.lowercased()) {
            return field.everyValue.lowerBound + index
        }
        throw CronError.invalidValue(field, token: token)
    }

    /// A run of ASCII digits as a number; nil for anything else, including numbers too large for `Int`.
    private static func number(_ token: Substring) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy(isASCIIDigit) else { return nil }
        return Int(token)
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// Bits 0 through `value`.
    static func bits(upTo value: Int) -> UInt64 { (2 &<< UInt64(value)) &- 1 }

    // MARK: Searching local time

    /// The first matching wall-clock minute at or after `start` and before `end`.
    ///
    /// Both bounds and the result are local seconds: seconds since 1970-01-01 00:00 on the wall clock, as if the time
    /// zone were UTC. The search skips whole months, days and hours that cannot match, so its cost depends on the
    /// calendar distance covered, never on the number of minutes.
    func firstMatch(atOrAfter start: Int64, before end: Int64) -> Int64? {
        guard start < end else { return nil }
        let firstMinute = start.dividedRoundingDown(by: 60) + (start.isMultiple(of: 60) ? 0 : 1)
        var day = firstMinute.dividedRoundingDown(by: 1440)
        var minuteOfDay = Int(firstMinute - day * 1440)
        var (year, month, dayOfMonth) = civilDate(daysSinceEpoch: day)
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60

        // Moves to the start of the month `month` (normalised into the following year when past December).
        func startMonth(_ newMonth: Int) {
            (year, month) = newMonth > 12 ? (year + 1, newMonth - 12) : (year, newMonth)
            dayOfMonth = 1
            day = daysSinceEpoch(year, month, 1)
            (hour, minute) = (0, 0)
        }
        func startNextDay() {
            if dayOfMonth == daysIn(month: month, year: year) {
                startMonth(month + 1)
            } else {
                dayOfMonth += 1
                day += 1
                (hour, minute) = (0, 0)
            }
        }

        while day * 86_400 < end {
            guard months.contains(month) else {
                let next = months.nextValue(atOrAfter: month + 1) ?? (months.nextValue(atOrAfter: 1) ?? 1) + 12
                startMonth(next)
                continue
            }
            guard dayMatches(day: dayOfMonth, weekday: weekday(day)) else {
                startNextDay()
                continue
            }
            guard let nextHour = hours.nextValue(atOrAfter: hour), nextHour <= 23 else {
                startNextDay()
                continue
            }
            if nextHour != hour { (hour, minute) = (nextHour, 0) }
            guard let nextMinute = minutes.nextValue(atOrAfter: minute), nextMinute <= 59 else {
                if hour == 23 { startNextDay() } else { (hour, minute) = (hour + 1, 0) }
                continue
            }
            minuteOfDay = hour * 60 + nextMinute
            let result = day * 86_400 + Int64(minuteOfDay) * 60
            return result < end ? result : nil
        }
        return nil
    }

    /// The last matching wall-clock minute at or before `end` and at or after `start`, in local seconds.
    func lastMatch(atOrBefore end: Int64, notBefore start: Int64) -> Int64? {
        guard start <= end else { return nil }
        let lastMinute = end.dividedRoundingDown(by: 60)
        var day = lastMinute.dividedRoundingDown(by: 1440)
        let minuteOfDay = Int(lastMinute - day * 1440)
        var (year, month, dayOfMonth) = civilDate(daysSinceEpoch: day)
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60

        // Moves to the end of the month `month` (normalised into the previous year when before January).
        func endMonth(_ newMonth: Int) {
            (year, month) = newMonth < 1 ? (year - 1, newMonth + 12) : (year, newMonth)
            dayOfMonth = daysIn(month: month, year: year)
            day = daysSinceEpoch(year, month, dayOfMonth)
            (hour, minute) = (23, 59)
        }
        func endPreviousDay() {
            if dayOfMonth == 1 {
                endMonth(month - 1)
            } else {
                dayOfMonth -= 1
                day -= 1
                (hour, minute) = (23, 59)
            }
        }

        while (day + 1) * 86_400 > start {
            guard months.contains(month) else {
                let previous =
                    months.previousValue(atOrBefore: month - 1) ?? (months.previousValue(atOrBefore: 12) ?? 12) - 12
                endMonth(previous)
                continue
            }
            guard dayMatches(day: dayOfMonth, weekday: weekday(day)) else {
                endPreviousDay()
                continue
            }
            guard let previousHour = hours.previousValue(atOrBefore: hour) else {
                endPreviousDay()
                continue
            }
            if previousHour != hour { (hour, minute) = (previousHour, 59) }
            guard let previousMinute = minutes.previousValue(atOrBefore: minute) else {
                if hour == 0 { endPreviousDay() } else { (hour, minute) = (hour - 1, 59) }
                continue
            }
            let result = day * 86_400 + Int64(hour * 3600 + previousMinute * 60)
            return result >= start ? result : nil
        }
        return nil
    }
}

// MARK: - Bit sets

extension UInt64 {
    fileprivate func contains(_ value: Int) -> Bool { (0..<64).contains(value) && self & (1 << UInt64(value)) != 0 }

    /// The smallest member that is at least `value`.
    fileprivate func nextValue(atOrAfter value: Int) -> Int? {
        guard (0..<64).contains(value) else { return nil }
        let rest = self >> UInt64(value)
        return rest == 0 ? nil : value + rest.trailingZeroBitCount
    }

    /// The largest member that is at most `value`.
    fileprivate func previousValue(atOrBefore value: Int) -> Int? {
        guard value >= 0 else { return nil }
        let rest = value >= 63 ? self : self & CronExpression.bits(upTo: value)
        return rest == 0 ? nil : 63 - rest.leadingZeroBitCount
    }
}

// MARK: - Proleptic Gregorian calendar arithmetic
//
// Days are counted from 1970-01-01. These are Howard Hinnant's `days_from_civil` and `civil_from_days`, exact for
// every day representable here; they agree with `Calendar(identifier: .gregorian)` from 15 October 1582 on.

extension Int64 {
    /// Division rounding towards negative infinity, so that times before 1970 fall into the right day and minute.
    fileprivate func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return self % divisor < 0 ? quotient - 1 : quotient
    }
}

private func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

private func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

private func daysSinceEpoch(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
    let shiftedYear = Int64(month <= 2 ? year - 1 : year)
    let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
    let yearOfEra = shiftedYear - era * 400
    let dayOfYear = Int64((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1)
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

private func civilDate(daysSinceEpoch days: Int64) -> (year: Int, month: Int, day: Int) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
    let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
    let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    return (year, month, day)
}

/// 0 for Sunday through 6 for Saturday; 1970-01-01 was a Thursday.
private func weekday(_ daysSinceEpoch: Int64) -> Int {
    Int((daysSinceEpoch % 7 + 11) % 7)
}
