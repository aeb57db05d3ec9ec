import ArgumentParser
import Logging
import Storage

/// `unity-ai migrate`: applies pending migrations.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.migrate", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let applied = try await runtime.withDatabase(migrating: false) { runtime in try await runtime.migrate() }
        if applied.isEmpty {
            print("Schema is up to date (\(runtime.migrations.count) migrations applied).")
        } else {
            print("Applied \(applied.count) migration(s): \(applied.joined(separator: ", ")).")
        }
    }
}
