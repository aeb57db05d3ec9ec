import AsyncHTTPClient
import NIOCore

/// Turns a provider's streamed body into chat events, whatever the chunk boundaries.
///
/// An error the upstream reports inside the stream is thrown after the events decoded before it were appended, so
/// ``ProviderTransport/chatStream(from:provider:decoder:)`` delivers that text first and then fails the stream: no
/// decoder needs to hold an error back for the next call.
public protocol ChatStreamDecoder: Sendable {
    /// Feeds the next bytes and appends the events they complete to `events`. Throws a ``ProviderError`` for an
    /// error the upstream sent in the stream; the events appended before it stand.
    mutating func feed(_ bytes: ByteBuffer, into events: inout [ChatStreamEvent]) throws
    /// The body ended; appends any last events. Streams whose format has no end sentinel end here.
    mutating func finish(into events: inout [ChatStreamEvent]) throws
}

extension ChatStreamDecoder {
    /// Feeds the next bytes; returns the events they complete. An error in the stream is thrown instead, dropping
    /// the events before it in these bytes: ``feed(_:into:)`` keeps them.
    public mutating func feed(_ bytes: ByteBuffer) throws -> [ChatStreamEvent] {
        var events: [ChatStreamEvent] = []
        try feed(bytes, into: &events)
        return events
    }

    /// The body ended; returns any last events.
    public mutating func finish() throws -> [ChatStreamEvent] {
        var events: [ChatStreamEvent] = []
        try finish(into: &events)
        return events
    }
}

extension ProviderTransport {
    /// A ``ChatStream`` read from `response` by `decoder`, before the response's deadline.
    ///
    /// Events before an error in the stream are delivered, then the stream fails with that error. The stream fails
    /// with `malformedResponse` when the body ends before the decoder produced an `.end` event or the connection is
    /// cut mid-body (a truncated answer: the upstream was reached), and with `timeout` at the deadline. Cancelling the
    /// consumer (dropping the stream) cancels the upstream request.
    public static func chatStream<Decoder: ChatStreamDecoder>(
        from response: UpstreamResponse, provider: String, decoder: Decoder
    ) -> ChatStream {
        let (stream, continuation) = ChatStream.makeStream()
        let task = Task {
            do {
                try await withDeadline(response.deadline, provider: provider, phase: .body) {
                    var decoder = decoder
                    var ended = false
                    /// Yields the events `decode` appends, up to the first `.end`, then rethrows its error if any.
                    func deliver(_ decode: (inout [ChatStreamEvent]) throws -> Void) throws {
                        var events: [ChatStreamEvent] = []
                        defer {
                            for event in events where !ended {
                                continuation.yield(event)
                                if case .end = event { ended = true }
                            }
                        }
                        try decode(&events)
                    }
                    for try await chunk in response.body {
                        try deliver { try decoder.feed(chunk, into: &$0) }
                    }
                    try deliver { try decoder.finish(into: &$0) }
                    guard ended else {
                        throw ProviderError.malformedResponse(
                            provider: provider, reason: "the stream ended before the answer was complete")
                    }
                }
                continuation.finish()
            } catch {
                // The head arrived, so the upstream was reached: a transport failure now cut the stream short.
                continuation.finish(throwing: ProviderTransport.map(error, provider: provider, phase: .body, timeouts: nil))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
