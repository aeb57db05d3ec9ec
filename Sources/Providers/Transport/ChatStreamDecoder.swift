import AsyncHTTPClient
import NIOCore

/// Turns a provider's streamed body into chat events, whatever the chunk boundaries.
public protocol ChatStreamDecoder: Sendable {
    /// Feeds the next bytes; returns the events they complete. Throws a ``ProviderError`` for an error the
    /// upstream sent in the stream.
    mutating func feed(_ bytes: ByteBuffer) throws -> [ChatStreamEvent]
    /// The body ended; returns any last events. Streams whose format has no end sentinel end here.
    mutating func finish() throws -> [ChatStreamEvent]
}

extension ProviderTransport {
    /// A ``ChatStream`` read from `response` by `decoder`, before the response's deadline.
    ///
    /// The stream fails with `malformedResponse` when the body ends before the decoder produced an `.end`
    /// event (a cut stream), and with `timeout` at the deadline. Cancelling the consumer (dropping the stream)
    /// cancels the upstream request.
    public static func chatStream<Decoder: ChatStreamDecoder>(
        from response: UpstreamResponse, provider: String, decoder: Decoder
    ) -> ChatStream {
        let (stream, continuation) = ChatStream.makeStream()
        let task = Task {
            do {
                try await withDeadline(response.deadline, provider: provider) {
                    var decoder = decoder
                    var ended = false
                    for try await chunk in response.body {
                        for event in try decoder.feed(chunk) where !ended {
                            continuation.yield(event)
                            if case .end = event { ended = true }
                        }
                    }
                    for event in try decoder.finish() where !ended {
                        continuation.yield(event)
                        if case .end = event { ended = true }
                    }
                    guard ended else {
                        throw ProviderError.malformedResponse(
                            provider: provider, reason: "the stream ended before the answer was complete")
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: ProviderTransport.map(error, provider: provider, phase: "streaming", timeouts: nil))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
