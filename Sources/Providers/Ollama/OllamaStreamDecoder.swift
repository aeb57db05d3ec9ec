import Foundation
import NIOCore

/// Reads an Ollama stream (NDJSON from `/api/chat` or `/api/generate`): each line's `message.content` (chat) or
/// `response` (generate) becomes a `.delta`; the line with `done: true` ends the answer with `done_reason` and the
/// token counts. A line `{"error": "…"}` (Ollama's way to fail after the 200 was sent) throws the mapped error.
struct OllamaStreamDecoder: ChatStreamDecoder {
    let errors: OllamaWire.ErrorTranslator
    let model: String
    private var lines = LineSplitter()
    private var done = false

    init(errors: OllamaWire.ErrorTranslator, model: String) {
        self.errors = errors
        self.model = model
    }

    mutating func feed(_ bytes: ByteBuffer, into events: inout [ChatStreamEvent]) throws {
        guard !done else { return }
        for line in lines.feed(bytes.readableBytesView) {
            try handle(line, into: &events)
            if done { break }
        }
    }

    mutating func finish(into events: inout [ChatStreamEvent]) throws {
        guard !done, let last = lines.finish() else { return }
        try handle(last, into: &events)
    }

    private mutating func handle(_ line: String, into events: inout [ChatStreamEvent]) throws {
        let answer = try WireDecoding.decode(
            OllamaWire.Answer.self, from: Data(line.utf8), decoder: OllamaWire.makeDecoder(), what: "a stream line",
            provider: errors.provider)
        if let error = answer.error {
            throw errors.error(status: nil, retryAfter: nil, text: error, model: model)
        }
        if !answer.text.isEmpty { events.append(.delta(answer.text)) }
        if answer.done == true {
            done = true
            events.append(.end(finishReason: OllamaProvider.finishReason(answer.doneReason), usage: answer.usage))
        }
    }
}
