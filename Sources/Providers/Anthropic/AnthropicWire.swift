import Foundation
import NIOHTTP1

/// The JSON shapes of Anthropic's Messages API (`anthropic-version: 2023-06-01`) and its error mapping.
///
/// Field names are camelCase here and snake_case on the wire (the coders convert them).
enum AnthropicWire {
    // MARK: Requests

    /// The body of `POST /v1/messages`.
    struct MessagesRequest: Encodable {
        var model: String
        var maxTokens: Int
        var system: String?
        var messages: [Message]
        var stopSequences: [String]?
        var temperature: Double?
        var stream: Bool?
    }

    /// One turn of the conversation; the role is `user` or `assistant`.
    struct Message: Encodable, Equatable {
        var role: String
        var content: String
    }

    // MARK: Responses

    /// The answer of a non-streamed `POST /v1/messages`, and the `message` of a stream's `message_start`.
    struct MessagesResponse: Decodable {
        var model: String?
        var content: [ContentBlock]?
        var stopReason: String?
        var usage: Usage?
    }

    /// One block of an answer; only `text` blocks carry text.
    struct ContentBlock: Decodable {
        var type: String
        var text: String?
    }

    struct Usage: Decodable {
        var inputTokens: Int?
        var outputTokens: Int?
    }

    /// `{"type":"error","error":{"type","message"},"request_id"}`, in a body or an `event: error`.
    struct ErrorEnvelope: Decodable {
        var error: ErrorBody?
    }

    struct ErrorBody: Decodable {
        var type: String?
        var message: String?
    }

    /// One page of `GET /v1/models`.
    struct ModelPage: Decodable {
        var data: [Model]
        var hasMore: Bool?
        var lastId: String?
    }

    struct Model: Decodable {
        var id: String
        /// Only newer API versions send it.
        var maxInputTokens: Int?
    }

    /// Any event of a streamed answer; which fields are set depends on `type`.
    struct StreamEvent: Decodable {
        var type: String?
        var message: MessagesResponse?
        var delta: StreamDelta?
        var usage: Usage?
        var error: ErrorBody?
    }

    /// A `content_block_delta`'s or a `message_delta`'s `delta`.
    struct StreamDelta: Decodable {
        var type: String?
        var text: String?
        var stopReason: String?
    }

    // MARK: Coding

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Decodes an upstream body, or throws `malformedResponse` naming what was expected (never the body).
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String, provider: String) throws -> T {
        try WireDecoding.decode(type, from: data, decoder: decoder, provider: provider) { _ in
            "the body is not \(what)"
        }
    }

    // MARK: Conversation

    /// Splits a conversation into the top-level `system` prompt and the user/assistant turns, merging consecutive
    /// turns of the same role (the API expects them to alternate).
    static func conversation(_ messages: [ChatMessage]) -> (system: String?, messages: [Message]) {
        var system: [String] = []
        var turns: [Message] = []
        for message in messages {
            switch message.role {
            case .system:
                system.append(message.content)
            case .user, .assistant:
                let role = message.role == .user ? "user" : "assistant"
                if let last = turns.last, last.role == role {
                    turns[turns.count - 1].content = last.content + "\n\n" + message.content
                } else {
                    turns.append(Message(role: role, content: message.content))
                }
            }
        }
        return (system.isEmpty ? nil : system.joined(separator: "\n\n"), turns)
    }

    /// Maps a `stop_reason`; unknown or missing reasons count as a normal stop.
    static func finishReason(_ stopReason: String?) -> FinishReason {
        switch stopReason {
        case "max_tokens", "model_context_window_exceeded": .length
        case "refusal": .contentFilter
        case "tool_use": .toolCalls
        default: .stop  // end_turn, stop_sequence, pause_turn
        }
    }

    // MARK: Errors

    /// The error for a non-2xx answer. The upstream message is read only to classify the error, never copied.
    static func error(
        status: Int, headers: HTTPHeaders, body: Data, provider: String, model: String?
    ) -> ProviderError {
        let envelope = try? decoder.decode(ErrorEnvelope.self, from: body)
        return error(
            type: envelope?.error?.type, upstreamMessage: envelope?.error?.message, status: status,
            retryAfter: RetryAfter.parse(headers), provider: provider, model: model)
    }

    /// The error for an Anthropic error `type` (from a body, or an `event: error` in a stream when `status` is nil).
    static func error(
        type rawType: String?, upstreamMessage: String?, status: Int?, retryAfter: Duration?, provider: String,
        model: String?
    ) -> ProviderError {
        let type = UpstreamField.identifier(rawType)
        let label = [status.map { "\($0)" }, type].compactMap { $0 }.joined(separator: " ")
        let because = label.isEmpty ? "" : " (\(label))"
        let modelName = model.map { " '\($0)'" } ?? ""
        func make(_ code: ProviderError.Code, _ message: String, retryAfter: Duration? = nil) -> ProviderError {
            ProviderError(code: code, message: message, provider: provider, status: status, retryAfter: retryAfter)
        }
        switch ErrorKind(type: type) ?? ErrorKind(status: status) {
        case .authentication:
            return make(
                .unauthorized,
                "The provider '\(provider)' rejected the API key\(because). Check ANTHROPIC_API_KEY (the key configured for '\(provider)').")
        case .permission:
            return make(
                .unauthorized,
                "The provider '\(provider)' does not allow this API key to do that\(because). Check the key's workspace and permissions in the Anthropic console.")
        case .notFound:
            guard model != nil else {
                return make(
                    .modelNotFound,
                    "The provider '\(provider)' answered 'not found'\(because). Check that its base URL has no /v1 suffix.")
            }
            return make(
                .modelNotFound,
                "The provider '\(provider)' does not know the model\(modelName)\(because). Check the model name against listModels, and that the base URL has no /v1 suffix.")
        case .rateLimit:
            let wait = retryAfter.map { " Retry after \($0) or use another provider." }
                ?? " Retry later or use another provider."
            return make(.rateLimited, "The provider '\(provider)' is rate limiting this key\(because).\(wait)", retryAfter: retryAfter)
        case .billing:
            return make(
                .quotaExceeded,
                "The provider '\(provider)' refused the request for billing reasons\(because). Check the account's credit, or use another provider.")
        case .overloaded:
            return make(
                .overloaded,
                "The provider '\(provider)' is overloaded\(because). Retry later or use another provider.",
                retryAfter: retryAfter)
        case .server:
            return make(
                .upstreamServerError,
                "The provider '\(provider)' failed\(because). Retry later or use another provider.")
        case .invalid:
            let text = upstreamMessage?.lowercased() ?? ""
            if text.contains("prompt is too long") || text.contains("context limit") || text.contains("context window") {
                return make(
                    .contextLengthExceeded,
                    "The prompt is too long for the model\(modelName) at '\(provider)'\(because). Shorten the conversation or the documents, or choose a model with a larger context window.")
            }
            return make(
                .invalidRequest,
                "The provider '\(provider)' rejected the request as invalid\(because). Check the model, maximum tokens, stop sequences and the anthropic-version setting.")
        }
    }

    /// What went wrong, from the error type or else the status.
    private enum ErrorKind {
        case invalid, authentication, permission, notFound, rateLimit, billing, overloaded, server

        init?(type: String?) {
            switch type {
            case "invalid_request_error", "request_too_large": self = .invalid
            case "authentication_error": self = .authentication
            case "permission_error": self = .permission
            case "not_found_error": self = .notFound
            case "rate_limit_error": self = .rateLimit
            case "billing_error": self = .billing
            case "overloaded_error": self = .overloaded
            case "api_error", "timeout_error": self = .server
            default: return nil
            }
        }

        init(status: Int?) {
            switch status {
            case 401: self = .authentication
            case 403: self = .permission
            case 404: self = .notFound
            case 429: self = .rateLimit
            case 402: self = .billing
            case 503, 529: self = .overloaded
            case .some(400..<500): self = .invalid
            default: self = .server  // 5xx, or an error event in a stream without a known type
            }
        }
    }
}
