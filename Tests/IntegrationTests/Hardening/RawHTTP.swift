import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Bytes on a TCP connection to the appliance, for what an HTTP client library will not send: half requests,
/// HTTP/1.0, broken chunked encoding.
enum RawHTTP {
    struct Exchange: Sendable {
        /// Everything the server sent.
        var text: String
        /// Whether the server closed the connection within the wait.
        var closedByServer: Bool

        /// The status of the first response, if one arrived.
        var status: Int? {
            guard text.hasPrefix("HTTP/1."), text.count >= 12 else { return nil }
            return Int(text.dropFirst(9).prefix(3))
        }

        var body: String {
            guard let range = text.range(of: "\r\n\r\n") else { return "" }
            return String(text[range.upperBound...])
        }
    }

    /// Sends `bytes` and reads until the server closes the connection or `wait` passes.
    static func exchange(port: Int, _ bytes: String, wait: Duration) async throws -> Exchange {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        // The wait ends by closing the connection from here; a close from the server comes first otherwise.
        let timedOut = Mutex(false)
        let waitNanoseconds = wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
        let timer = channel.channel.eventLoop.scheduleTask(in: .nanoseconds(waitNanoseconds)) {
            timedOut.withLock { $0 = true }
            channel.channel.close(promise: nil)
        }
        let text = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            var text = ""
            do {
                for try await chunk in inbound { text += String(decoding: chunk.readableBytesView, as: UTF8.self) }
            } catch {
                // A reset or our own close: what arrived before it is the answer.
            }
            return text
        }
        timer.cancel()
        return Exchange(text: text, closedByServer: !timedOut.withLock { $0 })
    }

    /// A status and body for a simple request (the connection closed after it).
    struct Reply: Sendable {
        var status: Int
        var body: String
    }

    static func get(port: Int, path: String) async throws -> Reply {
        let exchange = try await exchange(
            port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", wait: .seconds(30))
        return Reply(status: exchange.status ?? 0, body: exchange.body)
    }

    static func post(port: Int, path: String, body: String) async throws -> Reply {
        let exchange = try await exchange(
            port: port,
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)",
            wait: .seconds(30))
        return Reply(status: exchange.status ?? 0, body: exchange.body)
    }
}
