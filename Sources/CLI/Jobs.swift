import ArgumentParser
import Backup
import Foundation
import Ingest
import Lifecycle
import Logging
import Routing
import Storage

extension ApplianceRuntime {
    /// `summary`, after giving tenants whose vectors outgrew an exact search an index of their own when the sync
    /// stored or removed anything (as `unity-ai ingest` does after its writes; a failure there is logged and the
    /// sync stands).
    func reconcilingTenantIndexes(after summary: IngestSummary) async -> IngestSummary {
        if summary.added + summary.updated + summary.removed > 0 {
            await Ingest.reconcileTenantIndexes(runtime: self, store: KnowledgeStore(client: client), logger: logger)
        }
        return summary
    }

    /// The scheduler over the configuration's schedules (and the default ones), with what each job kind does, its
    /// claims and history in `job_runs`.
    ///
    /// - Parameters:
    ///   - backups: Makes the backup service the backup kinds run over (at each run, so that a target that cannot be
    ///     set up fails that run with its reason).
    func makeScheduler(
        models: ModelLifecycleManager? = nil, backups: (@Sendable () throws -> BackupService)? = nil
    ) -> JobScheduler {
        let client = self.client
        let logger = self.logger
        let knowledgeItems = makeKnowledgeItemSync(ingestor: makeIngestor())
        let pluginMetrics = makePluginMetricsSync(ingestor: makeIngestor())
        let directories = makeDirectorySync(ingestor: makeIngestor())
        var jobs: [JobKind: JobScheduler.Work] = [
            .housekeeping: {
                let removed = try await RouterHousekeeping(client: client, logger: logger).sweep(now: Date())
                return "deleted \(removed.cacheEntries) expired cache entries and \(removed.windows) old rate-limit windows"
            },
            // A row or window that fails stays queued for the next slot; the run is recorded as failed, with the
            // counts and the first failure, so that `jobs list` shows it until it is fixed.
            .knowledgeSync: { try await self.reconcilingTenantIndexes(after: knowledgeItems.sync()).jobSummary() },
            .pluginMetricsSync: { try await self.reconcilingTenantIndexes(after: pluginMetrics.sync()).jobSummary() },
        ]
        if !directories.roots.isEmpty {
            // A root that fails is listed and the others are synced; the run is then recorded as failed with the
            // first failure (a missing root names its path).
            jobs[.directorySync] = { try await self.reconcilingTenantIndexes(after: directories.sync()).jobSummary() }
        }
        if let models {
            jobs[.modelRefresh] = { try await models.refresh() }
            jobs[.modelCleanup] = {
                let report = try await models.cleanup(dryRun: false)
                let failed = report.actions.filter { $0.done == false }
                if let first = failed.first {
                    throw SchedulerError(message: "\(failed.count) of \(report.actions.count) cleanup actions failed; first: \(first.error ?? "")")
                }
                return "\(report.actions.count) actions, \(report.measuredBytesFreed ?? report.bytesFreedTotal) bytes freed"
            }
        }
        if let backups {
            jobs.merge(BackupService.scheduledWork(retention: routing.backups.retention, make: backups)) { first, _ in first }
        }
        var schedules: [JobSchedule] = []
        for schedule in routing.effectiveSchedules {
            if jobs[schedule.kind] != nil {
                schedules.append(schedule)
            } else if routing.schedules.contains(schedule) {
                logger.warning(
                    "A scheduled job cannot run here: no Ollama endpoint is configured, no backup target, or no ingest.roots",
                    metadata: ["job.name": "\(schedule.name)", "job.kind": "\(schedule.kind)"])
            }
        }
        return JobScheduler(schedules: schedules, jobs: jobs, ledger: PostgresJobRunLedger(client: client, logger: logger), logger: logger)
    }
}

/// `unity-ai jobs list|history NAME|run NAME`: the scheduler's jobs from the command line.
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show and run the scheduled jobs (the configuration file's `schedules:`).",
        subcommands: [List.self, History.self, Run.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules with their next slot and last run.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.jobs", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let scheduler = runtime.makeScheduler(
                models: runtime.makeModelLifecycle(answerModel: options.resolvedAnswerModel)?.manager,
                backups: runtime.backupServiceMaker(options))
            let json = self.json
            let rows = try await runtime.withDatabase { runtime in
                try await JobStatus.all(scheduler: scheduler, ledger: PostgresJobRunLedger(client: runtime.client, logger: logger))
            }
            if json { return try printJSON(rows) }
            for row in rows {
                let last = row.lastRun.map { "last \($0.status.rawValue) at \(isoDate($0.startedAt))" } ?? "never run"
                print("\(row.name) (\(row.job)): \(row.cron) \(row.timeZone); next \(row.nextSlot.map(isoDate) ?? "none"); \(last)")
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a job's runs, newest first.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The schedule's name.") var name: String
        @Option(help: "Runs to show (1-1000).") var limit = 20
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000.") }
        }

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.jobs", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let (name, limit) = (self.name, self.limit)
            guard runtime.routing.effectiveSchedules.contains(where: { $0.name == name }) else {
                throw ValidationError("No schedule named '\(name)'; see `unity-ai jobs list`.")
            }
            let runs = try await runtime.withDatabase { runtime in
                try await PostgresJobRunLedger(client: runtime.client, logger: logger).history(job: name, limit: limit)
            }
            if json { return try printJSON(runs) }
            if runs.isEmpty { print("\(name) has not run yet.") }
            for run in runs {
                let took = run.finishedAt.map { String(format: " in %.1f s", $0.timeIntervalSince(run.startedAt)) } ?? ""
                print(
                    "\(isoDate(run.slot)) \(run.status.rawValue)\(took) on \(run.instance)\(run.manual ? " (manual)" : "")"
                        + (run.summary.map { ": \($0)" } ?? "") + (run.error.map { " — error: \($0)" } ?? ""))
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a scheduled job now, once (it is recorded in the history as manual).",
            discussion: "Exit status 0 when it succeeded, 1 when it failed or is running elsewhere.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The schedule's name.") var name: String
        @Flag(help: "Print the run as JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.jobs", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let name = self.name
            let models = runtime.makeModelLifecycle(answerModel: options.resolvedAnswerModel)?.manager
            let backups = runtime.backupServiceMaker(options)
            let run = try await runtime.withDatabase { runtime in
                try await runtime.makeScheduler(models: models, backups: backups).runNow(name: name)
            }
            if json {
                try printJSON(run)
            } else {
                print("\(run.job): \(run.status.rawValue)" + (run.summary.map { ": \($0)" } ?? "") + (run.error.map { " — \($0)" } ?? ""))
            }
            if run.status != .succeeded { throw ExitCode.failure }
        }
    }
}

func isoDate(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
