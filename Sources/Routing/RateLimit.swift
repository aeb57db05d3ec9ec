import Foundation

/// A number of requests per period, written `1000/hour` (also `/second`, `/minute`, `/day`, and `s`, `m`, `h`,
/// `d`).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Requests allowed per window.
    public var requests: Int
    /// The window. Windows are fixed and aligned on the epoch (an hourly window starts on the hour).
    public var period: Duration

    public init(requests: Int, period: Duration) {
        precondition(requests > 0 && period > .zero)
        self.requests = requests
        self.period = period
    }

    /// Parses `1000/hour`; `nil` when the text is not of that form.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let requests = Int(parts[0]), requests > 0 else { return nil }
        let seconds: Int64
        switch parts[1].lowercased() {
        case "s", "sec", "second": seconds = 1
        case "m", "min", "minute": seconds = 60
        case "h", "hour": seconds = 3600
        case "d", "day": seconds = 86_400
        default: return nil
        }
        self.init(requests: requests, period: .seconds(seconds))
    }

    public var description: String {
        let seconds = period.components.seconds
        let unit = [86_400: "day", 3600: "hour", 60: "minute", 1: "second"][seconds] ?? "\(seconds)s"
        return "\(requests)/\(unit)"
    }
}
