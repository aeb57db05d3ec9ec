import ArgumentParser
import Foundation
import Providers
import Routing

/// `unity-ai embed TEXT...`: prints embedding vectors.
struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the embeddings of texts (no database needed).",
        discussion: "Models: local (hashing, 512 dimensions), minilm (native all-MiniLM-L6-v2, 384), or provider/model.")

    @Argument(help: "The texts to embed.")
    var texts: [String]

    @Option(help: "The embedding model (default: UNITY_AI_EMBEDDING_MODEL, the routing file's, or local).")
    var model: String?

    @Option(help: "Routing file (env UNITY_AI_CONFIG), for provider/model embedders.")
    var config: String?

    @Flag(help: "Print one JSON array of vectors (one array per text).")
    var json = false

    func validate() throws {
        guard !texts.isEmpty else { throw ValidationError("Give at least one text to embed.") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["UNITY_AI_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let routing = try RoutingFile.loadConfiguration(path: path, environment: environment)
        let registry = ProviderRegistry.make(configuration: routing, transport: ProviderTransport())
        let embedder = try registry.embedder(named: model ?? routing.embeddingModel)
        let vectors = try await embedder.embedAll(texts)
        if json {
            print("[" + vectors.map { "[" + $0.map { "\($0)" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]")
        } else {
            for (text, vector) in zip(texts, vectors) {
                let head = vector.prefix(8).map { String(format: "%.4f", $0) }.joined(separator: ", ")
                print("\(embedder.model.name) [\(vector.count)] \(head), … ← \(text.prefix(60))")
            }
        }
    }
}
