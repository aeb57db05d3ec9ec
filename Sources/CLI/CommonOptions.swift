import ArgumentParser
import Foundation
import Logging

/// Options every command shares. Each falls back to an environment variable, then to a default.
struct CommonOptions: ParsableArguments {
    @Option(help: "The appliance's data directory (env UNITY_AI_DATA_DIR; default ./.unity-ai).")
    var dataDir: String?

    @Option(help: "PostgreSQL URL to use instead of the embedded server (env DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Directory of the NNNN_name.sql migrations (env UNITY_AI_MIGRATIONS_DIR; default: found beside the build).")
    var migrationsDir: String?

    @Option(help: "Bin directory of a PostgreSQL with pgvector for the embedded server (env UNITY_AI_PG_BIN).")
    var pgBin: String?

    @Option(help: "Embedding model: 'auto' (default: 'minilm' once deploy/install-model.sh has run, else 'local'), 'local' (feature hashing, 512 dimensions), 'minilm' (native all-MiniLM-L6-v2, 384 dimensions) or provider/model from the routing file's catalogue (env UNITY_AI_EMBEDDING_MODEL).")
    var embeddingModel: String?

    @Option(help: "Routing file (ai_routing.yaml) with providers and models (env UNITY_AI_CONFIG). Without one, providers come from OLLAMA_HOST, OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY.")
    var config: String?

    @Option(help: "Who writes RAG answers: 'local' (the extractive answerer, default), provider/model, or 'auto' for the tenant's routing strategy (env UNITY_AI_ANSWER_MODEL).")
    var answerModel: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env LOG_LEVEL).")
    var logLevel: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedDataDirectory: String {
        dataDir ?? environment["UNITY_AI_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "./.unity-ai"
    }

    var resolvedDatabaseURL: String? {
        databaseURL ?? environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var resolvedMigrationsDirectory: String? {
        migrationsDir ?? environment["UNITY_AI_MIGRATIONS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var resolvedPostgresBinaries: String? {
        pgBin ?? environment["UNITY_AI_PG_BIN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var resolvedAnswerModel: String {
        answerModel ?? environment["UNITY_AI_ANSWER_MODEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "local"
    }

    var resolvedConfigPath: String? {
        config ?? environment["UNITY_AI_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func makeLogger(label: String, defaultLevel: Logger.Level) throws -> Logger {
        let name = logLevel ?? environment["LOG_LEVEL"]
        let level: Logger.Level
        if let name {
            guard let parsed = Logger.Level(rawValue: name.lowercased()) else {
                throw ValidationError("Unknown log level '\(name)'; use trace, debug, info, notice, warning or error.")
            }
            level = parsed
        } else {
            level = defaultLevel
        }
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }
}
