import Foundation
import NIOCore

/// Decodes a streamed Anthropic Messages answer (`"stream": true`): server-sent events named `message_start`,
/// `content_block_start`, `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`
/// and `error`, whatever the chunk boundaries.
///
/// Text deltas become ``ChatStreamEvent/delta(_:)``; `message_stop` becomes the one
/// ``ChatStreamEvent/end(finishReason:usage:)``, with the input tokens of `message_start` and the (cumulative)
/// output tokens of the last `message_delta`. An `error` event throws the matching ``ProviderError``
/// (`overloaded_error` is ``ProviderError/Code/overloaded``). `ping`, tool-input, thinking and unknown events are
/// skipped.
public struct AnthropicStreamDecoder: ChatStreamDecoder {
    /// The provider name put in errors.
    public let provider: String
    /// The model asked for, named in errors.
    public let model: String?
    private var parser = ServerSentEventParser()
    private var inputTokens: Int?
    private var outputTokens: Int?
    private var stopReason: String?

    /// A decoder for one streamed answer.
    public init(provider: String, model: String? = nil) {
        self.provider = provider
        self.model = model
    }

    /// Feeds the next bytes of the body; appends the events they complete.
    public mutating func feed(_ bytes: ByteBuffer, into events: inout [ChatStreamEvent]) throws {
        for event in parser.feed(bytes.readableBytesView) { events += try handle(event) }
    }

    /// The body ended; appends the events of a last event that lacked its blank line.
    public mutating func finish(into events: inout [ChatStreamEvent]) throws {
        if let last = parser.finish() { events += try handle(last) }
    }

    /// The events that carry what a chat stream needs; the rest are skipped unread.
    private static let handledEvents: Set<String> = [
        "message_start", "content_block_delta", "message_delta", "message_stop", "error",
    ]

    private mutating func handle(_ event: ServerSentEvent) throws -> [ChatStreamEvent] {
        // The event name equals the data's `type`; either one is enough.
        let payload = try? AnthropicWire.decoder.decode(AnthropicWire.StreamEvent.self, from: Data(event.data.utf8))
        guard let name = event.event ?? payload?.type, Self.handledEvents.contains(name) else { return [] }
        guard let payload else {
            throw ProviderError.malformedResponse(provider: provider, reason: "a '\(name)' stream event is not valid JSON")
        }
        switch name {
        case "message_start":
            if let usage = payload.message?.usage {
                inputTokens = usage.inputTokens ?? inputTokens
                outputTokens = usage.outputTokens ?? outputTokens
            }
            return []
        case "content_block_delta":
            guard payload.delta?.type == "text_delta", let text = payload.delta?.text, !text.isEmpty else { return [] }
            return [.delta(text)]
        case "message_delta":
            if let reason = payload.delta?.stopReason { stopReason = reason }
            if let usage = payload.usage {
                // Newer servers repeat input_tokens here; output_tokens is the running total.
                inputTokens = usage.inputTokens ?? inputTokens
                outputTokens = usage.outputTokens ?? outputTokens
            }
            return []
        case "message_stop":
            let usage: TokenUsage? =
                inputTokens == nil && outputTokens == nil
                ? nil : TokenUsage(inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0)
            return [.end(finishReason: AnthropicWire.finishReason(stopReason), usage: usage)]
        default:  // "error"
            throw AnthropicWire.error(
                type: payload.error?.type, upstreamMessage: payload.error?.message, status: nil, retryAfter: nil,
                provider: provider, model: model)
        }
    }
}
