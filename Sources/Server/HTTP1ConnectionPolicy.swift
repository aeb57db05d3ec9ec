import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 channel, with the connection closed after the response whenever the request did not ask to
/// keep it alive: an HTTP/1.0 request without `Connection: keep-alive`, or any `Connection: close` however it is
/// spelled. (Hummingbird closes only on the exact value `close`, and HTTP/1.0's default is lost in the conversion
/// to HTTP types.)
struct KeepAliveAwareHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let codec = try channel.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self)
            try channel.pipeline.syncOperations.addHandler(ConnectionCloseMarker(), position: .before(codec))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Writes `Connection: close` into the head of every request that is not keep-alive, which Hummingbird honours.
final class ConnectionCloseMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with an idle timeout, closing connections that did not ask to stay open.
    static func applianceHTTP1(idleTimeout: Duration) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            KeepAliveAwareHTTP1Channel(
                base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(idleTimeout))))
        }
    }
}
