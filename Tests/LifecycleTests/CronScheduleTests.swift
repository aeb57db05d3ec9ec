import Foundation
import Testing

@testable import Lifecycle

/// Transitions used below. Europe/Berlin: 2026-03-29 01:00 UTC (02:00 CET → 03:00 CEST) and 2026-10-25 01:00 UTC
/// (03:00 CEST → 02:00 CET). America/New_York: 2026-03-08 07:00 UTC (02:00 EST → 03:00 EDT) and 2026-11-01 06:00 UTC
/// (02:00 EDT → 01:00 EST).
@Suite struct CronScheduleTests {
    func schedule(_ expression: String, _ zone: String = "UTC") throws -> CronSchedule {
        try CronSchedule(expression: expression, timeZoneIdentifier: zone)
    }

    func instant(_ text: String) throws -> Date { try Date(text, strategy: .iso8601) }

    func text(_ date: Date?) -> String? { date?.ISO8601Format() }

    /// The slots from `from` through `through` as UTC timestamps.
    func slots(_ expression: String, _ zone: String, from: String, through: String) throws -> [String] {
        try schedule(expression, zone).slots(in: instant(from)...instant(through), limit: 10_000).map {
            $0.ISO8601Format()
        }
    }

    /// Every `step` seconds from `from` through `through`, as UTC timestamps.
    func every(_ step: Int, from: String, through: String) throws -> [String] {
        let (start, end) = (try instant(from), try instant(through))
        return stride(from: start.timeIntervalSince1970, through: end.timeIntervalSince1970, by: Double(step)).map {
            Date(timeIntervalSince1970: $0).ISO8601Format()
        }
    }

    // MARK: Basics

    @Test func nextSlotIsStrictlyAfterTheDate() throws {
        let schedule = try schedule("*/15 * * * *")
        #expect(text(schedule.nextSlot(after: try instant("2026-05-04T10:00:00Z"))) == "2026-05-04T10:15:00Z")
        #expect(text(schedule.nextSlot(after: try instant("2026-05-04T09:59:59Z"))) == "2026-05-04T10:00:00Z")
        let justBefore = try instant("2026-05-04T10:00:00Z").addingTimeInterval(-0.25)
        #expect(text(schedule.nextSlot(after: justBefore)) == "2026-05-04T10:00:00Z")
        let justAfter = try instant("2026-05-04T10:00:00Z").addingTimeInterval(0.25)
        #expect(text(schedule.nextSlot(after: justAfter)) == "2026-05-04T10:15:00Z")
    }

    @Test func previousSlotIncludesTheDateItself() throws {
        let schedule = try schedule("*/15 * * * *")
        #expect(text(schedule.previousSlot(atOrBefore: try instant("2026-05-04T10:00:00Z"))) == "2026-05-04T10:00:00Z")
        let justBefore = try instant("2026-05-04T10:15:00Z").addingTimeInterval(-0.25)
        #expect(text(schedule.previousSlot(atOrBefore: justBefore)) == "2026-05-04T10:00:00Z")
        #expect(text(schedule.previousSlot(atOrBefore: try instant("2026-05-04T09:59:59Z"))) == "2026-05-04T09:45:00Z")
    }

    @Test func readsTheExpressionOnTheZonesWallClock() throws {
        #expect(
            try slots("0 9 * * *", "Europe/Berlin", from: "2026-07-01T00:00:00Z", through: "2026-07-01T23:59:59Z")
                == ["2026-07-01T07:00:00Z"])
        #expect(
            try slots("0 9 * * *", "America/New_York", from: "2026-01-05T00:00:00Z", through: "2026-01-05T23:59:59Z")
                == ["2026-01-05T14:00:00Z"])
        #expect(
            try slots("0 9 * * *", "Asia/Kolkata", from: "2026-01-05T00:00:00Z", through: "2026-01-05T23:59:59Z")
                == ["2026-01-05T03:30:00Z"])
        // Weekdays at 09:00 New York time; the weekend between also crosses the spring-forward change.
        let weekdays = try schedule("0 9 * * mon-fri", "America/New_York")
        #expect(text(weekdays.nextSlot(after: try instant("2026-03-06T15:00:00Z"))) == "2026-03-09T13:00:00Z")
    }

    @Test func combinesDayOfMonthAndDayOfWeekWithOr() throws {
        // The 13th and every Friday: 13 March 2026 is both, 13 April a Monday.
        #expect(
            try slots("0 0 13 * 5", "UTC", from: "2026-03-01T00:00:00Z", through: "2026-04-30T00:00:00Z") == [
                "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z", "2026-03-27T00:00:00Z",
                "2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z", "2026-04-17T00:00:00Z",
                "2026-04-24T00:00:00Z",
            ])
        // A day-of-month starting with `*` makes both necessary: odd days that are Fridays.
        #expect(
            try slots("0 0 */2 * fri", "UTC", from: "2026-03-01T00:00:00Z", through: "2026-04-30T00:00:00Z") == [
                "2026-03-13T00:00:00Z", "2026-03-27T00:00:00Z", "2026-04-03T00:00:00Z", "2026-04-17T00:00:00Z",
            ])
    }

    // MARK: Calendar edges

    @Test func findsTheNextLeapDay() throws {
        let utc = try schedule("0 0 29 2 *")
        #expect(text(utc.nextSlot(after: try instant("2026-03-01T00:00:00Z"))) == "2028-02-29T00:00:00Z")
        #expect(text(utc.nextSlot(after: try instant("2028-02-29T00:00:00Z"))) == "2032-02-29T00:00:00Z")
        #expect(text(utc.previousSlot(atOrBefore: try instant("2026-03-01T00:00:00Z"))) == "2024-02-29T00:00:00Z")
        // 2100 is not a leap year: eight years to wait, within the search horizon.
        #expect(text(utc.nextSlot(after: try instant("2096-03-01T00:00:00Z"))) == "2104-02-29T00:00:00Z")
        #expect(text(utc.previousSlot(atOrBefore: try instant("2104-02-28T00:00:00Z"))) == "2096-02-29T00:00:00Z")
        let berlin = try schedule("0 0 29 2 *", "Europe/Berlin")
        #expect(text(berlin.nextSlot(after: try instant("2026-03-01T00:00:00Z"))) == "2028-02-28T23:00:00Z")
    }

    @Test(arguments: ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 feb *", "* * 31 apr *"])
    func impossibleSchedulesHaveNoSlots(expression: String) throws {
        let schedule = try schedule(expression, "Europe/Berlin")
        let now = try instant("2026-03-01T00:00:00Z")
        #expect(schedule.nextSlot(after: now) == nil)
        #expect(schedule.previousSlot(atOrBefore: now) == nil)
        #expect(schedule.slots(in: Date.distantPast...Date.distantFuture, limit: 10).isEmpty)
    }

    @Test func rareSchedulesBeyondTheHorizonHaveNoSlot() throws {
        // `*/7` starts with `*`, so both day fields must match: 29 February on a Sunday, 2032 and then 2060.
        let schedule = try schedule("0 0 29 2 */7")
        #expect(schedule.expression.isSatisfiable)
        #expect(text(schedule.nextSlot(after: try instant("2026-01-01T00:00:00Z"))) == "2032-02-29T00:00:00Z")
        #expect(schedule.nextSlot(after: try instant("2032-03-01T00:00:00Z")) == nil)
        #expect(text(schedule.previousSlot(atOrBefore: try instant("2040-01-01T00:00:00Z"))) == "2032-02-29T00:00:00Z")
        #expect(schedule.previousSlot(atOrBefore: try instant("2041-01-01T00:00:00Z")) == nil)
        let range = try instant("2000-01-01T00:00:00Z")...instant("2100-01-01T00:00:00Z")
        #expect(
            schedule.slots(in: range, limit: 10).map { $0.ISO8601Format() }
                == ["2004-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z"])
    }

    @Test func handlesMonthEnds() throws {
        let lastDay = try schedule("0 0 31 * *")
        #expect(text(lastDay.nextSlot(after: try instant("2026-04-01T00:00:00Z"))) == "2026-05-31T00:00:00Z")
        #expect(
            try slots("0 0 31 * *", "UTC", from: "2026-01-01T00:00:00Z", through: "2026-12-31T23:59:59Z").count == 7)
        let thirtieth = try schedule("0 12 30 * *")
        #expect(text(thirtieth.nextSlot(after: try instant("2026-01-30T12:00:00Z"))) == "2026-03-30T12:00:00Z")
        #expect(text(thirtieth.previousSlot(atOrBefore: try instant("2026-03-30T11:59:59Z"))) == "2026-01-30T12:00:00Z")
        #expect(
            text(try schedule("59 23 * * *").nextSlot(after: try instant("2026-02-28T23:59:00Z")))
                == "2026-03-01T23:59:00Z")
    }

    @Test func rollsOverIntoTheNextYear() throws {
        #expect(
            text(try schedule("0 0 1 1 *", "Europe/Berlin").nextSlot(after: try instant("2026-06-15T00:00:00Z")))
                == "2026-12-31T23:00:00Z")
        #expect(
            text(try schedule("*/15 * * * *").nextSlot(after: try instant("2026-12-31T23:50:00Z")))
                == "2027-01-01T00:00:00Z")
        #expect(
            text(try schedule("59 23 31 12 *").nextSlot(after: try instant("2026-12-31T23:59:00Z")))
                == "2027-12-31T23:59:00Z")
        #expect(
            text(try schedule("0 0 1 1 *").previousSlot(atOrBefore: try instant("2026-12-31T23:59:59Z")))
                == "2026-01-01T00:00:00Z")
        #expect(
            text(
                try schedule("0 0 * * *", "America/New_York").previousSlot(
                    atOrBefore: try instant("2027-01-01T04:59:59Z")))
                == "2026-12-31T05:00:00Z")
    }

    // MARK: Daylight-saving time

    @Test func springForwardRunsSkippedTimesOnceAtTheGapsEnd() throws {
        #expect(
            try slots("30 2 * * *", "Europe/Berlin", from: "2026-03-27T00:00:00Z", through: "2026-03-31T23:59:59Z") == [
                "2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
                "2026-03-31T00:30:00Z",
            ])
        #expect(
            try slots("30 2 * * *", "America/New_York", from: "2026-03-07T00:00:00Z", through: "2026-03-09T23:59:59Z")
                == [
                    "2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z",
                ])
    }

    @Test func springForwardCollapsesSeveralSkippedTimesIntoOneRun() throws {
        #expect(
            try slots("*/15 2 * * *", "Europe/Berlin", from: "2026-03-28T00:00:00Z", through: "2026-03-30T23:59:59Z")
                == [
                    "2026-03-28T01:00:00Z", "2026-03-28T01:15:00Z", "2026-03-28T01:30:00Z", "2026-03-28T01:45:00Z",
                    "2026-03-29T01:00:00Z",
                    "2026-03-30T00:00:00Z", "2026-03-30T00:15:00Z", "2026-03-30T00:30:00Z", "2026-03-30T00:45:00Z",
                ])
        // 02:00 is skipped and 03:00 is the gap's end: the same instant, one slot.
        #expect(
            try slots("0 2,3 * * *", "Europe/Berlin", from: "2026-03-29T00:00:00Z", through: "2026-03-29T23:59:59Z")
                == ["2026-03-29T01:00:00Z"])
        #expect(
            try slots("0 3 * * *", "Europe/Berlin", from: "2026-03-29T00:00:00Z", through: "2026-03-29T23:59:59Z")
                == ["2026-03-29T01:00:00Z"])
        #expect(
            try slots("0 2 * * *", "America/New_York", from: "2026-03-08T00:00:00Z", through: "2026-03-08T23:59:59Z")
                == ["2026-03-08T07:00:00Z"])
    }

    @Test func springForwardKeepsEveryHourJobsOnRealTime() throws {
        // Every 15 real minutes: 01:45 CET is followed by 03:00 CEST, with no duplicate at the gap's end.
        #expect(
            try slots("*/15 * * * *", "Europe/Berlin", from: "2026-03-29T00:00:00Z", through: "2026-03-29T02:00:00Z")
                == every(900, from: "2026-03-29T00:00:00Z", through: "2026-03-29T02:00:00Z"))
        #expect(
            try slots("*/15 * * * *", "America/New_York", from: "2026-03-08T06:00:00Z", through: "2026-03-08T08:00:00Z")
                == every(900, from: "2026-03-08T06:00:00Z", through: "2026-03-08T08:00:00Z"))
        // Hourly at :30 stays hourly: the 02:30 that never existed does not add a run at 03:00.
        #expect(
            try slots("30 * * * *", "Europe/Berlin", from: "2026-03-29T00:00:00Z", through: "2026-03-29T02:00:00Z")
                == ["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"])
    }

    @Test func fallBackRunsRepeatedTimesOnceAtTheFirstOccurrence() throws {
        #expect(
            try slots("30 2 * * *", "Europe/Berlin", from: "2026-10-24T00:00:00Z", through: "2026-10-26T23:59:59Z") == [
                "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z",
            ])
        #expect(
            try slots("30 1 * * *", "America/New_York", from: "2026-10-31T00:00:00Z", through: "2026-11-02T23:59:59Z")
                == [
                    "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z",
                ])
        #expect(
            try slots("*/15 2 * * *", "Europe/Berlin", from: "2026-10-25T00:00:00Z", through: "2026-10-25T23:59:59Z")
                == [
                    "2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z",
                ])
        // Every two hours by the wall clock: 00:00 CEST, 02:00 CEST, then 04:00 CET three real hours later.
        #expect(
            try slots("0 */2 * * *", "Europe/Berlin", from: "2026-10-24T22:00:00Z", through: "2026-10-25T04:00:00Z")
                == ["2026-10-24T22:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T03:00:00Z"])
    }

    @Test func fallBackKeepsEveryHourJobsOnRealTime() throws {
        #expect(
            try slots("*/15 * * * *", "Europe/Berlin", from: "2026-10-24T23:45:00Z", through: "2026-10-25T02:15:00Z")
                == every(900, from: "2026-10-24T23:45:00Z", through: "2026-10-25T02:15:00Z"))
        #expect(
            try slots("*/15 * * * *", "America/New_York", from: "2026-11-01T04:45:00Z", through: "2026-11-01T07:15:00Z")
                == every(900, from: "2026-11-01T04:45:00Z", through: "2026-11-01T07:15:00Z"))
        #expect(
            try slots("0 * * * *", "Europe/Berlin", from: "2026-10-24T23:00:00Z", through: "2026-10-25T03:00:00Z")
                == every(3600, from: "2026-10-24T23:00:00Z", through: "2026-10-25T03:00:00Z"))
        #expect(
            try slots("30 * * * *", "America/New_York", from: "2026-11-01T04:00:00Z", through: "2026-11-01T08:00:00Z")
                == every(3600, from: "2026-11-01T04:30:00Z", through: "2026-11-01T07:30:00Z"))
    }

    @Test(arguments: [
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-28T01:30:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-03-30T00:29:59Z", "2026-03-29T01:00:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-25T01:45:00Z", "2026-10-25T00:30:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-26T01:29:59Z", "2026-10-25T00:30:00Z"),
        ("0 2,3 * * *", "Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-28T02:00:00Z"),
        ("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29T00:45:00Z"),
        ("*/15 * * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"),
        ("*/15 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-25T01:00:00Z"),
        ("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:59:59Z", "2026-10-25T00:45:00Z"),
        ("30 * * * *", "Europe/Berlin", "2026-03-29T01:29:59Z", "2026-03-29T00:30:00Z"),
        ("30 2 * * *", "America/New_York", "2026-03-08T06:59:59Z", "2026-03-07T07:30:00Z"),
        ("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"),
        ("30 1 * * *", "America/New_York", "2026-11-01T06:45:00Z", "2026-11-01T05:30:00Z"),
        ("30 1 * * *", "America/New_York", "2026-11-02T06:29:59Z", "2026-11-01T05:30:00Z"),
        ("30 * * * *", "America/New_York", "2026-11-01T06:45:00Z", "2026-11-01T06:30:00Z"),
    ])
    func previousSlotAcrossChanges(expression: String, zone: String, now: String, expected: String) throws {
        #expect(text(try schedule(expression, zone).previousSlot(atOrBefore: try instant(now))) == expected)
    }

    @Test func survivesASkippedDay() throws {
        // Samoa moved from UTC-10 to UTC+14 at the end of 29 December 2011: 30 December never happened there.
        #expect(
            try slots("0 12 * * *", "Pacific/Apia", from: "2011-12-29T00:00:00Z", through: "2011-12-31T23:59:59Z") == [
                "2011-12-29T22:00:00Z", "2011-12-30T10:00:00Z", "2011-12-30T22:00:00Z", "2011-12-31T22:00:00Z",
            ])
        #expect(
            try slots("0 * * * *", "Pacific/Apia", from: "2011-12-30T08:00:00Z", through: "2011-12-30T12:00:00Z")
                == every(3600, from: "2011-12-30T08:00:00Z", through: "2011-12-30T12:00:00Z"))
        let schedule = try schedule("0 12 * * *", "Pacific/Apia")
        #expect(text(schedule.previousSlot(atOrBefore: try instant("2011-12-30T21:59:59Z"))) == "2011-12-30T10:00:00Z")
    }

    @Test func handlesHalfHourChanges() throws {
        // Lord Howe Island moves by 30 minutes: 02:00 → 01:30 on 2026-04-05 (15:00 UTC the day before).
        #expect(
            try slots(
                "*/15 * * * *", "Australia/Lord_Howe", from: "2026-04-04T14:00:00Z", through: "2026-04-04T16:00:00Z")
                == every(900, from: "2026-04-04T14:00:00Z", through: "2026-04-04T16:00:00Z"))
        #expect(
            try slots(
                "45 1 * * *", "Australia/Lord_Howe", from: "2026-04-04T00:00:00Z", through: "2026-04-04T23:59:59Z")
                == ["2026-04-04T14:45:00Z"])
    }

    // MARK: Properties

    @Test func aYearOfQuarterHoursInBerlinIsEveryFifteenRealMinutes() throws {
        let schedule = try schedule("*/15 * * * *", "Europe/Berlin")
        let year = try instant("2025-12-31T23:00:00Z")...instant("2026-12-31T22:59:59Z")
        let slots = schedule.slots(in: year, limit: 40_000)
        #expect(slots.count == 35_040)
        #expect(slots.first == year.lowerBound)
        #expect(zip(slots, slots.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 900 })
        // The chain of nextSlot calls gives the same slots.
        var chained: [Date] = []
        var cursor = year.lowerBound.addingTimeInterval(-1)
        while let next = schedule.nextSlot(after: cursor), next <= year.upperBound {
            chained.append(next)
            cursor = next
        }
        #expect(chained == slots)
    }

    @Test(arguments: ["Europe/Berlin", "America/New_York"])
    func everySlotIsAMatchingWallTimeOrAGapsEnd(zone: String) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: zone))
        let schedule = try schedule("30 2 * * *", zone)
        let slots = schedule.slots(
            in: try instant("2026-01-01T12:00:00Z")...instant("2027-01-01T11:59:59Z"), limit: 1000)
        #expect(slots.count == 365)
        for slot in slots {
            let local = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: slot)
            let wall = [local.hour, local.minute, local.second]
            let springForward = (local.month, local.day) == (3, zone == "Europe/Berlin" ? 29 : 8)
            #expect(wall == (springForward ? [3, 0, 0] : [2, 30, 0]), "\(slot.ISO8601Format())")
        }
    }

    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"])
    func previousAndNextSlotsBracketEveryInstant(zone: String) throws {
        let expressions = [
            "*/15 * * * *", "30 2 * * *", "0 2,3 * * *", "30 * * * *", "0 0 13 * 5", "15 1 * * sun", "*/7 */5 * * *",
        ]
        // A step that is not a multiple of a minute lands between slots and drifts through the day; the extra
        // instants sit on and around each 2026 change.
        let start = try instant("2026-01-01T00:00:00Z").timeIntervalSince1970
        var samples = Array(stride(from: start, through: start + 366 * 86_400, by: 40_000.5))
        let changes = try [
            "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z",
            "2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z",
        ].map { try instant($0).timeIntervalSince1970 }
        for change in changes {
            samples += [-3600, -1, 0, 1, 900, 1799, 1800, 3599, 3600, 3601, 5400].map { change + $0 }
        }
        for expression in expressions {
            let schedule = try schedule(expression, zone)
            for sample in samples {
                let now = Date(timeIntervalSince1970: sample)
                let previous = try #require(schedule.previousSlot(atOrBefore: now))
                let next = try #require(schedule.nextSlot(after: now))
                #expect(previous <= now && now < next, "\(expression) \(now.ISO8601Format())")
                #expect(schedule.nextSlot(after: previous) == next, "\(expression) \(now.ISO8601Format())")
                #expect(schedule.nextSlot(after: previous).map { $0 > now } == true)
                #expect(schedule.previousSlot(atOrBefore: next.addingTimeInterval(-1)) == previous)
            }
        }
    }

    @Test(arguments: [
        ("Europe/Berlin", ["2026-03-29", "2026-10-25"]), ("America/New_York", ["2026-03-08", "2026-11-01"]),
        ("Australia/Lord_Howe", ["2026-04-05", "2026-10-04"]),
    ])
    func agreesWithAMinuteByMinuteReferenceAroundChanges(zone: String, changeDays: [String]) throws {
        var generator = SplitMix64(seed: 2026)
        let fixed = [
            "*/15 * * * *", "30 2 * * *", "*/15 2 * * *", "0 2,3 * * *", "30 * * * *", "0 */2 * * *", "* * * * *",
        ]
        let expressions = fixed + (0..<30).map { _ in generator.expression() }
        for day in changeDays {
            let middle = try instant(day + "T00:00:00Z")
            let window = middle.addingTimeInterval(-36 * 3600)...middle.addingTimeInterval(36 * 3600)
            let reference = try Reference(zone: zone, window: window)
            for text in expressions {
                let schedule = try schedule(text, zone)
                let expected = reference.slots(of: schedule.expression)
                #expect(schedule.slots(in: window, limit: 10_000) == expected, "\(text) around \(day)")
                // The same slots one call at a time, forwards and backwards (a sample of them for busy schedules).
                let pairs = Array(zip(expected, expected.dropFirst()))
                let sample = stride(from: 0, to: pairs.count, by: max(1, pairs.count / 200)).map { pairs[$0] }
                let forwards = sample.map { schedule.nextSlot(after: $0.0) }
                #expect(forwards == sample.map(\.1), "\(text) around \(day)")
                let backwards = sample.map { schedule.previousSlot(atOrBefore: $0.1.addingTimeInterval(-1)) }
                #expect(backwards == sample.map(\.0), "\(text) around \(day)")
            }
        }
    }

    // MARK: Listing and bounds

    @Test func listsSlotsWithinTheRangeUpToTheLimit() throws {
        let schedule = try schedule("*/15 * * * *")
        let range = try instant("2026-05-04T10:00:00Z")...instant("2026-05-04T10:30:00Z")
        #expect(
            schedule.slots(in: range, limit: 10).map { $0.ISO8601Format() }
                == ["2026-05-04T10:00:00Z", "2026-05-04T10:15:00Z", "2026-05-04T10:30:00Z"])
        #expect(schedule.slots(in: range, limit: 2).count == 2)
        #expect(schedule.slots(in: range, limit: 0).isEmpty)
        #expect(schedule.slots(in: range, limit: -1).isEmpty)
        let fractional = range.lowerBound.addingTimeInterval(0.5)...range.upperBound
        #expect(schedule.slots(in: fractional, limit: 10).count == 2)
        #expect(schedule.slots(in: range.lowerBound...range.lowerBound, limit: 10) == [range.lowerBound])
        let between = range.lowerBound.addingTimeInterval(60)
        #expect(schedule.slots(in: between...between, limit: 10).isEmpty)
    }

    @Test func handlesDatesFarOutOfRange() throws {
        let schedule = try schedule("*/15 * * * *", "Europe/Berlin")
        #expect(schedule.nextSlot(after: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(schedule.previousSlot(atOrBefore: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(schedule.nextSlot(after: Date(timeIntervalSince1970: .infinity)) == nil)
        #expect(schedule.nextSlot(after: Date(timeIntervalSince1970: 1e15)) == nil)
        #expect(schedule.previousSlot(atOrBefore: Date(timeIntervalSince1970: -.infinity)) == nil)
        #expect(schedule.previousSlot(atOrBefore: Date(timeIntervalSince1970: -1e15)) == nil)
        #expect(schedule.nextSlot(after: .distantFuture) != nil)
        #expect(schedule.previousSlot(atOrBefore: .distantPast) == nil)
        #expect(
            text(try self.schedule("*/15 * * * *").previousSlot(atOrBefore: Date(timeIntervalSince1970: 1e15)))
                == "9999-12-31T23:45:00Z")
        let everything = Date(timeIntervalSince1970: -.infinity)...Date(timeIntervalSince1970: .infinity)
        #expect(schedule.slots(in: everything, limit: 3).count == 3)
    }

    // MARK: Configuration

    @Test(arguments: ["Europe/Berln", "", "europe/berlin", "Europe/Berlin ", "Mars/Olympus_Mons"])
    func rejectsUnknownTimeZones(identifier: String) throws {
        let error = try #require(
            #expect(throws: CronError.self) {
                try CronSchedule(expression: "0 3 * * *", timeZoneIdentifier: identifier)
            })
        #expect(error.code == .unknownTimeZone)
        #expect(error.message.contains("'\(identifier)'"))
        #expect(error.message.contains("Europe/Berlin"))
    }

    @Test func reportsExpressionErrorsBeforeTheTimeZone() throws {
        let error = try #require(
            #expect(throws: CronError.self) {
                try CronSchedule(expression: "0 24 * * *", timeZoneIdentifier: "Nowhere")
            })
        #expect(error.code == .outOfRange)
    }

    @Test func describesItself() throws {
        let schedule = try schedule("@daily", "Europe/Berlin")
        #expect(schedule.description == "@daily (Europe/Berlin)")
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        #expect(schedule == CronSchedule(expression: try CronExpression("@daily"), timeZone: berlin))
    }
}

/// The documented rules applied the slow way, minute by minute with `Calendar`, to check the fast search against.
struct Reference {
    typealias Wall = (year: Int, month: Int, day: Int, hour: Int, minute: Int)

    /// One UTC minute of the window: its wall time, whether that wall time occurred before, and the wall minutes a
    /// change skipped just before it.
    struct Minute {
        var date: Date
        var wall: Wall
        var repeated: Bool
        var skipped: [Wall]
    }

    let minutes: [Minute]

    init(zone: String, window: ClosedRange<Date>) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = try #require(TimeZone(identifier: "UTC"))
        func wall(_ date: Date, _ calendar: Calendar) -> Wall {
            let wall = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            return (wall.year ?? 0, wall.month ?? 0, wall.day ?? 0, wall.hour ?? 0, wall.minute ?? 0)
        }
        var seen: Set<Int> = []
        var minutes: [Minute] = []
        // Start a day early so that wall times seen before the window count as first occurrences.
        var date = window.lowerBound.addingTimeInterval(-86_400)
        while date <= window.upperBound {
            defer { date = date.addingTimeInterval(60) }
            let local = wall(date, calendar)
            let key = (((local.year * 100 + local.month) * 100 + local.day) * 100 + local.hour) * 100 + local.minute
            let repeated = !seen.insert(key).inserted
            let before = timeZone.secondsFromGMT(for: date.addingTimeInterval(-60))
            let now = timeZone.secondsFromGMT(for: date)
            // The wall minutes the change skipped, as UTC instants whose UTC components are those wall times.
            let skipped = stride(from: before, to: now, by: 60).map {
                wall(date.addingTimeInterval(TimeInterval($0)), utc)
            }
            if window.contains(date) {
                minutes.append(Minute(date: date, wall: local, repeated: repeated, skipped: skipped))
            }
        }
        self.minutes = minutes
    }

    func slots(of expression: CronExpression) -> [Date] {
        func matches(_ wall: Wall) -> Bool {
            expression.matches(year: wall.year, month: wall.month, day: wall.day, hour: wall.hour, minute: wall.minute)
        }
        let everyHour = expression.matchesEveryHour
        return minutes.filter { minute in
            (matches(minute.wall) && (everyHour || !minute.repeated))
                || (!everyHour && minute.skipped.contains(where: matches))
        }.map(\.date)
    }
}

/// A small deterministic generator, so the random expressions are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next(_ range: ClosedRange<Int>) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return range.lowerBound + Int(z % UInt64(range.count))
    }

    mutating func field(_ range: ClosedRange<Int>) -> String {
        let a = next(range)
        let b = next(a...range.upperBound)
        switch next(0...5) {
        case 0: return "*"
        case 1: return "*/\(next(1...max(1, range.count / 3)))"
        case 2: return "\(a)"
        case 3: return "\(a)-\(b)"
        case 4: return "\(a)-\(b)/\(next(1...4))"
        default: return "\(a),\(next(range))"
        }
    }

    /// Minutes and hours near the changes, so that gaps and repeats are exercised.
    mutating func expression() -> String {
        let minute = field(0...59)
        let hour = next(0...2) == 0 ? "*" : field(0...4)
        let dayOfMonth = next(0...3) == 0 ? field(1...31) : "*"
        let dayOfWeek = next(0...3) == 0 ? field(0...6) : "*"
        return "\(minute) \(hour) \(dayOfMonth) * \(dayOfWeek)"
    }
}
