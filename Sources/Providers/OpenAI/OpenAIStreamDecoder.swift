import Foundation
import NIOCore

/// Reads an OpenAI-compatible chat completion stream (server-sent events of `data: {chunk}`, then `data: [DONE]`).
///
/// Non-empty `choices[0].delta.content` becomes a `.delta`; the finish reason is remembered from the chunk that
/// carries it and the usage from the chunk with `choices: []` (sent when `stream_options.include_usage` is set);
/// `[DONE]` ends the answer. A data event with a top-level `error` throws the mapped ``ProviderError``.
struct OpenAIStreamDecoder: ChatStreamDecoder {
    let errors: OpenAIWire.ErrorTranslator
    let model: String
    private var parser = ServerSentEventParser()
    private var finishReason: FinishReason?
    private var usage: TokenUsage?
    private var done = false

    init(errors: OpenAIWire.ErrorTranslator, model: String) {
        self.errors = errors
        self.model = model
    }

    mutating func feed(_ bytes: ByteBuffer, into events: inout [ChatStreamEvent]) throws {
        guard !done else { return }
        for event in parser.feed(bytes.readableBytesView) {
            try handle(event, into: &events)
            if done { break }
        }
    }

    mutating func finish(into events: inout [ChatStreamEvent]) throws {
        guard !done else { return }
        if let last = parser.finish() { try handle(last, into: &events) }
        // Some compatible servers close the stream after the finish reason without `[DONE]`; the answer is complete.
        if !done, let finishReason {
            done = true
            events.append(.end(finishReason: finishReason, usage: usage))
        }
    }

    private mutating func handle(_ event: ServerSentEvent, into events: inout [ChatStreamEvent]) throws {
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data.hasPrefix("[DONE]") {
            done = true
            events.append(.end(finishReason: finishReason ?? .stop, usage: usage))
            return
        }
        if data.isEmpty { return }
        let chunk = try WireDecoding.decode(
            OpenAIWire.ChatCompletionChunk.self, from: Data(data.utf8), decoder: OpenAIWire.makeDecoder(),
            what: "a stream chunk", provider: errors.provider)
        if let error = chunk.error {
            throw errors.error(status: nil, headers: nil, detail: error, model: model)
        }
        if let usage = chunk.usage { self.usage = usage.tokenUsage }
        guard let choice = chunk.choices?.first(where: { ($0.index ?? 0) == 0 }) else { return }
        if let content = choice.delta?.content, !content.isEmpty { events.append(.delta(content)) }
        if let reason = choice.finishReason { finishReason = OpenAIProvider.finishReason(reason) }
    }
}
