import ArgumentParser
import Foundation
import Ingest
import Logging
import MiniLM
import Providers

/// How a command's documents are chunked. Chunks are shared by every embedding space, so there is one sizing for
/// all of them: the built-in `minilm` tokenizer's when its files are installed (the chunk, its heading line and
/// `[CLS]`/`[SEP]` within the model's 256 word pieces, whatever model embeds them), else the token estimate.
enum ChunkSizing {
    /// The environment variable that picks the sizing: `auto` (the default, as above) or `estimate` (the token
    /// estimate, 400 a chunk, as before the tokenizer was used).
    static let environmentKey = "UNITY_AI_CHUNK_TOKENIZER"

    /// The chunking for this machine, as the environment asks.
    static func configuration(
        embedder: any EmbeddingProvider, environment: [String: String], logger: Logger
    ) throws -> Chunker.Configuration {
        switch environment[environmentKey].flatMap({ $0.isEmpty ? nil : $0 }) ?? "auto" {
        case "estimate":
            return Chunker.Configuration()
        case "auto":
            guard let tokenizer = builtInTokenizer(embedder: embedder, environment: environment, logger: logger) else {
                return Chunker.Configuration()
            }
            return .sized(for: tokenizer, maximumTokens: tokenizer.maximumTokens)
        case let other:
            throw ValidationError(
                "\(environmentKey) is '\(other.prefix(40))': use auto (the minilm tokenizer when installed) or estimate.")
        }
    }

    /// The `minilm` tokenizer: the embedder's own, else read from the installed model files; `nil` when they are
    /// not installed (or unreadable, which is logged).
    static func builtInTokenizer(
        embedder: any EmbeddingProvider, environment: [String: String], logger: Logger
    ) -> WordPieceTokenizer? {
        if let minilm = embedder as? MiniLMEmbedder { return minilm.tokenizer }
        let path = MiniLMEmbedder.defaultModelDirectory(environment: environment) + "/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try WordPieceTokenizer(contentsOf: path, maximumTokens: MiniLMEmbedder.maximumTokens)
        } catch {
            logger.warning(
                "Cannot read the minilm tokenizer; sizing chunks by estimate",
                metadata: ["tokenizer.path": "\(path)", "error": "\(error)"])
            return nil
        }
    }
}
