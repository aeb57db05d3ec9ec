import Foundation
import NIOHTTP1

/// The JSON bodies of the OpenAI-compatible API (`/chat/completions`, `/embeddings`, `/models`), with only the
/// fields the provider reads or writes. Field names follow the wire, hence the snake case.
enum OpenAIWire {
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

    struct Message: Encodable {
        var role: String
        var content: String
    }

    struct StreamOptions: Encodable {
        var includeUsage: Bool
    }

    /// The body of `POST /chat/completions`. `nil` fields are left out.
    struct ChatCompletionRequest: Encodable {
        var model: String
        var messages: [Message]
        var temperature: Double?
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var stop: [String]?
        var stream: Bool?
        var streamOptions: StreamOptions?
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?

        var tokenUsage: TokenUsage { TokenUsage(inputTokens: promptTokens ?? 0, outputTokens: completionTokens ?? 0) }
    }

    struct ResponseMessage: Decodable {
        var content: String?
    }

    struct Choice: Decodable {
        var index: Int?
        var message: ResponseMessage?
        var finishReason: String?
    }

    /// The answer of a non-streamed chat completion.
    struct ChatCompletion: Decodable {
        var model: String?
        var choices: [Choice]
        var usage: Usage?
    }

    struct Delta: Decodable {
        var content: String?
    }

    struct ChunkChoice: Decodable {
        var index: Int?
        var delta: Delta?
        var finishReason: String?
    }

    /// One `data:` event of a streamed chat completion: a chunk, the usage chunk (`choices: []`), or an error.
    struct ChatCompletionChunk: Decodable {
        var choices: [ChunkChoice]?
        var usage: Usage?
        var error: ErrorDetail?
    }

    /// The body of `POST /embeddings`.
    struct EmbeddingsRequest: Encodable {
        var model: String
        var input: [String]
        var encodingFormat: String
        /// Left out when `nil`: OpenAI's older models and many compatible servers refuse the field.
        var dimensions: Int? = nil
    }

    /// One vector: a JSON array of numbers, or (for `encoding_format: base64`) base64 of little-endian float32s.
    enum EmbeddingVector: Decodable {
        case floats([Float])
        case base64(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .base64(text)
            } else {
                self = .floats(try container.decode([Float].self))
            }
        }

        /// The vector's values; `nil` when the base64 is not a whole number of float32s.
        var values: [Float]? {
            switch self {
            case .floats(let values):
                return values
            case .base64(let text):
                guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
                return data.withUnsafeBytes { raw in
                    (0..<(data.count / 4)).map { position in
                        Float(
                            bitPattern: UInt32(
                                littleEndian: raw.loadUnaligned(fromByteOffset: position * 4, as: UInt32.self)))
                    }
                }
            }
        }
    }

    struct Embedding: Decodable {
        var index: Int
        var embedding: EmbeddingVector
    }

    struct EmbeddingsResponse: Decodable {
        var data: [Embedding]
        /// `prompt_tokens`; compatible servers may leave it out.
        var usage: Usage?
    }

    struct Model: Decodable {
        var id: String
        var ownedBy: String?
    }

    struct ModelList: Decodable {
        var data: [Model]
    }

    /// `error` of an error body. OpenAI always sends an object; some compatible servers send a bare string, kept
    /// as `message`.
    struct ErrorDetail: Decodable {
        var message: String?
        var type: String?
        var code: String?
        var param: String?

        private enum CodingKeys: String, CodingKey {
            case message, type, code, param
        }

        init(message: String?, type: String?, code: String?, param: String?) {
            self.message = message
            self.type = type
            self.code = code
            self.param = param
        }

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self.init(message: text, type: nil, code: nil, param: nil)
                return
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // `code` is a string at OpenAI and a number at some compatible servers (llama.cpp).
            var code: String?
            if let text = try? container.decodeIfPresent(String.self, forKey: .code) {
                code = text
            } else if let number = try? container.decodeIfPresent(Int.self, forKey: .code) {
                code = String(number)
            }
            self.init(
                message: try? container.decodeIfPresent(String.self, forKey: .message),
                type: try? container.decodeIfPresent(String.self, forKey: .type),
                code: code,
                param: try? container.decodeIfPresent(String.self, forKey: .param))
        }
    }

    /// An error body: `{"error": {...}}`.
    struct ErrorBody: Decodable {
        var error: ErrorDetail?
    }
}

extension OpenAIWire {
    /// Turns an upstream error (status, headers, parsed `error` object) into a ``ProviderError`` whose message says
    /// what to do. The upstream's own message is read to classify the error but never repeated: it can echo the
    /// key (OpenAI's 401 shows part of it) or the prompt. Only bounded fields (`type`, `code`, `param`) appear.
    struct ErrorTranslator: Sendable {
        var provider: String
        var apiKey: Secret?
        /// Where the key is configured, named in errors, e.g. `OPENAI_API_KEY`.
        var apiKeySource: String

        /// The error for an HTTP status (`nil` for an error inside a stream that began with 200).
        func error(status: Int?, headers: HTTPHeaders?, detail: ErrorDetail?, model: String?) -> ProviderError {
            let type = bounded(detail?.type)
            let code = bounded(detail?.code)
            let param = bounded(detail?.param)
            let rawCode = detail?.code?.lowercased() ?? ""
            let rawType = detail?.type?.lowercased() ?? ""
            let upstreamText = detail?.message?.lowercased() ?? ""
            let retryAfter = headers.flatMap { RetryAfter.parse($0) }
            var labelParts: [String] = []
            if let status { labelParts.append(String(status)) }
            if let reason = code ?? type { labelParts.append(reason) }
            let label = labelParts.isEmpty ? "" : " (" + labelParts.joined(separator: " ") + ")"
            let modelName = model.map { "'\($0)'" } ?? "the requested model"
            let p = "'\(provider)'"

            func make(_ code: ProviderError.Code, _ message: String) -> ProviderError {
                ProviderError(code: code, message: message, provider: provider, status: status, retryAfter: retryAfter)
            }

            if rawCode == "insufficient_quota" || rawType == "insufficient_quota" {
                return make(
                    .quotaExceeded,
                    "The account of the provider \(p) has no quota or credit left\(label). "
                        + "Add credit or raise the limit, or use another provider; retrying will not help.")
            }
            let mentionsContext = ["context length", "context_length", "maximum context", "context window"]
                .contains { upstreamText.contains($0) }
            if rawCode == "context_length_exceeded"
                || (mentionsContext && (status.map { [400, 413, 422].contains($0) } ?? true))
            {
                return make(
                    .contextLengthExceeded,
                    "The prompt does not fit the context window of \(modelName) at \(p)\(label). "
                        + "Send fewer or shorter passages, lower the maximum tokens, "
                        + "or choose a model with a larger context.")
            }
            if ["content_filter", "content_policy_violation"].contains(rawCode) {
                return make(
                    .contentFiltered,
                    "The provider \(p) refused the prompt or the answer under its content policy\(label). "
                        + "Rephrase the request or use another provider.")
            }
            if rawCode == "model_not_found" || status == 404 {
                return make(
                    .modelNotFound,
                    "The provider \(p) does not offer \(modelName) to this key\(label). "
                        + "Check the model name against its model list, and that its baseURL ends with /v1.")
            }
            if rawCode == "invalid_api_key" || status == 401 || status == 403 {
                let message: String
                if status == 403 {
                    message =
                        "The provider \(p) refused access\(label). "
                        + "Check that the key in \(apiKeySource) may use this model and project."
                } else if apiKey == nil {
                    message = "The provider \(p) needs an API key\(label). Set \(apiKeySource)."
                } else {
                    message = "The provider \(p) rejected the API key\(label). Check \(apiKeySource)."
                }
                return make(.unauthorized, message)
            }
            if status == 429
                || (status == nil && (rawCode == "rate_limit_exceeded" || ["requests", "tokens"].contains(rawType)))
            {
                let wait = retryAfter.map { "Retry in \(RetryAfter.describe($0))" } ?? "Retry later"
                return make(
                    .rateLimited,
                    "The provider \(p) is rate limiting requests\(label). \(wait) or use another provider.")
            }
            if status == 503 || status == 529 || upstreamText.contains("overloaded") {
                return make(
                    .overloaded, "The provider \(p) is overloaded\(label). Retry later or use another provider.")
            }
            if status == 408 {
                return make(
                    .timeout, "The provider \(p) timed out on its side\(label). Retry, or use another provider.")
            }
            if let status, (400..<500).contains(status) {
                let parameter = param.map { ", parameter \($0)" } ?? ""
                return make(
                    .invalidRequest,
                    "The provider \(p) refused the request as invalid\(label)\(parameter). "
                        + "Check the parameters the model supports (temperature, maximum tokens, stop) "
                        + "and the messages.")
            }
            if let status, !(500..<600).contains(status) {
                return make(
                    .malformedResponse,
                    "The provider \(p) answered with the unexpected HTTP status \(status). Check its baseURL.")
            }
            if status == nil, rawType == "invalid_request_error" {
                return make(
                    .invalidRequest,
                    "The provider \(p) refused the request while streaming\(label). "
                        + "Check the parameters the model supports and the messages.")
            }
            let phase = status == nil ? " while streaming the answer" : ""
            return make(
                .upstreamServerError, "The provider \(p) failed\(phase)\(label). Retry, or use another provider.")
        }

        /// An upstream field fit for an error message: short, a plain identifier, and never the key.
        func bounded(_ field: String?) -> String? {
            guard let field, !field.isEmpty, field.count <= 64 else { return nil }
            let allowed = field.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil))
                    || "_-.[]".unicodeScalars.contains($0)
            }
            guard allowed, !field.hasPrefix("sk-") else { return nil }
            if let key = apiKey?.value, !key.isEmpty, field.contains(key) || (field.count >= 8 && key.contains(field)) {
                return nil
            }
            return field
        }
    }
}
