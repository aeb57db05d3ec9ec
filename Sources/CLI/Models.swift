import ArgumentParser
import Foundation
import Lifecycle
import Logging
import Providers
import Routing
import Storage

extension ApplianceRuntime {
    /// The Ollama endpoints of the configuration, as model servers, with their admin clients.
    func ollamaServers() -> [OllamaModelServer] {
        let transport = ProviderTransport()
        return routing.providers.filter { $0.kind == .ollama }.flatMap { provider in
            provider.endpoints.map { endpoint in
                OllamaModelServer(
                    client: OllamaAdminClient(
                        configuration: .init(
                            endpoint: ProviderEndpoint(baseURL: endpoint.url, apiKey: endpoint.apiKey, timeouts: provider.timeouts),
                            name: provider.name),
                        transport: transport))
            }
        }
    }

    /// The lifecycle manager over the configured Ollama endpoints; `nil` when there is none.
    func makeModelLifecycle(answerModel: String) -> (manager: ModelLifecycleManager, inventory: PostgresModelInventory)? {
        let servers = ollamaServers()
        guard !servers.isEmpty else { return nil }
        let inventory = PostgresModelInventory(client: client, logger: logger)
        let manager = ModelLifecycleManager(
            configuration: .init(
                modelsDirectory: routing.lifecycle.ollamaModelsDirectory, policy: routing.lifecycle.policy,
                pinned: routing.pinnedOllamaModels(answerModel: answerModel), ollamaProviders: routing.ollamaProviderNames),
            servers: servers, inventory: inventory, traffic: inventory)
        return (manager, inventory)
    }
}

/// `unity-ai models list|usage|cleanup|pull|ensure`: Ollama's models, their real disk use and their cleanup.
struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage Ollama's models: inventory, real disk use, cleanup by policy, pulls.",
        subcommands: [List.self, Usage.self, Cleanup.self, Pull.self, Ensure.self])

    static func lifecycle(_ options: CommonOptions, logger: Logger) async throws
        -> (ApplianceRuntime, ModelLifecycleManager, PostgresModelInventory)
    {
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        guard let (manager, inventory) = runtime.makeModelLifecycle(answerModel: options.resolvedAnswerModel) else {
            throw ValidationError("No Ollama endpoint is configured: set OLLAMA_HOST or configure an ollama provider.")
        }
        return (runtime, manager, inventory)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The models of every Ollama endpoint (refreshed now).")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.models", defaultLevel: .notice)
            let (runtime, manager, inventory) = try await Models.lifecycle(options, logger: logger)
            let models = try await runtime.withDatabase { _ in
                do { try await manager.refresh() } catch { logger.warning("Refresh failed; showing the stored inventory", metadata: ["error": "\(error)"]) }
                return try await inventory.models()
            }
            if json { return try printJSON(["models": models]) }
            for entry in models {
                let state = entry.goneAt != nil ? "gone" : entry.loaded ? "loaded" : "installed"
                let model = entry.model
                print(
                    "\(model.name)\t\(ByteCountFormatter.string(fromByteCount: model.sizeBytes, countStyle: .decimal))\t"
                        + "\(model.family ?? "-") \(model.parameterSize ?? "") \(model.quantization ?? "")\t\(state)\t\(entry.endpoint)")
            }
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Real disk use per model (each blob once), last use from the appliance's traffic, orphans, partials.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.models", defaultLevel: .notice)
            let (runtime, manager, _) = try await Models.lifecycle(options, logger: logger)
            let report = try await runtime.withDatabase { _ in try await manager.usage() }
            if json { return try printJSON(report) }
            func size(_ bytes: Int64?) -> String { bytes.map { ByteCountFormatter.string(fromByteCount: $0, countStyle: .decimal) } ?? "-" }
            print("total on disk \(size(report.totalBytes)); Ollama's sum \(size(report.apparentBytes)) (source: \(report.source))")
            if let note = report.note { print("note: \(note)") }
            for model in report.models {
                let last = model.lastUsed.map(isoDate) ?? "never"
                let pins = model.pinnedBy.isEmpty ? "" : " pinned by \(model.pinnedBy.joined(separator: ", "))"
                print(
                    "\(model.name): size \(size(model.sizeBytes)), unique \(size(model.uniqueBytes)), shared \(size(model.sharedBytes)); "
                        + "last used \(last), \(model.requests7d) requests in 7 days\(model.loaded ? ", loaded" : "")\(pins)")
            }
            for file in report.orphans { print("orphan \(file.path): \(size(file.bytes)), \(file.ageSeconds / 3600) h old") }
            for file in report.partials { print("partial \(file.path): \(size(file.bytes)), \(file.ageSeconds / 3600) h old") }
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete models by the lifecycle policy (through Ollama's API), and orphans with remove_orphans.",
            discussion: "Exit status 0 when every action succeeded (or with --dry-run), 1 otherwise.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Show the plan without deleting anything.") var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.models", defaultLevel: .notice)
            let (runtime, manager, _) = try await Models.lifecycle(options, logger: logger)
            let dryRun = self.dryRun
            let report = try await runtime.withDatabase { _ in try await manager.cleanup(dryRun: dryRun) }
            if json {
                try printJSON(report)
            } else {
                func size(_ bytes: Int64) -> String { ByteCountFormatter.string(fromByteCount: bytes, countStyle: .decimal) }
                print(dryRun ? "Plan (dry run):" : "Cleanup:")
                if report.actions.isEmpty { print("  nothing to do") }
                for action in report.actions {
                    let outcome = action.done.map { $0 ? " — done" : " — FAILED: \(action.error ?? "")" } ?? ""
                    print("  \(action.action) \(action.model ?? action.path ?? "") (\(action.reason)): frees \(size(action.bytesFreed))\(outcome)")
                }
                for kept in report.kept { print("  kept \(kept.model): \(kept.reasons.joined(separator: "; "))") }
                print("  total: \(size(report.bytesFreedTotal))" + (report.measuredBytesFreed.map { ", measured on disk \(size($0))" } ?? ""))
            }
            if report.actions.contains(where: { $0.done == false }) { throw ExitCode.failure }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pull a model into the first Ollama endpoint, with progress.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The model, as Ollama names it (llama3.2, qwen2.5:7b).") var name: String
        @Flag(help: "Print the progress as JSON lines.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.models", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            guard let server = runtime.ollamaServers().first else {
                throw ValidationError("No Ollama endpoint is configured: set OLLAMA_HOST or configure an ollama provider.")
            }
            try await Models.pull(name, with: server, json: json)
        }
    }

    struct Ensure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pull every model the routing file names that the first Ollama endpoint lacks.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print the progress as JSON lines.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.models", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            guard let server = runtime.ollamaServers().first else {
                throw ValidationError("No Ollama endpoint is configured: set OLLAMA_HOST or configure an ollama provider.")
            }
            let installed = Set(try await server.installedModels().map { OllamaModelName(parsing: $0.name)?.displayName ?? $0.name })
            let wanted = runtime.routing.pinnedOllamaModels(answerModel: options.resolvedAnswerModel).keys.sorted()
            let missing = wanted.filter { !installed.contains(OllamaModelName(parsing: $0)?.displayName ?? $0) }
            if missing.isEmpty { print("Every model the routing file names is on \(server.endpoint).") }
            for name in missing { try await Models.pull(name, with: server, json: json) }
        }
    }

    /// Pulls `name`, showing progress: a bar on a terminal, JSON lines with `json`, a line per stage otherwise.
    static func pull(_ name: String, with server: OllamaModelServer, json: Bool) async throws {
        let terminal = !json && isatty(STDERR_FILENO) == 1
        var lastStatus = ""
        for try await progress in server.client.pull(name) {
            if json {
                try printJSON(PullLine(progress))
            } else if terminal, let total = progress.total, total > 0 {
                let done = min(progress.completed ?? 0, total)
                let width = 30
                let filled = Int(Double(width) * Double(done) / Double(total))
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data("\r\u{1B}[K\(name): \(progress.status) [\(bar)] \(done * 100 / total) %".utf8))
            } else if progress.status != lastStatus {
                if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                print("\(name): \(progress.status)")
            }
            lastStatus = progress.status
        }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if !json { print("\(name): pulled") }
    }
}

/// One JSON line of `models pull --json`: Ollama's own progress fields.
struct PullLine: Encodable {
    var status: String
    var digest: String?
    var total: Int64?
    var completed: Int64?

    init(_ progress: OllamaPullProgress) {
        status = progress.status
        digest = progress.digest
        total = progress.total
        completed = progress.completed
    }
}
