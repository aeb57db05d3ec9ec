import Foundation

/// The JSON bodies of Ollama's native API (`/api/chat`, `/api/generate`, `/api/embed`, `/api/tags`, `/api/ps`,
/// `/api/show`, `/api/version`), with only the fields the provider reads or writes. Field names follow the wire.
enum OllamaWire {
    /// An encoder writing the wire's snake-case field names from the camel-case properties.
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// A decoder reading the wire's snake-case field names into camel-case properties.
    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    struct Message: Codable {
        var role: String
        var content: String
    }

    /// `options`: sent only when at least one is set.
    struct Options: Encodable {
        var temperature: Double?
        var numPredict: Int?
        var numCtx: Int?
        var stop: [String]?

        var isEmpty: Bool { temperature == nil && numPredict == nil && numCtx == nil && stop == nil }
    }

    /// `keep_alive`: a number of seconds (`300`, `-1` = forever, `0` = unload at once) or a Go duration (`"5m"`).
    /// Ollama parses a string only as a Go duration, so a bare number must go out as a JSON number.
    struct KeepAlive: Encodable {
        var value: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if let seconds = Int(trimmed) {
                try container.encode(seconds)
            } else if let seconds = Double(trimmed), seconds.isFinite {
                try container.encode(seconds)
            } else {
                try container.encode(trimmed)
            }
        }
    }

    /// The body of `POST /api/chat`. `stream` is always sent: Ollama streams when it is absent.
    struct ChatRequest: Encodable {
        var model: String
        var messages: [Message]
        var stream: Bool
        var options: Options?
        var keepAlive: KeepAlive?
    }

    /// The body of `POST /api/generate`.
    struct GenerateRequest: Encodable {
        var model: String
        var prompt: String
        var system: String?
        var stream: Bool
        var options: Options?
        var keepAlive: KeepAlive?
    }

    struct ResponseMessage: Decodable {
        var content: String?
    }

    /// A whole answer (`stream: false`) or one line of a streamed one, from `/api/chat` (`message`) or
    /// `/api/generate` (`response`); a streamed error is a line with only `error`.
    struct Answer: Decodable {
        var model: String?
        var message: ResponseMessage?
        var response: String?
        var done: Bool?
        var doneReason: String?
        var promptEvalCount: Int?
        var evalCount: Int?
        var error: String?

        var text: String { message?.content ?? response ?? "" }
        var usage: TokenUsage { TokenUsage(inputTokens: promptEvalCount ?? 0, outputTokens: evalCount ?? 0) }
    }

    /// The body of `POST /api/embed`.
    struct EmbedRequest: Encodable {
        var model: String
        var input: [String]
        var keepAlive: KeepAlive?
    }

    struct EmbedResponse: Decodable {
        var embeddings: [[Float]]
        /// The input tokens, when the server counts them.
        var promptEvalCount: Int?
    }

    struct ModelDetails: Decodable {
        var family: String?
        var parameterSize: String?
        var quantizationLevel: String?
    }

    /// One model of `/api/tags` or `/api/ps`.
    struct Model: Decodable {
        var name: String
        var details: ModelDetails?
        var contextLength: Int?
    }

    struct ModelList: Decodable {
        var models: [Model]
    }

    /// The body of `POST /api/show`.
    struct ShowRequest: Encodable {
        var model: String
    }

    /// Any JSON value of `model_info`, keeping only numbers and strings.
    enum InfoValue: Decodable {
        case number(Double)
        case text(String)
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .other
            }
        }

        var integer: Int? {
            if case .number(let value) = self, value.isFinite, value.rounded() == value {
                Int(exactly: value)
            } else {
                nil
            }
        }

        var string: String? {
            if case .text(let value) = self { value } else { nil }
        }
    }

    /// The answer of `/api/show`. Decode it with a plain `JSONDecoder`: the snake-case strategy would also rewrite
    /// the keys of `model_info` (`llama.context_length`).
    struct ShowResponse: Decodable {
        var details: ShowDetails?
        var modelInfo: [String: InfoValue]?
        var capabilities: [String]?

        private enum CodingKeys: String, CodingKey {
            case details, capabilities
            case modelInfo = "model_info"
        }
    }

    /// `details` of `/api/show`, for a plain `JSONDecoder`.
    struct ShowDetails: Decodable {
        var family: String?
        var parameterSize: String?
        var quantizationLevel: String?

        private enum CodingKeys: String, CodingKey {
            case family
            case parameterSize = "parameter_size"
            case quantizationLevel = "quantization_level"
        }
    }

    struct Version: Decodable {
        var version: String
    }

    /// An error body: `{"error": "text"}`.
    struct ErrorBody: Decodable {
        var error: String?
    }
}

extension OllamaWire {
    /// Turns an Ollama error (status and `{"error": "text"}`) into a ``ProviderError`` whose message says what to do.
    /// The upstream text is read to classify the error but never repeated: it can echo the prompt.
    struct ErrorTranslator: Sendable {
        var provider: String
        var hasAPIKey: Bool

        /// The error for an HTTP status (`nil` for an error line inside a stream that began with 200).
        func error(status: Int?, retryAfter: Duration?, text: String?, model: String?) -> ProviderError {
            let upstream = text?.lowercased() ?? ""
            let p = "'\(provider)'"
            let modelName = model.map { "'\($0)'" } ?? "the requested model"
            let statusLabel = status.map { " (HTTP \($0))" } ?? ""

            func make(_ code: ProviderError.Code, _ message: String) -> ProviderError {
                ProviderError(code: code, message: message, provider: provider, status: status, retryAfter: retryAfter)
            }

            if upstream.contains("model") && upstream.contains("not found") {
                return make(
                    .modelNotFound,
                    "The provider \(p) has no model \(modelName)\(statusLabel). "
                        + "Pull it first (`ollama pull`) or check the name against its model list.")
            }
            if status == 404 {
                return make(
                    .modelNotFound,
                    "The provider \(p) found no model \(modelName) or no such endpoint\(statusLabel). "
                        + "Check the model name, and that its baseURL is the server root (without /api).")
            }
            if upstream.contains("context length") || upstream.contains("context window") {
                return make(
                    .contextLengthExceeded,
                    "The prompt does not fit the context window of \(modelName) at \(p)\(statusLabel). "
                        + "Send fewer or shorter passages, or raise the provider's contextLength.")
            }
            if status == 401 || status == 403 || upstream.contains("unauthorized") {
                return make(
                    .unauthorized,
                    hasAPIKey
                        ? "The provider \(p) rejected the API key\(statusLabel). Check the key configured for it."
                        : "The provider \(p) needs an API key\(statusLabel). "
                            + "Configure one for it, or point it at an open server.")
            }
            if status == 429 {
                let wait = retryAfter.map { "Retry in \(RetryAfter.describe($0))" } ?? "Retry later"
                return make(
                    .rateLimited,
                    "The provider \(p) is rate limiting requests\(statusLabel). \(wait) or use another provider.")
            }
            if status == 503
                || ["overloaded", "server busy", "maximum pending requests", "too many requests"]
                    .contains(where: upstream.contains)
            {
                return make(
                    .overloaded,
                    "The provider \(p) is busy\(statusLabel). Retry later, raise OLLAMA_NUM_PARALLEL or "
                        + "OLLAMA_MAX_QUEUE, or use another provider.")
            }
            if status == 408 {
                return make(
                    .timeout, "The provider \(p) timed out on its side\(statusLabel). Retry, or use another provider.")
            }
            if let status, (400..<500).contains(status) {
                return make(
                    .invalidRequest,
                    "The provider \(p) refused the request as invalid\(statusLabel). "
                        + "Check the model name and that \(modelName) supports this kind of request.")
            }
            if let status, !(500..<600).contains(status) {
                return make(
                    .malformedResponse,
                    "The provider \(p) answered with the unexpected HTTP status \(status). Check its baseURL (no /api)."
                )
            }
            let phase = status == nil ? " while answering" : ""
            return make(
                .upstreamServerError,
                "The model runner of \(p) failed\(phase)\(statusLabel). "
                    + "Check the Ollama server log (memory, model file); retry or use another provider.")
        }
    }
}
