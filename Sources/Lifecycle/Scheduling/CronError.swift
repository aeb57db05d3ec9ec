/// Why a schedule in the configuration file's `schedules:` list could not be read.
///
/// The message names the field, the offending token and what is allowed, so that an operator can fix the
/// configuration without reading cron documentation: `cron field 'hour': 60 is out of range 0-23`.
public struct CronError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so it can be a metric label.
    public enum Code: String, Sendable {
        /// The expression is blank, or a field has an empty list item (`1,,2`).
        case empty
        /// The expression is longer than ``CronExpression/maximumLength``.
        case tooLong = "too_long"
        /// The expression does not have exactly five fields.
        case wrongFieldCount = "wrong_field_count"
        /// An `@` macro other than the supported ones.
        case unknownMacro = "unknown_macro"
        /// A token that is neither a number nor a name the field accepts.
        case invalidValue = "invalid_value"
        /// A number outside the field's range.
        case outOfRange = "out_of_range"
        /// A step that is zero, not a number, or larger than the field.
        case invalidStep = "invalid_step"
        /// A range whose start is after its end (`5-1`).
        case reversedRange = "reversed_range"
        /// The time zone is not an IANA name Foundation knows.
        case unknownTimeZone = "unknown_time_zone"
    }

    public var code: Code
    /// The field at fault; nil when the error is about the whole expression or the time zone.
    public var field: CronExpression.Field?
    /// What is wrong and how to fix it.
    public var message: String
    public var description: String { message }

    public init(code: Code, field: CronExpression.Field? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    static let empty = CronError(
        code: .empty,
        message: "The cron expression is empty. Write five fields: minute hour day-of-month month day-of-week "
            + "(e.g. '0 3 * * *' for 03:00 every day).")

    static func tooLong(length: Int) -> CronError {
        CronError(
            code: .tooLong,
            message: "The cron expression is \(length) characters long; the limit is \(CronExpression.maximumLength). "
                + "Split it into several schedules.")
    }

    static func wrongFieldCount(_ expression: String, count: Int) -> CronError {
        CronError(
            code: .wrongFieldCount,
            message: "The cron expression '\(expression)' has \(count) field\(count == 1 ? "" : "s"); write exactly 5: "
                + "minute hour day-of-month month day-of-week (seconds and years are not supported).")
    }

    static func unknownMacro(_ macro: String) -> CronError {
        CronError(
            code: .unknownMacro,
            message: "Unknown cron macro '\(macro)'. Use one of "
                + CronExpression.macros.map(\.name).joined(separator: ", ") + " or a five-field expression.")
    }

    static func emptyItem(_ field: CronExpression.Field, in text: Substring) -> CronError {
        CronError(
            code: .empty, field: field,
            message: "cron field '\(field)': '\(text)' has an empty list item; remove the extra comma.")
    }

    static func invalidValue(_ field: CronExpression.Field, token: Substring) -> CronError {
        let allowed =
            switch field {
            case .month: "a number \(field.allowedRange.lowerBound)-\(field.allowedRange.upperBound) or a name jan-dec"
            case .dayOfWeek:
                "a number \(field.allowedRange.lowerBound)-\(field.allowedRange.upperBound) (0 and 7 are Sunday) "
                    + "or a name sun-sat"
            default: "a number \(field.allowedRange.lowerBound)-\(field.allowedRange.upperBound)"
            }
        return CronError(
            code: .invalidValue, field: field,
            message: "cron field '\(field)': '\(token)' is not valid; write \(allowed), '*', a range 'a-b', "
                + "a list 'a,b' or a step '*/n'.")
    }

    static func outOfRange(_ field: CronExpression.Field, token: Substring) -> CronError {
        CronError(
            code: .outOfRange, field: field,
            message: "cron field '\(field)': \(token) is out of range "
                + "\(field.allowedRange.lowerBound)-\(field.allowedRange.upperBound)"
                + (field == .dayOfWeek ? " (0 and 7 are Sunday)." : "."))
    }

    static func invalidStep(_ field: CronExpression.Field, step: Substring) -> CronError {
        let largest = field.allowedRange.count - (field == .dayOfWeek ? 1 : 0)
        return CronError(
            code: .invalidStep, field: field,
            message: "cron field '\(field)': step '\(step)' is not valid; write a whole number from 1 to \(largest) "
                + "after the '/' (e.g. '*/15').")
    }

    static func reversedRange(_ field: CronExpression.Field, range: Substring) -> CronError {
        CronError(
            code: .reversedRange, field: field,
            message: "cron field '\(field)': range \(range) runs backwards; write the smaller value first. "
                + "Ranges do not wrap around: write '22-23,0-2' rather than '22-2'.")
    }

    static func unknownTimeZone(_ identifier: String) -> CronError {
        CronError(
            code: .unknownTimeZone,
            message: "Unknown time zone '\(identifier)'. Use an IANA name such as 'Europe/Berlin', 'America/New_York' "
                + "or 'UTC' (names are case-sensitive).")
    }
}
