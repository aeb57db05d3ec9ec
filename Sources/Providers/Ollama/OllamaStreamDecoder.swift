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
    /// An error that arrived in the same bytes as earlier events: those are returned first, the error next.
    private var pendingError: ProviderError?

    init(errors: OllamaWire.ErrorTranslator, model: String) {
        self.errors = errors
        self.model = model
    }

    mutating func feed(_ bytes: ByteBuffer) throws -> [ChatStreamEvent] {
        if let pendingError { throw pendingError }
        guard !done else { return [] }
        var events: [ChatStreamEvent] = []
        for line in lines.feed(bytes.readableBytesView) {
            do {
                try handle(line, into: &events)
            } catch let error as ProviderError {
                // Deliver the text that came before the error; the error follows on the next call.
                if events.isEmpty { throw error }
                pendingError = error
                break
            }
            if done { break }
        }
        return events
    }

    mutating func finish() throws -> [ChatStreamEvent] {
        if let pendingError { throw pendingError }
        guard !done, let last = lines.finish() else { return [] }
        var events: [ChatStreamEvent] = []
        try handle(last, into: &events)
        return events
    }

    private mutating func handle(_ line: String, into events: inout [ChatStreamEvent]) throws {
        let answer: OllamaWire.Answer
        do {
            answer = try OllamaWire.makeDecoder().decode(OllamaWire.Answer.self, from: Data(line.utf8))
        } catch {
            throw ProviderError.malformedResponse(
                provider: errors.provider, reason: OllamaWire.reason(for: error, decoding: "a stream line"))
        }
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
