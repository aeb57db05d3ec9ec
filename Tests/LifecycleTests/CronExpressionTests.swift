import Foundation
import Testing

@testable import Lifecycle

@Suite struct CronExpressionTests {
    /// The values a field's bit set holds, in order.
    func values(_ bits: UInt64) -> [Int] { (0..<64).filter { bits & (1 << UInt64($0)) != 0 } }

    func parseError(_ expression: String) -> CronError? {
        #expect(throws: CronError.self) { try CronExpression(expression) }
    }

    // MARK: Syntax

    @Test(arguments: [
        ("*", Array(0...59)),
        ("7", [7]),
        ("1,15", [1, 15]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("*/15", [0, 15, 30, 45]),
        ("10-50/20", [10, 30, 50]),
        ("5/10", [5, 15, 25, 35, 45, 55]),
        ("0-59", Array(0...59)),
        ("*/60", [0]),
        ("1-3,10,20-40/10,59", [1, 2, 3, 10, 20, 30, 40, 59]),
        ("5,5,1-5", [1, 2, 3, 4, 5]),
        ("*,7", Array(0...59)),
    ])
    func parsesMinuteSyntax(field: String, expected: [Int]) throws {
        let expression = try CronExpression("\(field) * * * *")
        #expect(values(expression.minutes) == expected)
    }

    @Test func parsesEachFieldWithinItsRange() throws {
        let expression = try CronExpression("59 */6 */10 */3 */2")
        #expect(values(expression.minutes) == [59])
        #expect(values(expression.hours) == [0, 6, 12, 18])
        #expect(values(expression.daysOfMonth) == [1, 11, 21, 31])
        #expect(values(expression.months) == [1, 4, 7, 10])
        #expect(values(expression.daysOfWeek) == [0, 2, 4, 6])
        let everything = try CronExpression("* * * * *")
        #expect(values(everything.hours) == Array(0...23))
        #expect(values(everything.daysOfMonth) == Array(1...31))
        #expect(values(everything.months) == Array(1...12))
        #expect(values(everything.daysOfWeek) == Array(0...6))
    }

    @Test(arguments: [
        ("0", [0]), ("7", [0]), ("0,7", [0]), ("5-7", [0, 5, 6]), ("1-7", Array(0...6)), ("7/2", [0, 2, 4, 6]),
        ("3/2", [3, 5]), ("0-7/7", [0]),
    ])
    func treatsZeroAndSevenAsSunday(field: String, expected: [Int]) throws {
        #expect(values(try CronExpression("0 0 * * \(field)").daysOfWeek) == expected)
    }

    @Test(arguments: [
        ("jan", [1]), ("JAN", [1]), ("Dec", [12]), ("jan-mar", [1, 2, 3]), ("jun,AUG,Oct", [6, 8, 10]),
        ("feb-nov/3", [2, 5, 8, 11]), ("mar/4", [3, 7, 11]), ("1,feb", [1, 2]),
    ])
    func parsesMonthNames(field: String, expected: [Int]) throws {
        #expect(values(try CronExpression("0 0 1 \(field) *").months) == expected)
    }

    @Test(arguments: [
        ("sun", [0]), ("MON", [1]), ("Sat", [6]), ("mon-fri", [1, 2, 3, 4, 5]), ("sun,Wed,SAT", [0, 3, 6]),
        ("mon-sat/2", [1, 3, 5]), ("fri-7", [0, 5, 6]), ("tue/2", [2, 4, 6]),
    ])
    func parsesWeekdayNames(field: String, expected: [Int]) throws {
        #expect(values(try CronExpression("0 0 * * \(field)").daysOfWeek) == expected)
    }

    @Test(arguments: [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
        ("  @Hourly\n", "0 * * * *"),
    ])
    func expandsMacros(macro: String, expansion: String) throws {
        let parsed = try CronExpression(macro)
        let expected = try CronExpression(expansion)
        #expect(parsed.minutes == expected.minutes)
        #expect(parsed.hours == expected.hours)
        #expect(parsed.daysOfMonth == expected.daysOfMonth)
        #expect(parsed.months == expected.months)
        #expect(parsed.daysOfWeek == expected.daysOfWeek)
        #expect(parsed.dayOfMonthIsUnrestricted == expected.dayOfMonthIsUnrestricted)
        #expect(parsed.dayOfWeekIsUnrestricted == expected.dayOfWeekIsUnrestricted)
        #expect(parsed.source == macro.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func acceptsAnyWhitespaceBetweenFieldsAndKeepsTheSource() throws {
        let expression = try CronExpression("  0\t3   *  * \t mon-fri \n")
        #expect(expression.source == "0\t3   *  * \t mon-fri")
        #expect(expression.description == expression.source)
        #expect(values(expression.hours) == [3])
        #expect(values(expression.daysOfWeek) == [1, 2, 3, 4, 5])
    }

    // MARK: Errors

    @Test func reportsOutOfRangeWithFieldTokenAndRange() throws {
        #expect(parseError("0 60 * * *")?.message == "cron field 'hour': 60 is out of range 0-23.")
        #expect(parseError("0 60 * * *")?.code == .outOfRange)
        #expect(parseError("0 60 * * *")?.field == .hour)
        #expect(
            parseError("0 0 * * 8")?.message == "cron field 'day-of-week': 8 is out of range 0-7 (0 and 7 are Sunday).")
    }

    @Test(arguments: [
        ("60 * * * *", CronExpression.Field.minute, "60"),
        ("0 24 * * *", .hour, "24"),
        ("0 0 0 * *", .dayOfMonth, "0"),
        ("0 0 32 * *", .dayOfMonth, "32"),
        ("0 0 * 0 *", .month, "0"),
        ("0 0 * 13 *", .month, "13"),
        ("0 0 * * 8", .dayOfWeek, "8"),
        ("1-60 * * * *", .minute, "60"),
        ("0 0 * jan-13 *", .month, "13"),
        ("99999999999999999999999 * * * *", .minute, "99999999999999999999999"),
        ("0 0 * * 0-8", .dayOfWeek, "8"),
    ])
    func rejectsNumbersOutsideTheField(expression: String, field: CronExpression.Field, token: String) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .outOfRange)
        #expect(error.field == field)
        #expect(
            error.message.hasPrefix("cron field '\(field)': \(token) is out of range \(field.allowedRange.lowerBound)-")
        )
    }

    @Test func acceptsLeadingZeros() throws {
        let expression = try CronExpression("05 007 01 01 00")
        #expect(values(expression.minutes) == [5])
        #expect(values(expression.hours) == [7])
        #expect(values(expression.daysOfWeek) == [0])
    }

    @Test(arguments: [
        ("*/0 * * * *", CronExpression.Field.minute),
        ("0 0/0 * * *", .hour),
        ("*/x * * * *", .minute),
        ("*/ * * * *", .minute),
        ("*/-1 * * * *", .minute),
        ("*/61 * * * *", .minute),
        ("0 */25 * * *", .hour),
        ("0 0 * */13 *", .month),
        ("0 0 * * */8", .dayOfWeek),
        ("*/1.5 * * * *", .minute),
    ])
    func rejectsInvalidSteps(expression: String, field: CronExpression.Field) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .invalidStep)
        #expect(error.field == field)
        #expect(error.message.contains("step"))
    }

    @Test func zeroStepSaysWhatToWrite() {
        #expect(
            parseError("*/0 * * * *")?.message
                == "cron field 'minute': step '0' is not valid; write a whole number from 1 to 60 after the '/' (e.g. '*/15')."
        )
    }

    @Test(arguments: [
        ("5-1 * * * *", CronExpression.Field.minute), ("0 22-2 * * *", .hour), ("0 0 * dec-jan *", .month),
        ("0 0 * * fri-mon", .dayOfWeek), ("0 0 * * sat-sun", .dayOfWeek), ("0 0 31-1/2 * *", .dayOfMonth),
    ])
    func rejectsReversedRanges(expression: String, field: CronExpression.Field) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .reversedRange)
        #expect(error.field == field)
        #expect(error.message.contains("runs backwards"))
    }

    @Test(arguments: [
        ("abc * * * *", CronExpression.Field.minute), ("? * * * *", .minute), ("0 0 L * *", .dayOfMonth),
        ("0 0 1W * *", .dayOfMonth), ("0 0 * * 5#3", .dayOfWeek), ("0 0 * * 5L", .dayOfWeek), ("-5 * * * *", .minute),
        ("1-2-3 * * * *", .minute), ("1/2/3 * * * *", .minute), ("1- * * * *", .minute), ("0 0 * * mon-", .dayOfWeek),
        ("mon * * * *", .minute), ("0 jan * * *", .hour), ("0 0 * foo *", .month), ("0 0 * * monday", .dayOfWeek),
        ("0 0 * mon *", .month), ("0 0 * * jan", .dayOfWeek), ("٣ * * * *", .minute), ("1.5 * * * *", .minute),
        ("*-5 * * * *", .minute), ("+1 * * * *", .minute),
    ])
    func rejectsGarbage(expression: String, field: CronExpression.Field) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .invalidValue)
        #expect(error.field == field)
        #expect(error.message.hasPrefix("cron field '\(field)': "))
    }

    @Test func garbageInTheMonthFieldListsTheNames() {
        #expect(
            parseError("0 0 * foo *")?.message
                == "cron field 'month': 'foo' is not valid; write a number 1-12 or a name jan-dec, '*', a range 'a-b', "
                + "a list 'a,b' or a step '*/n'.")
    }

    @Test(arguments: ["1,,2 * * * *", "1, * * * *", ",1 * * * *", "0 0 * * mon,", "0 , * * *"])
    func rejectsEmptyListItems(expression: String) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .empty)
        #expect(error.message.contains("empty list item"))
    }

    @Test(arguments: ["", " ", "\n\t  "])
    func rejectsEmptyExpressions(expression: String) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .empty)
        #expect(error.field == nil)
    }

    @Test(arguments: [("* * * *", 4), ("* * * * * *", 6), ("0 0 1 1 * 2026", 6), ("*", 1), ("0 0 * * * * *", 7)])
    func rejectsTheWrongNumberOfFields(expression: String, count: Int) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .wrongFieldCount)
        #expect(error.message.contains("has \(count) field"))
        #expect(error.message.contains("write exactly 5"))
    }

    @Test(arguments: ["@reboot", "@every 5m", "@", "@day"])
    func rejectsUnknownMacros(expression: String) throws {
        let error = try #require(parseError(expression))
        #expect(error.code == .unknownMacro)
        #expect(error.message.contains("@hourly"))
    }

    @Test func rejectsOverlongExpressions() throws {
        let longest = "0 0 * * " + Array(repeating: "1", count: 124).joined(separator: ",")
        #expect(longest.utf8.count == 255)
        _ = try CronExpression(longest)
        _ = try CronExpression(longest + " ")
        let error = try #require(parseError(longest + "  "))
        #expect(error.code == .tooLong)
        #expect(error.message.contains("257 characters"))
        #expect(parseError(String(repeating: "*", count: 100_000))?.code == .tooLong)
    }

    // MARK: Matching

    @Test(arguments: [
        // 2026-03-13 is a Friday, 2026-03-06 a Friday, 2026-04-13 a Monday, 2026-04-14 a Tuesday.
        ("0 0 13 * 5", 3, 13, true), ("0 0 13 * 5", 3, 6, true), ("0 0 13 * 5", 4, 13, true),
        ("0 0 13 * 5", 4, 14, false),
        ("0 0 13 * fri", 3, 20, true),
        // Only one day field restricted: that one decides.
        ("0 0 13 * *", 3, 6, false), ("0 0 13 * *", 4, 13, true), ("0 0 * * 5", 4, 13, false),
        ("0 0 * * 5", 3, 6, true),
        // A day field starting with `*` counts as unrestricted even with a step: both must match.
        ("0 0 */2 * 5", 3, 13, true), ("0 0 */2 * 5", 3, 6, false), ("0 0 */2 * 5", 3, 7, false),
        ("0 0 13 * */2", 3, 13, false), ("0 0 13 * */2", 5, 13, false), ("0 0 13 * */2", 6, 13, true),
        ("0 0 13 * */1", 3, 13, true),
        // `1-31` is restricted: OR with day-of-week, so every day matches.
        ("0 0 1-31 * 1", 3, 6, true),
    ])
    func combinesDayOfMonthAndDayOfWeekLikeVixieCron(expression: String, month: Int, day: Int, matches: Bool) throws {
        let parsed = try CronExpression(expression)
        #expect(parsed.matches(year: 2026, month: month, day: day, hour: 0, minute: 0) == matches)
    }

    @Test func matchesWallClockMinutes() throws {
        let expression = try CronExpression("*/15 9-17 * jan-jun mon-fri")
        #expect(expression.matches(year: 2026, month: 3, day: 2, hour: 9, minute: 45))
        #expect(!expression.matches(year: 2026, month: 3, day: 2, hour: 9, minute: 46))
        #expect(!expression.matches(year: 2026, month: 3, day: 2, hour: 18, minute: 0))
        #expect(!expression.matches(year: 2026, month: 3, day: 1, hour: 9, minute: 0))  // a Sunday
        #expect(!expression.matches(year: 2026, month: 7, day: 1, hour: 9, minute: 0))
        let leapDay = try CronExpression("0 0 29 2 *")
        #expect(leapDay.matches(year: 2028, month: 2, day: 29, hour: 0, minute: 0))
        #expect(!leapDay.matches(year: 2027, month: 2, day: 29, hour: 0, minute: 0))
        #expect(!leapDay.matches(year: 2100, month: 2, day: 29, hour: 0, minute: 0))
        #expect(leapDay.matches(year: 2000, month: 2, day: 29, hour: 0, minute: 0))
    }

    @Test func neverMatchesImpossibleComponents() throws {
        let expression = try CronExpression("* * * * *")
        #expect(!expression.matches(year: 2026, month: 13, day: 1, hour: 0, minute: 0))
        #expect(!expression.matches(year: 2026, month: 0, day: 1, hour: 0, minute: 0))
        #expect(!expression.matches(year: 2026, month: 4, day: 31, hour: 0, minute: 0))
        #expect(!expression.matches(year: 2026, month: 4, day: 0, hour: 0, minute: 0))
        #expect(!expression.matches(year: 2026, month: 4, day: 1, hour: 24, minute: 0))
        #expect(!expression.matches(year: 2026, month: 4, day: 1, hour: 0, minute: 60))
        #expect(!expression.matches(year: 2026, month: 4, day: 1, hour: -1, minute: 0))
        #expect(!expression.matches(year: 2026, month: 4, day: 1, hour: 0, minute: Int.max))
        #expect(!expression.matches(year: Int.min, month: 1, day: 1, hour: 0, minute: 0))
        #expect(!expression.matches(year: Int.max, month: 12, day: 31, hour: 0, minute: 0))
        #expect(!expression.matches(year: 0, month: 1, day: 1, hour: 0, minute: 0))
        #expect(expression.matches(year: 9999, month: 12, day: 31, hour: 23, minute: 59))
    }

    @Test(arguments: [
        ("0 0 30 2 *", false), ("0 0 31 4,6,9,11 *", false), ("0 0 30,31 feb *", false), ("0 0 29 2 *", true),
        ("0 0 31 * *", true), ("0 0 30 2 1", true), ("0 0 */30 2 *", true), ("0 0 30 2 */1", false),
        ("* * * * *", true),
    ])
    func knowsWhetherAnExpressionCanEverMatch(expression: String, satisfiable: Bool) throws {
        #expect(try CronExpression(expression).isSatisfiable == satisfiable)
    }
}
