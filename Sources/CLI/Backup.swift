import ArgumentParser
import Backup
import Foundation
import Logging
import ObjectStore
import Routing
import Storage

/// `unity-ai backup run|list|verify|restore`: backup sets in S3 or a local directory.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the appliance's tables and Ollama models to S3 or a directory; list, verify, restore sets.",
        subcommands: [Run.self, List.self, Verify.self, Restore.self])

    /// The options every backup command takes.
    struct TargetOptions: ParsableArguments {
        @Option(help: "s3://bucket/prefix or file:///dir (default: <data-dir>/backups).") var target: String?
    }

    /// Runs `body` with the database up and the backup service over the target.
    static func withService<Result: Sendable>(
        _ options: CommonOptions, _ target: TargetOptions, configure: (inout BackupService.Configuration) -> Void = { _ in },
        _ body: @Sendable @escaping (BackupService) async throws -> Result
    ) async throws -> Result {
        let logger = try options.makeLogger(label: "unity-ai.backup", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let environment = options.environment
        let backupTarget = try BackupTargets.make(
            url: target.target, dataDirectory: options.resolvedDataDirectory,
            s3Configuration: { try S3Client.Configuration.fromEnvironment(environment) })
        var configuration = BackupService.Configuration()
        configuration.ollamaModelsDirectory = runtime.routing.lifecycle.ollamaModelsDirectory
        configure(&configuration)
        let service = BackupService(
            configuration: configuration, database: runtime.client, target: backupTarget, logger: logger)
        return try await runtime.withDatabase { _ in try await body(service) }
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
                try await $0.run()
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
            let sets = try await BackupCommand.withService(options, target) { try await $0.list(includeIncomplete: all) }
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
            let report = try await BackupCommand.withService(options, target) { try await $0.verify(id: id) }
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
            abstract: "Restore a set's tables into this appliance (upserts; restoring twice changes nothing).")
        @OptionGroup var options: CommonOptions
        @OptionGroup var target: TargetOptions
        @Argument(help: "The set's id.") var id: String
        @Option(help: "Restore only this tenant's rows (and the shared embedding models).") var tenant: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = self.id
            let tenant = self.tenant
            let report = try await BackupCommand.withService(options, target) { try await $0.restore(id: id, tenant: tenant) }
            if json { return try printJSON(report) }
            print("Restored set \(report.id): \(report.tables.values.reduce(0, +)) rows read, \(report.rowsWritten) written.")
        }
    }
}
