import Foundation
import Logging
import Synchronization

/// A budget period: the UTC day or month.
public enum BudgetPeriod: String, Sendable, CaseIterable {
    case day, month

    /// When the period holding `date` started, and when it ends.
    public func bounds(of date: Date) -> (start: Date, end: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let component: Calendar.Component = self == .day ? .day : .month
        let interval = calendar.dateInterval(of: component, for: date)!
        return (interval.start, interval.end)
    }
}

/// Where tenants' spending is kept for every instance (`tenant_budget_periods`), or memory.
public protocol BudgetLedger: Sendable {
    /// Reserves `amountUSD` against `limitUSD` for the tenant's period, atomically across instances; `false` when
    /// spent plus reserved plus this would exceed the limit (nothing is reserved then).
    func reserve(tenant: String, period: BudgetPeriod, start: Date, limitUSD: Double, amountUSD: Double) async throws -> Bool
    /// Replaces a reservation by the real cost.
    func settle(tenant: String, period: BudgetPeriod, start: Date, reservedUSD: Double, actualUSD: Double) async throws
}

/// Enforces tenants' daily and monthly budgets: the estimated cost is reserved before the call (refused when it
/// would not fit) and settled to the real cost after, so concurrent requests and instances cannot overspend by
/// more than the estimates undershoot.
public struct BudgetGuard: Sendable {
    /// What was reserved for one request, to settle later.
    public struct Reservation: Sendable {
        var tenant: String
        var periods: [(period: BudgetPeriod, start: Date)]
        var amountUSD: Double
    }

    let ledger: any BudgetLedger
    let clock: any RouterClock

    public init(ledger: any BudgetLedger, clock: any RouterClock) {
        self.ledger = ledger
        self.clock = clock
    }

    /// Reserves `amountUSD` in each period the tenant's budget limits; throws ``RoutingError/Code/budgetExceeded``
    /// (undoing what it reserved) when one is spent.
    public func reserve(tenant: String, budget: RoutingConfiguration.Budget, amountUSD: Double) async throws -> Reservation {
        let date = clock.date()
        var reserved: [(period: BudgetPeriod, start: Date)] = []
        for (period, limit) in [(BudgetPeriod.day, budget.dailyUSD), (.month, budget.monthlyUSD)] {
            guard let limit else { continue }
            let (start, end) = period.bounds(of: date)
            let reservedHere: Bool
            let ledger = ledger
            do {
                reservedHere = try await withLedgerDeadline(Self.timeout) {
                    try await ledger.reserve(tenant: tenant, period: period, start: start, limitUSD: limit, amountUSD: amountUSD)
                }
            } catch {
                await undo(reserved, tenant: tenant, amountUSD: amountUSD)
                // Budgets hold: without the ledger a budgeted tenant is refused rather than allowed to overspend.
                var refusal = RoutingError(
                    code: .budgetUnavailable,
                    message: "The budget ledger cannot be reached, so requests of the budgeted tenant '\(tenant)' are refused "
                        + "until it can. Check the database.")
                refusal.retryAfter = .seconds(5)
                throw refusal
            }
            if reservedHere {
                reserved.append((period, start))
                continue
            }
            await undo(reserved, tenant: tenant, amountUSD: amountUSD)
            var error = RoutingError(
                code: .budgetExceeded,
                message: "The tenant '\(tenant)' has spent its \(period == .day ? "daily" : "monthly") budget of \(RoutePlanner.format(limit)) USD "
                    + "(this request would cost about \(RoutePlanner.format(amountUSD)) USD). It resets at \(ISO8601DateFormatter().string(from: end)).")
            error.retryAfter = .seconds(max(1, Int64(end.timeIntervalSince(date).rounded(.up))))
            throw error
        }
        return Reservation(tenant: tenant, periods: reserved, amountUSD: amountUSD)
    }

    /// How long a reservation may take before the ledger counts as unreachable.
    static let timeout: Duration = .seconds(2)

    /// Releases reservations made for a request that is refused after all.
    private func undo(_ reserved: [(period: BudgetPeriod, start: Date)], tenant: String, amountUSD: Double) async {
        let ledger = ledger
        for (period, start) in reserved {
            _ = try? await withLedgerDeadline(Self.timeout) {
                try await ledger.settle(tenant: tenant, period: period, start: start, reservedUSD: amountUSD, actualUSD: 0)
            }
        }
    }

    /// Settles a reservation to the real cost.
    public func settle(_ reservation: Reservation, actualUSD: Double) async throws {
        for (period, start) in reservation.periods {
            try await ledger.settle(
                tenant: reservation.tenant, period: period, start: start, reservedUSD: reservation.amountUSD, actualUSD: actualUSD)
        }
    }
}

/// Budgets in this process's memory: for tests and a single instance without a shared database.
public final class InMemoryBudgetLedger: BudgetLedger {
    private let periods = Mutex<[String: (reserved: Double, spent: Double)]>([:])

    public init() {}

    public func reserve(tenant: String, period: BudgetPeriod, start: Date, limitUSD: Double, amountUSD: Double) async throws -> Bool {
        periods.withLock { periods in
            let key = "\(tenant)/\(period)/\(start.timeIntervalSince1970)"
            let current = periods[key] ?? (0, 0)
            guard current.reserved + current.spent + amountUSD <= limitUSD else { return false }
            periods[key] = (current.reserved + amountUSD, current.spent)
            return true
        }
    }

    public func settle(tenant: String, period: BudgetPeriod, start: Date, reservedUSD: Double, actualUSD: Double) async throws {
        periods.withLock { periods in
            let key = "\(tenant)/\(period)/\(start.timeIntervalSince1970)"
            let current = periods[key] ?? (0, 0)
            periods[key] = (max(0, current.reserved - reservedUSD), current.spent + actualUSD)
        }
    }
}
