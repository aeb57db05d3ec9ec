import ArgumentParser
import Foundation
import Logging
import Retrieval
import Storage

/// `unity-ai conversations export|import`: chat conversations as JSON Lines, to move or keep them.
struct Conversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export and import chat conversations (JSON Lines: one conversation a line, with stable ids).",
        subcommands: [Export.self, Import.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write conversations as JSON Lines, each with its messages, citations and timestamps.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Export only this tenant's conversations (default: every tenant's).") var tenant: String?
        @Option(help: "Write to this file instead of standard output.") var output: String?

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.conversations", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let handle: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil) else {
                    throw ValidationError("Cannot create '\(output)'; check that its directory exists and is writable.")
                }
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            } else {
                handle = .standardOutput
            }
            let tenant = self.tenant
            let count = try await runtime.withDatabase { runtime in
                var count = 0
                try await ConversationArchive(client: runtime.client, logger: logger).export(tenant: tenant) { line in
                    handle.write(Data((line + "\n").utf8))
                    count += 1
                }
                return count
            }
            if output != nil {
                try handle.close()
                FileHandle.standardError.write(Data("Exported \(count) conversations.\n".utf8))
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import conversations from an export; importing the same file again adds nothing.",
            discussion: """
                A conversation whose id is already present with the same content is skipped; with other content it is \
                a conflict: reported, and never overwritten. A malformed line stops the import before anything is \
                stored. Exit status 3 when there were conflicts.
                """)
        @OptionGroup var options: CommonOptions
        @Argument(help: "The JSON Lines file `conversations export` wrote.") var file: String
        @Flag(help: "Print the report as one JSON object: {\"imported\", \"skipped\", \"conflicts\", \"conflict_ids\"}.")
        var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.conversations", defaultLevel: .notice)
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw ValidationError("Cannot read '\(file)': \(error.localizedDescription)")
            }
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let report = try await runtime.withDatabase { runtime in
                try await ConversationArchive(client: runtime.client, logger: logger).importLines(data)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print("Imported \(report.imported), skipped \(report.skipped) already present, \(report.conflicts) conflicts.")
                for id in report.conflictIDs {
                    FileHandle.standardError.write(Data("  conflict: \(id) exists with other content; left as it was\n".utf8))
                }
            }
            if report.conflicts > 0 { throw ExitCode(3) }
        }
    }
}
