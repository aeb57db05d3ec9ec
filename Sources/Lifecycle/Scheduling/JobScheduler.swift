import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the configuration's `schedules:` unattended: each slot of each schedule once across every instance on one
/// database (the ledger's claim), never two runs of one job at once (the ledger's job lock), a slot missed while
/// every instance was down once at start-up when it is younger than its `catch_up`, a failure recorded and tried
/// again at the next slot, and running jobs cancelled at shutdown.
///
/// A slot that comes while the job's previous run still runs is skipped (the run holding the job lock goes on).
public final class JobScheduler: Service {
    public struct Configuration: Sendable {
        /// How often due slots are looked for. Defaults to 15 seconds (slots are minutes apart at the finest).
        public var tick: Duration = .seconds(15)
        /// This process, in the run history: host name and process id by default.
        public var instance: String = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        public init() {}
    }

    /// What a job does; returns a one-line summary for the history.
    public typealias Work = @Sendable () async throws -> String

    public let configuration: Configuration
    public let schedules: [JobSchedule]
    let jobs: [JobKind: Work]
    let ledger: any JobRunLedger
    let now: @Sendable () -> Date
    let logger: Logger
    /// The latest slot this instance has dealt with, per schedule name.
    private let handled = Mutex<[String: Date]>([:])

    public init(
        configuration: Configuration = .init(), schedules: [JobSchedule], jobs: [JobKind: Work], ledger: any JobRunLedger,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.configuration = configuration
        self.schedules = schedules
        self.jobs = jobs
        self.ledger = ledger
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        let tick = configuration.tick
        let (ticks, continuation) = AsyncStream.makeStream(of: Void.self)
        let timer = Task {
            continuation.yield()  // at once: catch-up at start-up
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                continuation.yield()
            }
        }
        defer { timer.cancel() }
        try await run(ticks: ticks)
    }

    /// One look for due slots per tick (tests pass an `AsyncStream`); returns when the ticks end or at graceful
    /// shutdown, after cancelling the runs in progress.
    public func run<Ticks: AsyncSequence & Sendable>(ticks: Ticks) async throws where Ticks.Element: Sendable {
        await withTaskGroup(of: Void.self) { group in
            do {
                for try await _ in ticks.cancelOnGracefulShutdown() {
                    for (schedule, slot) in takeDueSlots() {
                        group.addTask { _ = await self.execute(schedule, slot: slot, manual: false) }
                    }
                }
            } catch {
                logger.warning("Scheduler ticks failed", metadata: ["error": "\(error)"])
            }
            group.cancelAll()
        }
    }

    /// The slots due now, each marked handled by this instance so that it is tried once here.
    public func takeDueSlots() -> [(JobSchedule, Date)] {
        let date = now()
        return handled.withLock { handled in
            schedules.compactMap { schedule in
                guard let slot = schedule.dueSlot(at: date, after: handled[schedule.name]) else { return nil }
                handled[schedule.name] = slot
                return (schedule, slot)
            }
        }
    }

    /// Runs one slot of `schedule` if no instance has: takes the job lock, claims the slot, runs the work and records
    /// how it ended. `nil` when the slot was not run here (another instance has it, or the job is running).
    @discardableResult
    public func execute(_ schedule: JobSchedule, slot: Date, manual: Bool) async -> JobRun? {
        guard let work = jobs[schedule.kind] else {
            logger.error("No work for a scheduled job kind", metadata: ["job.name": "\(schedule.name)", "job.kind": "\(schedule.kind)"])
            return nil
        }
        let ledger = self.ledger
        let instance = configuration.instance
        let now = self.now
        let logger = self.logger
        do {
            let run = try await ledger.withJobLock(job: schedule.name) { () async throws -> JobRun? in
                guard let id = try await ledger.claim(job: schedule.name, slot: slot, manual: manual, instance: instance, at: now()) else {
                    return nil
                }
                let started = now()
                var record = JobRun(id: id, job: schedule.name, slot: slot, manual: manual, instance: instance, startedAt: started, status: .running)
                do {
                    record.summary = try await work()
                    record.status = .succeeded
                } catch is CancellationError {
                    record.status = .cancelled
                } catch {
                    record.status = Task.isCancelled ? .cancelled : .failed
                    record.error = String(describing: error)
                }
                record.finishedAt = now()
                // Recorded outside the run's task: a run cancelled at shutdown must still be written as cancelled.
                let finished = record
                try await Task {
                    try await ledger.finish(
                        run: id, status: finished.status, summary: finished.summary, error: finished.error, at: finished.finishedAt ?? started)
                }.value
                logger.log(
                    level: finished.status == .succeeded ? .info : .warning, "Scheduled job finished",
                    metadata: [
                        "job.name": "\(schedule.name)", "job.slot": "\(slot)", "job.status": "\(finished.status.rawValue)",
                        "job.summary": "\(finished.summary ?? "")", "error": "\(finished.error ?? "")",
                    ])
                return finished
            }
            return run ?? nil
        } catch {
            logger.warning(
                "Scheduled job could not be claimed or recorded; its next slot tries again",
                metadata: ["job.name": "\(schedule.name)", "error": "\(error)"])
            return nil
        }
    }

    /// Runs the schedule called `name` now, as `unity-ai jobs run NAME` does; its slot is this second.
    /// - Throws: ``SchedulerError`` when there is no such schedule, or the job is running elsewhere.
    public func runNow(name: String) async throws -> JobRun {
        guard let schedule = schedules.first(where: { $0.name == name }) else {
            throw SchedulerError(
                message: "No schedule named '\(name.prefix(80))'; the configuration has \(schedules.map(\.name).joined(separator: ", ")).")
        }
        let slot = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        guard let run = await execute(schedule, slot: slot, manual: true) else {
            throw SchedulerError(message: "The job '\(name)' is running now (here or on another instance); try again when it ends.")
        }
        return run
    }
}

/// Why the scheduler could not do what was asked.
public struct SchedulerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
