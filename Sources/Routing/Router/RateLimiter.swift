import Foundation
import Logging
import Synchronization

/// Where rate-limit windows are counted for every instance: the shared PostgreSQL (`rate_limit_windows`), or memory.
public protocol RateLimitLedger: Sendable {
    /// Takes up to `amount` of the `limit` requests of the window starting at `windowStart` for `key`, atomically
    /// across instances. Returns how many were granted (0 when the window is used up) and how many the window has
    /// handed out in all.
    func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int)
}

/// What a rate limit says of one request, for the `X-RateLimit-*` headers.
public struct RateLimitStatus: Sendable, Equatable {
    /// `tenant:acme` or `provider:openai`.
    public var scope: String
    public var limit: Int
    /// Requests left in the window as this instance knows it (its unused lease plus the window's unclaimed rest).
    public var remaining: Int
    /// When the window ends.
    public var reset: Date
}

/// Per-key fixed-window rate limits shared by every instance on one database, without a database round trip per
/// request: each instance claims the window's requests in leases of 1 % of the limit (1 to 1,000) and admits
/// requests from its lease locally.
///
/// Accuracy: the ledger never hands out more than `limit` per window, so instances together never admit more than
/// the limit. An instance may hold up to one unused lease, so a busy instance can be refused while another holds
/// requests it has not used: at most `(instances - 1) × lease` requests per window go unused. If the ledger cannot
/// be reached the request is admitted (and logged), and so is every request for the next 5 seconds without asking
/// it again: the limit protects upstreams, it should not take the appliance down with the database.
public final class RateLimiter: Sendable {
    public typealias Decision = (allowed: Bool, status: RateLimitStatus)

    struct Bucket {
        var window: Int64
        /// When the window ends.
        var reset: Date
        var leased = 0
        /// The window's total handed out to all instances, as of this instance's last claim.
        var knownUsed = 0
        /// A claim is on its way to the ledger; requests that find the lease empty wait for it.
        var claiming = false
        /// Requests waiting for that claim, by waiter id (a cancelled one removes itself).
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    let ledger: any RateLimitLedger
    let clock: any RouterClock
    let logger: Logger
    private let buckets = Mutex<[String: Bucket]>([:])
    private let nextWaiterID = Atomic(0)
    /// After a failed claim, requests are admitted without asking the ledger until this instant.
    private let ledgerDownUntil = Mutex<Duration?>(nil)
    /// How long a failed claim keeps the limiter from asking the ledger again.
    static let ledgerRetryDelay: Duration = .seconds(5)
    /// How long a claim may take before the ledger counts as unreachable.
    static let ledgerTimeout: Duration = .seconds(2)
    /// Buckets kept before those of past windows are dropped.
    static let bucketsBeforePruning = 10_000

    public init(ledger: any RateLimitLedger, clock: any RouterClock, logger: Logger) {
        self.ledger = ledger
        self.clock = clock
        self.logger = logger
    }

    /// Requests one claim takes from the shared window.
    /// A lease is 1 % of the limit: requests go to the database about once per 1 % of the window's traffic, and an
    /// instance holds back at most 1 % of the limit. A small limit (under 200) is claimed a request at a time — it
    /// also means few requests, so the round trips cost little.
    public static func leaseSize(for limit: RateLimit) -> Int {
        min(max(limit.requests / 100, 1), 1000)
    }

    /// Admits or refuses one request under `limit` for `key`. A caller cancelled while it waits for another
    /// request's claim is let go at once (admitted without using the lease: its cancellation stops it at its next
    /// step), never held until the claim returns.
    public func acquire(_ key: String, limit: RateLimit) async -> Decision {
        let period = limit.period.seconds
        while true {
            let date = clock.date()
            let window = Int64((date.timeIntervalSince1970 / period).rounded(.down))
            let windowStart = Date(timeIntervalSince1970: Double(window) * period)
            let reset = windowStart.addingTimeInterval(period)
            enum Step {
                case decided(Decision)
                /// This request claims the next lease for everyone.
                case claim
                /// Another request is claiming: wait for it, then look again.
                case wait
            }
            if let until = ledgerDownUntil.withLock({ $0 }), clock.now() < until {
                return (true, RateLimitStatus(scope: key, limit: limit.requests, remaining: limit.requests, reset: reset))
            }
            var stale: [CheckedContinuation<Void, Never>] = []
            if Task.isCancelled {
                return (true, RateLimitStatus(scope: key, limit: limit.requests, remaining: limit.requests, reset: reset))
            }
            var clockBehind = false
            let step = buckets.withLock { buckets -> Step in
                if let previous = buckets[key], previous.window > window {
                    // Another request already moved this key to a later window: read the clock again.
                    clockBehind = true
                    return .wait
                }
                if let previous = buckets[key], previous.window != window {
                    // A new window: requests still waiting on the old one's claim look again.
                    stale = Array(previous.waiters.values)
                    buckets[key] = nil
                }
                if buckets[key] == nil, buckets.count >= Self.bucketsBeforePruning {
                    // Keys seen once (a tenant name a client made up) must not accumulate: drop ended windows.
                    buckets = buckets.filter { $0.value.reset > date || $0.value.claiming }
                }
                var bucket = buckets[key] ?? Bucket(window: window, reset: reset)
                defer { buckets[key] = bucket }
                if bucket.leased > 0 {
                    bucket.leased -= 1
                    return .decided((true, Self.status(key, limit, bucket, reset)))
                }
                if bucket.knownUsed >= limit.requests { return .decided((false, Self.status(key, limit, bucket, reset))) }
                if bucket.claiming { return .wait }
                bucket.claiming = true
                return .claim
            }
            for waiter in stale { waiter.resume() }
            if clockBehind {
                // The wall clock stepped back across a window boundary: wait for it rather than spin.
                try? await Task.sleep(for: .milliseconds(10))
                continue
            }
            switch step {
            case .decided(let decision):
                return decision
            case .wait:
                let id = nextWaiterID.wrappingAdd(1, ordering: .relaxed).newValue
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let waiting = buckets.withLock { buckets in
                            // Checked under the lock: a cancellation after this point finds the waiter and resumes it.
                            guard !Task.isCancelled, buckets[key]?.window == window, buckets[key]?.claiming == true else {
                                return false
                            }
                            buckets[key]?.waiters[id] = continuation
                            return true
                        }
                        if !waiting { continuation.resume() }
                    }
                } onCancel: {
                    buckets.withLock { $0[key]?.waiters.removeValue(forKey: id) }?.resume()
                }
            case .claim:
                // Claimed on this request's own task: no extra task, and one database round trip per lease.
                let result: (granted: Int, used: Int)?
                do {
                    let ledger = ledger
                    let amount = Self.leaseSize(for: limit)
                    result = try await withLedgerDeadline(Self.ledgerTimeout) {
                        try await ledger.claim(key: key, windowStart: windowStart, limit: limit.requests, amount: amount)
                    }
                } catch {
                    result = nil
                    let now = clock.now()
                    ledgerDownUntil.withLock { $0 = now + Self.ledgerRetryDelay }
                    logger.warning(
                        "Rate limit ledger unavailable, admitting the request",
                        metadata: ["rate_limit.scope": "\(key)", "error": "\(String(reflecting: error))"])
                }
                let waiters = buckets.withLock { buckets -> [CheckedContinuation<Void, Never>] in
                    guard var bucket = buckets[key], bucket.window == window else { return [] }
                    if let result {
                        bucket.leased += result.granted
                        bucket.knownUsed = max(bucket.knownUsed, result.used)
                    }
                    bucket.claiming = false
                    let waiting = Array(bucket.waiters.values)
                    bucket.waiters = [:]
                    buckets[key] = bucket
                    return waiting
                }
                for waiter in waiters { waiter.resume() }
                if result == nil {
                    return (true, RateLimitStatus(scope: key, limit: limit.requests, remaining: limit.requests, reset: reset))
                }
            }
        }
    }

    private static func status(_ key: String, _ limit: RateLimit, _ bucket: Bucket, _ reset: Date) -> RateLimitStatus {
        RateLimitStatus(
            scope: key, limit: limit.requests, remaining: max(0, limit.requests - bucket.knownUsed) + bucket.leased, reset: reset)
    }
}

/// A ledger in this process's memory: for a single instance without a shared database, and for tests.
public final class InMemoryRateLimitLedger: RateLimitLedger {
    private let windows = Mutex<[String: Int]>([:])

    public init() {}

    public func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
        windows.withLock { windows in
            let id = "\(key)@\(windowStart.timeIntervalSince1970)"
            let used = windows[id, default: 0]
            let granted = max(0, min(amount, limit - used))
            windows[id] = used + granted
            return (granted, used + granted)
        }
    }
}
