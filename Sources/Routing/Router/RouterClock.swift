import Foundation
import Synchronization

/// Time as the router reads it: a monotonic instant for latencies, cooldowns and breakers, and the wall clock for
/// windows shared with other instances (rate limits, budgets). Tests pass a ``ManualRouterClock``.
public protocol RouterClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    /// The wall clock.
    func date() -> Date
}

/// The system's clocks. Every instance measures from one origin per process: the registry's and the router's clocks
/// read the same endpoint pools, so their instants must agree.
public struct SystemRouterClock: RouterClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - Self.origin }
    public func date() -> Date { Date() }
}

/// A clock that moves only when told: routing decisions are tested without sleeping.
public final class ManualRouterClock: RouterClock {
    private let state: Mutex<(now: Duration, date: Date)>

    public init(date: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex((.seconds(1000), date))
    }

    public func now() -> Duration { state.withLock { $0.now } }
    public func date() -> Date { state.withLock { $0.date } }

    public func advance(by duration: Duration) {
        state.withLock {
            $0.now += duration
            $0.date = $0.date.addingTimeInterval(duration.seconds)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in milliseconds, as a floating-point number.
    public var milliseconds: Double { seconds * 1000 }
}
