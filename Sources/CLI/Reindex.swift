import ArgumentParser
import Foundation
import Ingest
import Logging
import Providers
import Routing
import Storage
import Synchronization

/// `unity-ai reindex --model NAME`: builds a tenant's embedding space for another model from its stored chunks and
/// switches the tenant to it once complete; `--drop OLD` removes a space.
struct Reindex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a tenant's embedding space for another model, then answer from it; or drop an old space.",
        discussion: """
            Chunks are shared by every embedding model; each model has its own vectors (a space). --model NAME \
            embeds every chunk of the tenant that has no vector of NAME, while questions keep being answered from \
            the tenant's current space, builds NAME's index, and makes NAME the tenant's default space only when \
            every chunk has its vector. Interrupted (Ctrl-C, a crash), it resumes where it stopped when run again: \
            it only embeds what is missing. Run it again after documents changed to fill a non-default space.

            --drop OLD deletes the tenant's vectors of OLD (its index too once no tenant uses OLD); it refuses the \
            space the tenant answers from. With --model, the drop runs after the switch.

            Set embeddingModel (or UNITY_AI_EMBEDDING_MODEL) to the new model as well, so that ingests and the \
            server's scheduled syncs write the tenant's default space.

            Exit status: 0 on success, 2 when documents kept changing and the switch did not happen (run again), \
            1 on an error.
            """)

    @OptionGroup var options: CommonOptions

    @Option(help: "The embedding model of the space to build: local, minilm or provider/model.")
    var model: String?

    @Option(help: "The tenant (default: default).")
    var tenant = "default"

    @Option(help: "Remove this model's space (its vectors) from the tenant; never the one it answers from.")
    var drop: String?

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        guard model != nil || drop != nil else {
            throw ValidationError("Give --model NAME to build a space, --drop OLD to remove one, or both.")
        }
        guard TenantName.isValid(tenant) else {
            throw ValidationError("'\(tenant.prefix(80))' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'.")
        }
        if let model, let drop, model == drop { throw ValidationError("--model and --drop name the same model.") }
    }

    struct Result: Encodable {
        var reindex: Reindexer.Summary?
        var dropped: String?
        var vectorsDeleted: Int?

        enum CodingKeys: String, CodingKey {
            case reindex, dropped
            case vectorsDeleted = "vectors_deleted"
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.reindex", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let newEmbedder = try model.map { try runtime.providers.embedder(named: $0) }
        let dropName = drop.map { name in (try? runtime.providers.embedder(named: name))?.model.name ?? name }
        let (tenant, json) = (self.tenant, self.json)
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let lastDraw = Mutex<Double>(-1)
        let progress: @Sendable (Reindexer.Progress) -> Void = { progress in
            guard showProgress else { return }
            let due = lastDraw.withLock { (last: inout Double) -> Bool in
                guard progress.chunksDone >= progress.chunksTotal || progress.elapsedSeconds - last >= 0.1 else {
                    return false
                }
                last = progress.elapsedSeconds
                return true
            }
            guard due else { return }
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + progress.line(width: Ingest.terminalWidth())).utf8))
        }
        let result = try await runtime.withDatabase { runtime in
            let store = KnowledgeStore(client: runtime.client)
            var result = Result()
            if let newEmbedder {
                result.reindex = try await Reindexer(store: store, embedder: newEmbedder, logger: logger)
                    .reindex(tenant: tenant, progress: progress)
                if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            }
            if let dropName {
                if let summary = result.reindex, !summary.isDefault {
                    // Not switched: the old space still answers the tenant, so it stays (the summary says why).
                    FileHandle.standardError.write(
                        Data("Not dropping '\(dropName)': tenant '\(tenant)' still answers from it.\n".utf8))
                } else {
                    result.vectorsDeleted = try await Reindexer(store: store, embedder: runtime.embedder, logger: logger)
                        .drop(model: dropName, tenant: tenant, configuredModel: runtime.embedder.model.name)
                    result.dropped = dropName
                }
            }
            return result
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            if let summary = result.reindex {
                let state =
                    summary.isDefault
                    ? "tenant '\(tenant)' now answers from '\(summary.model)'"
                        + (summary.previousDefault.map { " (was '\($0)')" } ?? "")
                    : "not switched: documents kept changing; run it again"
                print(
                    String(
                        format: "Reindexed %ld chunks with %@: %ld stored now, %ld already there, %ld embedded in %.1f s; %@.",
                        summary.chunks, summary.model, summary.stored, summary.alreadyEmbedded, summary.chunksEmbedded,
                        summary.seconds, state))
            }
            if let dropped = result.dropped {
                print("Dropped the space '\(dropped)' of tenant '\(tenant)': \(result.vectorsDeleted ?? 0) vectors deleted.")
            }
        }
        if let summary = result.reindex, !summary.isDefault { throw ExitCode(2) }
    }
}
