import Foundation
import NIOCore

/// Decodes a streamed Gemini answer (`:streamGenerateContent?alt=sse`), whatever the chunk boundaries and whether
/// events end with CRLF or LF.
///
/// Every event is a whole `GenerateContentResponse` whose `parts[].text` are deltas and whose `usageMetadata` is
/// cumulative (the last one counts). The last chunk carries the `finishReason`, and there is no end sentinel: the
/// stream ends when the body does, so ``finish()`` emits the ``ChatStreamEvent/end(finishReason:usage:)`` —
/// only if a finish reason arrived; otherwise the body was cut, and the transport reports `malformedResponse`.
/// A blocked prompt (`promptFeedback.blockReason`) or an error object in the stream throws.
public struct GeminiStreamDecoder: ChatStreamDecoder {
    /// The provider name put in errors.
    public let provider: String
    /// The model asked for, named in errors.
    public let model: String?
    private var parser = ServerSentEventParser()
    private var finishReason: String?
    private var usage: GeminiWire.UsageMetadata?

    /// A decoder for one streamed answer.
    public init(provider: String, model: String? = nil) {
        self.provider = provider
        self.model = model
    }

    /// Feeds the next bytes of the body; appends the events they complete.
    public mutating func feed(_ bytes: ByteBuffer, into events: inout [ChatStreamEvent]) throws {
        for event in parser.feed(bytes.readableBytesView) { events += try handle(event) }
    }

    /// The body ended: appends the last events and the end, if a finish reason arrived.
    public mutating func finish(into events: inout [ChatStreamEvent]) throws {
        if let last = parser.finish() { events += try handle(last) }
        if let finishReason {
            events.append(.end(finishReason: GeminiWire.finishReason(finishReason), usage: GeminiWire.usage(usage)))
        }
    }

    private mutating func handle(_ event: ServerSentEvent) throws -> [ChatStreamEvent] {
        let chunk = try GeminiWire.decode(
            GeminiWire.GenerateContentResponse.self, from: Data(event.data.utf8), what: "a stream chunk",
            provider: provider)
        if let error = chunk.error {
            throw GeminiWire.error(error, status: nil, provider: provider, model: model)
        }
        if let metadata = chunk.usageMetadata { usage = metadata }
        let candidate = chunk.candidates?.first
        if candidate == nil, let reason = chunk.promptFeedback?.blockReason {
            throw GeminiWire.blocked(reason: reason, provider: provider)
        }
        if let reason = candidate?.finishReason { finishReason = reason }
        let text = GeminiWire.text(of: candidate)
        return text.isEmpty ? [] : [.delta(text)]
    }
}
