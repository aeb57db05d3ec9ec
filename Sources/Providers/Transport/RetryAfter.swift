import Foundation
import NIOHTTP1

/// Reads how long an upstream asks callers to wait.
public enum RetryAfter {
    /// The longest wait taken from an upstream: a day. Longer (or `inf`, or `1e300`) is clamped to it.
    public static let maximumMilliseconds = 86_400_000.0

    /// `milliseconds` as a wait, clamped into `0...maximumMilliseconds`; `nil` when it is not a number.
    static func wait(milliseconds: Double) -> Duration? {
        guard !milliseconds.isNaN, milliseconds >= 0 else { return nil }
        return .milliseconds(Int64(min(milliseconds, maximumMilliseconds).rounded(.up)))
    }

    /// From `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date).
    public static func parse(_ headers: HTTPHeaders, now: Date = .now) -> Duration? {
        if let milliseconds = headers.first(name: "retry-after-ms").flatMap(Double.init), let wait = wait(milliseconds: milliseconds) {
            return wait
        }
        guard let value = headers.first(name: "retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), let wait = wait(milliseconds: seconds * 1000) { return wait }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = formatter.date(from: value) {
            return wait(milliseconds: max(0, date.timeIntervalSince(now)) * 1000)
        }
        return nil
    }

    /// A wait as error messages put it: whole seconds as `12 s`, else milliseconds (`250 ms`).
    static func describe(_ duration: Duration) -> String {
        let milliseconds =
            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }

    /// A protobuf `Duration` string such as `"15s"` or `"0.250s"` (Gemini's `RetryInfo.retryDelay`).
    public static func parseProtobufDuration(_ text: String) -> Duration? {
        guard text.hasSuffix("s"), let seconds = Double(text.dropLast()) else { return nil }
        return wait(milliseconds: seconds * 1000)
    }
}
