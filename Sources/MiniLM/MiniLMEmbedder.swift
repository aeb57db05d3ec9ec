import Dispatch
import Foundation
import Providers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The native `minilm` embedder: sentence-transformers/all-MiniLM-L6-v2 run in-process (WordPiece tokenizer,
/// BERT forward pass through OpenBLAS, mean pooling, L2 normalisation), 384 dimensions, no network.
///
/// Texts longer than 256 tokens are cut, as sentence-transformers does for this model. Vectors match the
/// reference implementation to a cosine of 0.9999 or better.
public struct MiniLMEmbedder: EmbeddingProvider {
    /// The name stored with every vector this embedder produces.
    public static let modelName = "minilm"
    /// The directory name of the model files inside a models directory.
    public static let modelDirectoryName = "all-minilm-l6-v2"
    /// The files a model directory must hold.
    public static let requiredFiles = ["model.safetensors", "tokenizer.json", "config.json"]
    /// The model's `max_seq_length`: the most tokens of a text that count, `[CLS]` and `[SEP]` included.
    public static let maximumTokens = 256

    public let model: EmbeddingModelDescriptor
    public var maximumBatchSize: Int { 128 }
    /// The tokenizer, for callers that size chunks in model tokens.
    public let tokenizer: WordPieceTokenizer
    /// Where the model files were read from.
    public let modelDirectory: String
    /// At most this many packed tokens go through one forward pass; bounds the activation memory (about 8 KB a
    /// token, so ~32 MB for 4096) while keeping every matrix product large enough to run at full speed.
    let tokensPerPass: Int
    private let network: MiniLMModel

    /// Loads the model from `modelDirectory` (which holds `model.safetensors`, `tokenizer.json` and
    /// `config.json`), typically ``defaultModelDirectory(environment:)``.
    ///
    /// - Throws: ``MiniLMError`` with code `modelNotInstalled` naming `./deploy/install-model.sh` when a file is
    ///   missing, `invalidModelFile` or `unsupportedModel` when one cannot be used.
    public init(modelDirectory: String) throws {
        try self.init(modelDirectory: modelDirectory, tokensPerPass: 4096)
    }

    init(modelDirectory: String, tokensPerPass: Int) throws {
        for file in Self.requiredFiles where !FileManager.default.fileExists(atPath: modelDirectory + "/" + file) {
            throw MiniLMError.modelNotInstalled(directory: modelDirectory, missing: file)
        }
        let network = try MiniLMModel(directory: modelDirectory)
        let tokenizer = try WordPieceTokenizer(
            contentsOf: modelDirectory + "/tokenizer.json",
            maximumTokens: min(Self.maximumTokens, network.configuration.maximumPositions))
        guard tokenizer.vocabularySize <= network.configuration.vocabularySize else {
            throw MiniLMError.invalidModelFile(
                modelDirectory + "/tokenizer.json",
                "its \(tokenizer.vocabularySize) tokens do not fit the model's \(network.configuration.vocabularySize)")
        }
        self.modelDirectory = modelDirectory
        self.tokensPerPass = max(tokensPerPass, Self.maximumTokens)
        self.network = network
        self.tokenizer = tokenizer
        self.model = EmbeddingModelDescriptor(name: Self.modelName, dimensions: network.configuration.hiddenSize)
    }

    /// Where `./deploy/install-model.sh` puts the model: `$UNITY_AI_MODELS_DIR`, else `$UNITY_AI_TOOLS_DIR/models`,
    /// else `/opt/unity-ai/models` when running as root, else `~/.local/share/unity-ai/models`; each followed by
    /// `/all-minilm-l6-v2`.
    public static func defaultModelDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        defaultModelDirectory(environment: environment, isRoot: geteuid() == 0)
    }

    static func defaultModelDirectory(environment: [String: String], isRoot: Bool) -> String {
        let models: String
        if let directory = environment["UNITY_AI_MODELS_DIR"], !directory.isEmpty {
            models = directory
        } else if let tools = environment["UNITY_AI_TOOLS_DIR"], !tools.isEmpty {
            models = tools + "/models"
        } else if isRoot {
            models = "/opt/unity-ai/models"
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            models = home + "/.local/share/unity-ai/models"
        }
        return models + "/" + modelDirectoryName
    }

    /// Embeds `texts`, one unit-length 384-dimensional vector per text, in order. The work runs on dispatch
    /// threads (all cores), not on the caller's executor; cancellation is honoured between forward passes.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        for batch in try await run({ self.tokenizedBatches(texts) }) {
            try Task.checkCancellation()
            vectors.append(contentsOf: try await run { self.network.embed(batch) })
        }
        return vectors
    }

    /// The token ids of `texts`, in order, split into consecutive batches of at most `tokensPerPass` tokens
    /// (a single text always fits: it has at most ``maximumTokens``).
    func tokenizedBatches(_ texts: [String]) -> [[[Int]]] {
        var batches: [[[Int]]] = []
        var batch: [[Int]] = []
        var tokens = 0
        for text in texts {
            let ids = tokenizer.encode(text)
            if tokens + ids.count > tokensPerPass, !batch.isEmpty {
                batches.append(batch)
                batch = []
                tokens = 0
            }
            batch.append(ids)
            tokens += ids.count
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    /// Runs the CPU-bound `work` on a dispatch thread, keeping it off Swift's cooperative pool.
    private func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async throws -> Result {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }
}
