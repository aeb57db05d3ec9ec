import Foundation
import NIOHTTP1

/// The JSON shapes of the Gemini API (Generative Language API, `v1beta`) and its error mapping. Field names are
/// lowerCamelCase on the wire too.
enum GeminiWire {
    // MARK: Generation

    /// The body of `models/{model}:generateContent` and `:streamGenerateContent`.
    struct GenerateContentRequest: Encodable {
        var contents: [Content]
        var systemInstruction: Content?
        var generationConfig: GenerationConfig?
    }

    /// A turn (`role` is `user` or `model`), or the system instruction (no role).
    struct Content: Codable {
        var role: String?
        var parts: [Part]
    }

    struct Part: Codable {
        var text: String?
        /// Set on a thinking model's thought summaries, which are not part of the answer.
        var thought: Bool?
    }

    /// Only the settings the request sets are sent.
    struct GenerationConfig: Encodable {
        var temperature: Double?
        var maxOutputTokens: Int?
        var stopSequences: [String]?

        var isEmpty: Bool { temperature == nil && maxOutputTokens == nil && stopSequences == nil }
    }

    /// A whole answer, or one chunk of a streamed one (whose texts are deltas and whose usage is cumulative).
    struct GenerateContentResponse: Decodable {
        var candidates: [Candidate]?
        var promptFeedback: PromptFeedback?
        var usageMetadata: UsageMetadata?
        var modelVersion: String?
        /// Set when a stream fails after it started.
        var error: ErrorBody?
    }

    struct Candidate: Decodable {
        var content: Content?
        var finishReason: String?
    }

    struct PromptFeedback: Decodable {
        var blockReason: String?
    }

    struct UsageMetadata: Decodable {
        var promptTokenCount: Int?
        var candidatesTokenCount: Int?
    }

    // MARK: Embeddings

    /// The body of `models/{model}:batchEmbedContents`.
    struct BatchEmbedRequest: Encodable {
        var requests: [EmbedRequest]
    }

    struct EmbedRequest: Encodable {
        /// `models/{model}`, the same model as in the URL.
        var model: String
        var content: Content
    }

    struct BatchEmbedResponse: Decodable {
        var embeddings: [Embedding]
    }

    struct Embedding: Decodable {
        var values: [Float]
    }

    // MARK: Models

    /// One page of `GET /{version}/models`; the last page has no `nextPageToken`.
    struct ModelPage: Decodable {
        var models: [Model]?
        var nextPageToken: String?
    }

    struct Model: Decodable {
        /// `models/gemini-2.5-flash`.
        var name: String
        var inputTokenLimit: Int?
    }

    // MARK: Errors

    /// `{"error":{"code","message","status","details"}}`.
    struct ErrorEnvelope: Decodable {
        var error: ErrorBody?
    }

    struct ErrorBody: Decodable {
        var code: Int?
        var message: String?
        /// A `google.rpc.Code` name such as `RESOURCE_EXHAUSTED`.
        var status: String?
        var details: [ErrorDetail]?
    }

    /// One `details[]` entry; which fields are set depends on `@type` (`ErrorInfo` has `reason`, `RetryInfo` has
    /// `retryDelay`).
    struct ErrorDetail: Decodable {
        var type: String?
        var reason: String?
        var retryDelay: String?

        enum CodingKeys: String, CodingKey {
            case type = "@type"
            case reason, retryDelay
        }
    }

    // MARK: Coding

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static let decoder = JSONDecoder()

    /// Decodes an upstream body, or throws `malformedResponse` naming what was expected (never the body).
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String, provider: String) throws -> T {
        try WireDecoding.decode(type, from: data, decoder: decoder, provider: provider) { _ in
            "the body is not \(what)"
        }
    }

    // MARK: Conversation

    /// The request body for a chat: system messages become `systemInstruction`, assistant turns are `model` turns,
    /// and consecutive turns of one role are merged into one turn of several parts.
    static func generateContentRequest(_ request: ChatRequest) -> GenerateContentRequest {
        var system: [Part] = []
        var contents: [Content] = []
        for message in request.messages {
            let part = Part(text: message.content)
            switch message.role {
            case .system:
                system.append(part)
            case .user, .assistant:
                let role = message.role == .user ? "user" : "model"
                if let last = contents.last, last.role == role {
                    contents[contents.count - 1].parts.append(part)
                } else {
                    contents.append(Content(role: role, parts: [part]))
                }
            }
        }
        let configuration = GenerationConfig(
            temperature: request.temperature, maxOutputTokens: request.maximumTokens,
            stopSequences: request.stop.isEmpty ? nil : request.stop)
        return GenerateContentRequest(
            contents: contents,
            systemInstruction: system.isEmpty ? nil : Content(role: nil, parts: system),
            generationConfig: configuration.isEmpty ? nil : configuration)
    }

    /// The answer's text: the non-thought parts of the first candidate, joined.
    static func text(of candidate: Candidate?) -> String {
        (candidate?.content?.parts ?? []).filter { $0.thought != true }.compactMap(\.text).joined()
    }

    /// Maps a `finishReason`; unknown or missing reasons (`OTHER`, …) count as a normal stop.
    static func finishReason(_ reason: String?) -> FinishReason {
        switch reason {
        case "MAX_TOKENS": .length
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
            .contentFilter
        default: .stop
        }
    }

    static func usage(_ metadata: UsageMetadata?) -> TokenUsage? {
        metadata.map {
            TokenUsage(inputTokens: $0.promptTokenCount ?? 0, outputTokens: $0.candidatesTokenCount ?? 0)
        }
    }

    /// The error for a prompt the upstream refused to answer (`promptFeedback.blockReason`, HTTP 200).
    static func blocked(reason: String?, provider: String) -> ProviderError {
        let because = UpstreamField.identifier(reason).map { " (blockReason \($0))" } ?? ""
        return ProviderError(
            code: .contentFiltered,
            message: "The provider '\(provider)' blocked the prompt\(because). Rephrase the request, or use another provider.",
            provider: provider, status: 200)
    }

    // MARK: Errors

    /// The error for a non-2xx answer. The upstream message is read only to classify the error, never copied.
    static func error(
        status: Int, headers: HTTPHeaders, body: Data, provider: String, model: String?
    ) -> ProviderError {
        let envelope = try? decoder.decode(ErrorEnvelope.self, from: body)
        return error(
            envelope?.error, status: status, retryAfterHeader: RetryAfter.parse(headers), provider: provider,
            model: model)
    }

    /// The error for an error body (from a response, or from a stream chunk where `status` is its `code`).
    static func error(
        _ body: ErrorBody?, status: Int?, retryAfterHeader: Duration? = nil, provider: String, model: String?
    ) -> ProviderError {
        let status = status ?? body?.code
        let statusName = UpstreamField.identifier(body?.status)
        let reasons = (body?.details ?? []).compactMap(\.reason)
        let label = [status.map { "\($0)" }, statusName].compactMap { $0 }.joined(separator: " ")
        let because = label.isEmpty ? "" : " (\(label))"
        let modelName = model.map { " '\($0)'" } ?? ""
        let upstreamText = body?.message?.lowercased() ?? ""
        func make(_ code: ProviderError.Code, _ message: String, retryAfter: Duration? = nil) -> ProviderError {
            ProviderError(code: code, message: message, provider: provider, status: status, retryAfter: retryAfter)
        }
        let keyRejected =
            reasons.contains("API_KEY_INVALID") || (status == 400 && upstreamText.contains("api key"))
        if keyRejected || status == 401 {
            let reason = reasons.contains("API_KEY_INVALID") ? ", API_KEY_INVALID" : ""
            return make(
                .unauthorized,
                "The provider '\(provider)' rejected the API key\(label.isEmpty ? "" : " (\(label)\(reason))"). Check GEMINI_API_KEY (the key configured for '\(provider)').")
        }
        switch status ?? 500 {
        case 403:
            return make(
                .unauthorized,
                "The provider '\(provider)' refused the request with this API key\(because). Check that a key is configured and allowed to use the Generative Language API.")
        case 404:
            guard model != nil else {
                return make(
                    .modelNotFound,
                    "The provider '\(provider)' answered 'not found'\(because). Check its base URL and apiVersion.")
            }
            return make(
                .modelNotFound,
                "The provider '\(provider)' does not know the model\(modelName) or it does not support this method\(because). Check the model name against listModels, and the apiVersion setting.")
        case 429:
            let retryDelay = body?.details?
                .first { $0.type?.hasSuffix("RetryInfo") == true }?
                .retryDelay.flatMap(RetryAfter.parseProtobufDuration)
            guard let retryAfter = retryDelay ?? retryAfterHeader else {
                // Without a retry delay, waiting does not help: the quota is used up.
                return make(
                    .quotaExceeded,
                    "The provider '\(provider)' reports this key's quota is used up\(because). Check the plan and billing, or use another provider.")
            }
            return make(
                .rateLimited,
                "The provider '\(provider)' is rate limiting this key\(because). Retry after \(retryAfter) or use another provider.",
                retryAfter: retryAfter)
        case 503:
            return make(
                .overloaded,
                "The provider '\(provider)' is overloaded\(because). Retry later or use another provider.",
                retryAfter: retryAfterHeader)
        case 500...:
            return make(
                .upstreamServerError,
                "The provider '\(provider)' failed\(because). Retry later or use another provider.")
        default:
            if upstreamText.contains("token") && upstreamText.contains("exceed") {
                return make(
                    .contextLengthExceeded,
                    "The prompt is too long for the model\(modelName) at '\(provider)'\(because). Shorten the conversation or the documents, or choose a model with a larger context window.")
            }
            return make(
                .invalidRequest,
                "The provider '\(provider)' rejected the request as invalid\(because). Check the model, the generation settings (temperature, maximum tokens, stop sequences) and the apiVersion setting.")
        }
    }
}
