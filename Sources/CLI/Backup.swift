import ArgumentParser
import Backup
import Foundation
import Lifecycle
import Logging
import ObjectStore
import Routing
import Storage

/// `unity-ai backup run|list|verify|restore|prune`: backup sets in S3 or a local directory.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the appliance's tables and Ollama models to S3 or a directory; list, verify, restore, prune sets.",
        subcommands: [Run.self, List.self, Verify.self, Restore.self, Prune.self])

    /// The options every backup command takes.
    struct TargetOptions: ParsableArguments {
        @Option(help: "s3://bucket/prefix or file:///dir (default: the configuration's backups.s3, else <data-dir>/backups).")
        var target: String?
    }

    /// Runs `body` with the database up and the backup service over the target.
    static func withService<Result: Sendable>(
        _ options: CommonOptions, _ target: TargetOptions, configure: (inout BackupService.Configuration) -> Void = { _ in },
        _ body: @Sendable @escaping (BackupService, ApplianceRuntime) async throws -> Result
    ) async throws -> Result {
        let logger = try options.makeLogger(label: "unity-ai.backup", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let service = try runtime.makeBackupService(
            target: target.target, dataDirectory: options.resolvedDataDirectory, environment: options.environment,
            configure: configure)
        return try await runtime.withDatabase { runtime in try await body(service, runtime) }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new backup set.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Flag(help: "Leave the chunk embeddings out (a restore then needs re-embedding).") var noEmbeddings = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let noEmbeddings = self.noEmbeddings
            let report = try await BackupCommand.withService(options, target, configure: { $0.includeEmbeddings = !noEmbeddings }) {
                service, _ in try await service.run()
            }
            if json { return try printJSON(report) }
            let rows = report.tables.values.reduce(0, +)
            print(
                "Backup set \(report.id): \(report.objects) objects, \(report.bytes) bytes, \(rows) rows; model blobs "
                    + "uploaded \(report.blobsUploaded), already stored \(report.blobsAlreadyStored).")
            for id in report.removedIncompleteSets { print("Removed the incomplete set \(id).") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The complete backup sets, oldest first.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Flag(help: "Include incomplete sets (interrupted runs).") var all = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let all = self.all
            let sets = try await BackupCommand.withService(options, target) { service, _ in
                try await service.list(includeIncomplete: all)
            }
            if json { return try printJSON(["sets": sets]) }
            if sets.isEmpty { print("No backup sets.") }
            for set in sets {
                print(
                    "\(set.id)\t\(set.created.map(isoDate) ?? "-")\t\(set.objects) objects\t\(set.bytes) bytes"
                        + (set.complete ? "" : "\tincomplete"))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-download and re-hash every object of a set and count its rows; exit 1 when any is wrong.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Argument(help: "The set's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = self.id
            let report = try await BackupCommand.withService(options, target) { service, _ in try await service.verify(id: id) }
            if json {
                try printJSON(report)
            } else {
                for failure in report.failures { print("FAILED \(failure)") }
                print(
                    "Set \(report.id): \(report.objects) objects, \(report.bytes) bytes, \(report.rows) rows checked; "
                        + (report.ok ? "intact." : "\(report.failures.count) failed."))
            }
            if !report.ok { throw ExitCode(1) }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a set's tables into this appliance (upserts; restoring twice changes nothing), and its "
                + "models into Ollama through its API.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Argument(help: "The set's id.") var id: String
        @Option(help: "Restore only this tenant's rows (and the shared embedding models); no models.") var tenant: String?
        @Flag(help: "Leave the models out (by default they are restored into the first Ollama endpoint).") var noModels = false
        @Flag(help: "Print JSON.") var json = false

        struct Outcome: Encodable {
            var tables: BackupRestoreReport
            var models: BackupModelRestoreReport?
            var modelsSkipped: String?
            enum CodingKeys: String, CodingKey { case tables, models, modelsSkipped = "models_skipped" }
        }

        func run() async throws {
            let (id, tenant, noModels) = (self.id, self.tenant, self.noModels)
            let outcome = try await BackupCommand.withService(options, target) { service, runtime in
                let tables = try await service.restore(id: id, tenant: tenant)
                let hasModels = try await service.manifest(of: id).objects.contains { $0.kind == "modelManifest" }
                guard hasModels else { return Outcome(tables: tables) }
                if noModels { return Outcome(tables: tables, modelsSkipped: "--no-models") }
                if tenant != nil { return Outcome(tables: tables, modelsSkipped: "a per-tenant restore restores no models") }
                guard let ollama = runtime.ollamaServers().first?.client else {
                    return Outcome(
                        tables: tables,
                        modelsSkipped: "no Ollama endpoint is configured (OLLAMA_HOST or an ollama provider)")
                }
                return Outcome(tables: tables, models: try await service.restoreModels(id: id, into: ollama))
            }
            if json { return try printJSON(outcome) }
            let report = outcome.tables
            print("Restored set \(report.id): \(report.tables.values.reduce(0, +)) rows read, \(report.rowsWritten) written.")
            if let models = outcome.models {
                print(
                    "Models: \(models.restored.count) restored into Ollama (\(models.restored.joined(separator: ", "))), "
                        + "\(models.alreadyPresent.count) already there; \(models.blobsUploaded) blobs uploaded.")
                for note in models.notes { print("Note: \(note)") }
            }
            if let skipped = outcome.modelsSkipped { print("Models not restored: \(skipped).") }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the sets the retention (backups.retention) does not keep, then the blobs no kept set uses.",
            discussion: "The options override the configuration file's keep_last, keep_daily and keep_weekly.")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Option(help: "Keep the newest N sets.") var keepLast: Int?
        @Option(help: "Keep the newest set of each of the latest N days that have sets.") var keepDaily: Int?
        @Option(help: "Keep the newest set of each of the latest N weeks that have sets.") var keepWeekly: Int?
        @Flag(help: "Show what would be deleted; delete nothing.") var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (keepLast, keepDaily, keepWeekly, dryRun) = (self.keepLast, self.keepDaily, self.keepWeekly, self.dryRun)
            let report = try await BackupCommand.withService(options, target) { service, runtime in
                var retention = runtime.routing.backups.retention
                if keepLast != nil || keepDaily != nil || keepWeekly != nil {
                    retention.keepLast = keepLast
                    retention.keepDaily = keepDaily
                    retention.keepWeekly = keepWeekly
                }
                return try await service.prune(retention: retention, dryRun: dryRun)
            }
            if json { return try printJSON(report) }
            let verb = report.dryRun ? "would delete" : "deleted"
            print("Retention: \(report.retention).")
            for kept in report.kept { print("keep   \(kept.id)  (\(kept.reasons.joined(separator: ", ")))") }
            for id in report.deleted { print("\(report.dryRun ? "delete" : "deleted") \(id)") }
            for id in report.removedIncompleteSets { print("\(report.dryRun ? "remove" : "removed") incomplete \(id)") }
            print(
                "\(report.kept.count) sets kept, \(report.deleted.count) \(verb); blobs: \(report.blobsDeleted) \(verb) "
                    + "(\(report.blobBytesDeleted) bytes), \(report.blobsKept) kept.")
            for note in report.notes { print("Note: \(note)") }
        }
    }
}
