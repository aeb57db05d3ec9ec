import Foundation
import Synchronization

/// A kind of work the scheduler can run: `housekeeping`, `model_refresh`, `model_cleanup`, `knowledge_sync`,
/// `plugin_metrics_sync`, `directory_sync`, `backup`, `backup_verify`, `backup_prune`.
public struct JobKind: Hashable, Sendable, CustomStringConvertible, Codable {
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { name }

    public static let housekeeping = JobKind("housekeeping")
    public static let modelRefresh = JobKind("model_refresh")
    public static let modelCleanup = JobKind("model_cleanup")
    /// Syncs the changed rows of `knowledge_items` into the knowledge base.
    public static let knowledgeSync = JobKind("knowledge_sync")
    /// Summarises the `plugin_metrics` windows that got rows into the knowledge base.
    public static let pluginMetricsSync = JobKind("plugin_metrics_sync")
    /// Ingests the configuration's `ingest.roots` (directories and files), as `unity-ai ingest PATH` does.
    public static let directorySync = JobKind("directory_sync")
    /// Writes a new backup set to the configured target.
    public static let backup = JobKind("backup")
    /// Re-downloads and re-hashes the newest complete backup set.
    public static let backupVerify = JobKind("backup_verify")
    /// Deletes the backup sets the retention does not keep, then the blobs no kept set references.
    public static let backupPrune = JobKind("backup_prune")
}

/// One entry of the configuration file's `schedules:` list: a named job of a kind, at the slots of a cron schedule.
public struct JobSchedule: Sendable, Hashable {
    /// Unique among the schedules; the key of the run history.
    public var name: String
    public var kind: JobKind
    public var cron: CronSchedule
    /// How old a slot may be and still run: a slot missed while every instance was down runs once at start-up when
    /// it is younger than this. Defaults to a minute (the slack of an instance that is up), so that nothing older
    /// is caught up unless asked.
    public var catchUp: Duration = JobSchedule.onTimeSlack

    /// How late a slot may be found by an instance that was up at the time.
    public static let onTimeSlack: Duration = .seconds(60)

    public init(name: String, kind: JobKind, cron: CronSchedule, catchUp: Duration = JobSchedule.onTimeSlack) {
        self.name = name
        self.kind = kind
        self.cron = cron
        self.catchUp = catchUp
    }

    /// The slot this schedule should run at `now`: its latest slot not after `now`, when that is not older than
    /// the catch-up window (at least the on-time slack) and later than `after`; `nil` otherwise. Pure.
    public func dueSlot(at now: Date, after handled: Date?) -> Date? {
        guard let slot = cron.previousSlot(atOrBefore: now) else { return nil }
        if let handled, slot <= handled { return nil }
        let window = max(catchUp, Self.onTimeSlack)
        let age = now.timeIntervalSince(slot)
        guard age <= Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18 else { return nil }
        return slot
    }
}

/// One run of a job, as the history keeps it.
public struct JobRun: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case running, succeeded, failed, cancelled
        /// Started by an instance that went away before it finished (found when the job ran next).
        case abandoned
    }

    public var id: Int64
    public var job: String
    public var slot: Date
    public var manual: Bool
    public var instance: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: Status
    public var summary: String?
    public var error: String?

    public init(
        id: Int64, job: String, slot: Date, manual: Bool, instance: String, startedAt: Date, finishedAt: Date? = nil,
        status: Status, summary: String? = nil, error: String? = nil
    ) {
        self.id = id
        self.job = job
        self.slot = slot
        self.manual = manual
        self.instance = instance
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.summary = summary
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case id, job, slot, manual, instance, status, summary, error
        case startedAt = "started_at", finishedAt = "finished_at"
    }
}

/// Where runs are claimed and recorded for every instance (PostgreSQL's `job_runs`, or memory for tests).
public protocol JobRunLedger: Sendable {
    /// Claims `(job, slot)` for `instance`, atomically across instances; `nil` when another claim of the pair
    /// exists (the slot ran, or runs, elsewhere).
    func claim(job: String, slot: Date, manual: Bool, instance: String, at: Date) async throws -> Int64?
    /// Records how a claimed run ended.
    func finish(run: Int64, status: JobRun.Status, summary: String?, error: String?, at: Date) async throws
    /// The latest runs of `job` (all jobs when `nil`), newest first.
    func history(job: String?, limit: Int) async throws -> [JobRun]
    /// Runs `body` holding the job's cluster-wide lock (PostgreSQL: an advisory lock), so that two slots of one job
    /// never overlap; `nil` without running it when another instance holds the lock.
    func withJobLock<Result: Sendable>(
        job: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result?
}

/// Runs in this process's memory: one instance, tests.
public final class InMemoryJobRunLedger: JobRunLedger {
    private let state = Mutex<(runs: [JobRun], locks: Set<String>)>(([], []))

    public init() {}

    public func claim(job: String, slot: Date, manual: Bool, instance: String, at: Date) async throws -> Int64? {
        state.withLock { state in
            guard !state.runs.contains(where: { $0.job == job && $0.slot == slot }) else { return nil }
            let id = Int64(state.runs.count + 1)
            state.runs.append(
                JobRun(id: id, job: job, slot: slot, manual: manual, instance: instance, startedAt: at, status: .running))
            return id
        }
    }

    public func finish(run: Int64, status: JobRun.Status, summary: String?, error: String?, at: Date) async throws {
        state.withLock { state in
            guard let index = state.runs.firstIndex(where: { $0.id == run }) else { return }
            state.runs[index].status = status
            state.runs[index].summary = summary
            state.runs[index].error = error
            state.runs[index].finishedAt = at
        }
    }

    public func history(job: String?, limit: Int) async throws -> [JobRun] {
        state.withLock { state in
            Array(state.runs.filter { job == nil || $0.job == job }.reversed().prefix(max(0, limit)))
        }
    }

    public func withJobLock<Result: Sendable>(
        job: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result? {
        let acquired = state.withLock { state -> Bool in
            guard state.locks.insert(job).inserted else { return false }
            // Holding the lock, a run of this job still marked running belongs to a scheduler that went away.
            for index in state.runs.indices where state.runs[index].job == job && state.runs[index].status == .running {
                state.runs[index].status = .abandoned
            }
            return true
        }
        guard acquired else { return nil }
        defer { _ = state.withLock { $0.locks.remove(job) } }
        return try await body()
    }
}
