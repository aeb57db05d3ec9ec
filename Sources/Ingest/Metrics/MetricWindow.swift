import Foundation

/// An hour or a day (UTC) that plugin metrics are summarised over.
public struct MetricWindow: Sendable, Hashable {
    /// How long a window is.
    public enum Granularity: String, Sendable, Hashable {
        case hour, day

        /// The window's length in seconds (UTC has no daylight saving: a day is always 86,400 s).
        public var seconds: TimeInterval { self == .hour ? 3_600 : 86_400 }
    }

    public var granularity: Granularity
    /// The window's first instant, on an hour or day boundary.
    public var start: Date

    /// The window of `granularity` that contains `date`.
    public init(_ granularity: Granularity, containing date: Date) {
        self.granularity = granularity
        let seconds = date.timeIntervalSince1970
        // Whole seconds only: floor of a finite date; Date cannot hold NaN from the database.
        let start = (seconds / granularity.seconds).rounded(.down) * granularity.seconds
        self.start = Date(timeIntervalSince1970: start)
    }

    /// The instant after the window.
    public var end: Date { start.addingTimeInterval(granularity.seconds) }

    /// The window in source URIs: `2025-01-07` for a day, `2025-01-07T13:00Z` for an hour.
    public var label: String {
        let parts = Self.utcParts(start)
        return granularity == .day ? parts.date : "\(parts.date)T\(parts.time)Z"
    }

    /// The window in prose: `2025-01-07 (UTC day)` or `2025-01-07 13:00-14:00 UTC`.
    public var description: String {
        let parts = Self.utcParts(start)
        guard granularity == .hour else { return "\(parts.date) (UTC day)" }
        return "\(parts.date) \(parts.time)-\(Self.utcParts(end).time) UTC"
    }

    /// `2025-01-07` and `13:05` of an instant in UTC.
    static func utcParts(_ date: Date) -> (date: String, time: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return (
            String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0),
            String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
        )
    }

    /// An instant as prose: `13:05 UTC` within the window's day, else `2025-01-08 06:00 UTC`.
    func describe(_ date: Date) -> String {
        let parts = Self.utcParts(date)
        return parts.date == Self.utcParts(start).date ? "\(parts.time) UTC" : "\(parts.date) \(parts.time) UTC"
    }

    /// ISO 8601 in UTC to the second (`2025-01-07T13:00:00Z`): sorts as text in time order.
    static func iso(_ date: Date) -> String {
        let parts = utcParts(date)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let second = calendar.component(.second, from: date)
        return "\(parts.date)T\(parts.time):\(String(format: "%02d", second))Z"
    }
}
