import Foundation
import Providers
import Routing

/// The OpenAI request and response shapes the appliance's `/v1` endpoints speak, as the official SDKs send and
/// read them.
enum OpenAIWire {
    struct ChatCompletionRequest: Decodable {
        struct Message: Decodable {
            var role: String
            var content: MessageContent?

            enum CodingKeys: String, CodingKey, CaseIterable { case role, content }
        }

        struct StreamOptions: Decodable {
            var includeUsage: Bool?
            enum CodingKeys: String, CodingKey, CaseIterable { case includeUsage = "include_usage" }
        }

        var model: String
        var messages: [Message]
        var stream: Bool?
        var streamOptions: StreamOptions?
        var temperature: Double?
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var stop: StopSequences?
        var n: Int?
        /// An appliance extension (the others are in ``RoutingOptions``): the provider, or `auto`.
        var provider: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, messages, stream, temperature, stop, n, provider
            case streamOptions = "stream_options"
            case maxTokens = "max_tokens"
            case maxCompletionTokens = "max_completion_tokens"
        }
    }

    /// `content`: a string or a list of parts, of which the text parts count.
    struct MessageContent: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string
                return
            }
            struct Part: Decodable {
                var type: String
                var text: String?
            }
            guard let parts = try? container.decode([Part].self) else {
                throw DecodingError.typeMismatch(
                    String.self,
                    .init(codingPath: decoder.codingPath, debugDescription: "content must be a string or a list of parts"))
            }
            if let other = parts.first(where: { $0.type != "text" }) {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "content parts of type '\(other.type)' are not supported; send text"))
            }
            text = parts.compactMap(\.text).joined()
        }
    }

    /// `stop`: a string or a list of strings.
    struct StopSequences: Decodable {
        var values: [String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { values = [one] } else { values = try container.decode([String].self) }
        }
    }

    struct Usage: Encodable {
        var promptTokens: Int
        var completionTokens: Int
        var totalTokens: Int

        init(_ usage: TokenUsage) {
            promptTokens = usage.inputTokens
            completionTokens = usage.outputTokens
            totalTokens = usage.inputTokens + usage.outputTokens
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        }
    }

    struct ChatCompletion: Encodable {
        struct Choice: Encodable {
            struct Message: Encodable {
                var role = "assistant"
                var content: String
                var refusal: String? = nil

                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(role, forKey: .role)
                    try container.encode(content, forKey: .content)
                    try container.encodeNil(forKey: .refusal)
                }

                enum CodingKeys: String, CodingKey { case role, content, refusal }
            }

            var index = 0
            var message: Message
            var finishReason: String

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(index, forKey: .index)
                try container.encode(message, forKey: .message)
                try container.encodeNil(forKey: .logprobs)
                try container.encode(finishReason, forKey: .finishReason)
            }

            enum CodingKeys: String, CodingKey {
                case index, message, logprobs, finishReason = "finish_reason"
            }
        }

        var id: String
        var object = "chat.completion"
        var created: Int
        var model: String
        var choices: [Choice]
        var usage: Usage
    }

    /// One `chat.completion.chunk`, encoded by hand so that `usage: null` and `delta: {}` come out as OpenAI
    /// writes them.
    static func chunk(
        id: String, created: Int, model: String, delta: [String: String]?, finishReason: String?, usage: TokenUsage?,
        includeUsageField: Bool
    ) -> String {
        var object: [String: Any] = ["id": id, "object": "chat.completion.chunk", "created": created, "model": model]
        if let delta {
            var choice: [String: Any] = ["index": 0, "delta": delta, "logprobs": NSNull()]
            choice["finish_reason"] = finishReason ?? NSNull()
            object["choices"] = [choice]
        } else {
            object["choices"] = [Any]()
        }
        if includeUsageField {
            object["usage"] =
                usage.map {
                    ["prompt_tokens": $0.inputTokens, "completion_tokens": $0.outputTokens, "total_tokens": $0.inputTokens + $0.outputTokens]
                } ?? NSNull()
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func finishReason(_ reason: FinishReason) -> String { reason.rawValue }

    struct EmbeddingsRequest: Decodable {
        var model: String
        var input: EmbeddingInput
        var encodingFormat: String?
        var dimensions: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, input, dimensions, encodingFormat = "encoding_format"
        }
    }

    /// `input`: a string or a list of at most ``AIRouter/maximumEmbeddingInputs`` strings, as OpenAI bounds it (token
    /// arrays are refused with a message). A longer list is refused before its strings are read.
    struct EmbeddingInput: Decodable {
        var texts: [String]
        /// Whether `input` was one string rather than a list (for the messages that name an input).
        var isSingle: Bool

        init(from decoder: any Decoder) throws {
            let limit = AIRouter.maximumEmbeddingInputs
            if let one = try? decoder.singleValueContainer().decode(String.self) {
                texts = [one]
                isSingle = true
                return
            }
            func refuse(_ reason: String) -> DecodingError {
                DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: reason))
            }
            guard var list = try? decoder.unkeyedContainer() else {
                throw refuse("input must be a string or a list of strings (token arrays are not supported)")
            }
            if let count = list.count, count > limit {
                throw refuse("at most \(limit) inputs per request (as OpenAI allows); this one has \(count)")
            }
            var texts: [String] = []
            while !list.isAtEnd {
                guard texts.count < limit else { throw refuse("at most \(limit) inputs per request (as OpenAI allows)") }
                guard let text = try? list.decode(String.self) else {
                    throw refuse("input must be a string or a list of strings (token arrays are not supported)")
                }
                texts.append(text)
            }
            self.texts = texts
            isSingle = false
        }
    }
}
