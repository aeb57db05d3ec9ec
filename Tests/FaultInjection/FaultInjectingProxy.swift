import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP proxy in front of the S3 server, on 127.0.0.1 and a free port, that fails chosen requests: an error
/// answer, a reset connection, a stalled or slow answer, corrupted bytes. Requests pass through unchanged otherwise
/// (the `Host` header included, so their signatures still hold).
///
/// A library of the tests (not of the appliance): the S3 client's tests and the backup tests share it.
public final class FaultInjectingProxy: Sendable {
    /// What to do with one request.
    public enum Action: Sendable {
        /// Send it on and relay the answer.
        case forward
        /// Answer without asking the server: an S3 error.
        case respond(status: Int, code: String)
        /// Reset the connection (RST) as soon as the request head arrives, while the client is still sending.
        case reset
        /// Hold the request for this long, then close the connection without sending it on.
        case stall(Duration)
        /// Wait this long, then forward it.
        case delay(Duration)
        /// Flip one byte of the request body, then forward it.
        case corruptRequest
        /// Forward it, then flip one byte of the answer's body.
        case corruptResponse
    }

    /// Decides what happens to each request.
    public typealias Rule = @Sendable (Request) -> Action

    /// A request as the rules see it.
    public struct Request: Sendable, CustomStringConvertible {
        /// `PUT`, `POST`, …
        public var method: String
        /// The path and query.
        public var uri: String
        /// `partNumber` from the query: an UploadPart.
        public var partNumber: Int?
        /// 1 for the first request with this method and URI, 2 for its first retry, ….
        public var attempt: Int
        public var description: String { "\(method) \(uri) (attempt \(attempt))" }
    }

    /// The port the proxy listens on.
    public let port: Int
    /// The server requests are sent on to.
    public let upstream: String
    private let rule: @Sendable (Request) -> Action
    private let state = Mutex(State())

    private struct State {
        var attempts: [String: Int] = [:]
        var log: [Request] = []
        var activeParts = 0
        var maximumActiveParts = 0
    }

    /// Every request seen, in order of arrival.
    public var requests: [Request] { state.withLock { $0.log } }
    /// The most UploadPart requests that were in the proxy at once.
    public var maximumConcurrentParts: Int { state.withLock { $0.maximumActiveParts } }

    private init(port: Int, upstream: String, rule: @escaping @Sendable (Request) -> Action) {
        self.port = port
        self.upstream = upstream
        self.rule = rule
    }

    /// `http://127.0.0.1:<port>`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Runs `body` with a proxy in front of `upstream`, and stops the proxy afterwards.
    public static func with<Result: Sendable>(
        upstream: String, rule: @escaping @Sendable (Request) -> Action,
        _ body: (FaultInjectingProxy) async throws -> Result
    ) async throws -> Result {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        guard let port = server.channel.localAddress?.port else { throw ProxyError() }
        let proxy = FaultInjectingProxy(port: port, upstream: upstream, rule: rule)
        var settings = HTTPClient.Configuration()
        settings.redirectConfiguration = .disallow
        let forwarder = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
        do {
            let result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await withThrowingDiscardingTaskGroup { connections in
                        try await server.executeThenClose { inbound in
                            for try await connection in inbound {
                                connections.addTask { await proxy.serve(connection, forwarder: forwarder) }
                            }
                        }
                    }
                }
                defer { group.cancelAll() }
                let result = try await body(proxy)
                try? await server.channel.close()
                return result
            }
            try await forwarder.shutdown()
            return result
        } catch {
            try? await forwarder.shutdown()
            throw error
        }
    }

    private struct Reset: Error {}

    /// The proxy could not listen.
    struct ProxyError: Error, CustomStringConvertible {
        var description: String { "The fault-injecting proxy has no port to listen on." }
    }

    private func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, forwarder: HTTPClient
    ) async {
        let channel = connection.channel
        _ = try? await connection.executeThenClose { inbound, outbound -> Void in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            var action = Action.forward
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.clear()
                    action = decide(requestHead)
                    if case .reset = action {
                        // SO_LINGER 0: close() sends RST instead of FIN.
                        try await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                            .get()
                        throw Reset()
                    }
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let requestHead = head else { continue }
                    defer { finishPart(requestHead) }
                    try await respond(
                        to: requestHead, body: body, action: action, outbound: outbound, forwarder: forwarder)
                }
            }
        }
    }

    private func decide(_ head: HTTPRequestHead) -> Action {
        let partNumber = URLComponents(string: head.uri)?.queryItems?.first { $0.name == "partNumber" }
            .flatMap { $0.value.flatMap(Int.init) }
        let request = state.withLock { state -> Request in
            let id = "\(head.method.rawValue) \(head.uri)"
            state.attempts[id, default: 0] += 1
            let request = Request(
                method: head.method.rawValue, uri: head.uri, partNumber: partNumber, attempt: state.attempts[id]!)
            state.log.append(request)
            if partNumber != nil {
                state.activeParts += 1
                state.maximumActiveParts = max(state.maximumActiveParts, state.activeParts)
            }
            return request
        }
        return rule(request)
    }

    private func finishPart(_ head: HTTPRequestHead) {
        guard head.uri.contains("partNumber=") else { return }
        state.withLock { $0.activeParts -= 1 }
    }

    private func respond(
        to head: HTTPRequestHead, body: ByteBuffer, action: Action,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, forwarder: HTTPClient
    ) async throws {
        var body = body
        switch action {
        case .respond(let status, let code):
            let xml = """
                <?xml version="1.0" encoding="UTF-8"?>
                <Error><Code>\(code)</Code><Message>Injected by the test proxy.</Message><RequestId>proxy</RequestId></Error>
                """
            var headers = HTTPHeaders([("content-type", "application/xml")])
            let bytes = ByteBuffer(string: xml)
            headers.add(name: "content-length", value: String(bytes.readableBytes))
            try await outbound.write(
                .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers)))
            if head.method != .HEAD { try await outbound.write(.body(.byteBuffer(bytes))) }
            try await outbound.write(.end(nil))
            return
        case .stall(let duration):
            try await Task.sleep(for: duration)
            throw Reset()
        case .delay(let duration):
            try await Task.sleep(for: duration)
        case .corruptRequest:
            if body.readableBytes > 0 {
                let index = body.readerIndex + body.readableBytes / 2
                body.setInteger(body.getInteger(at: index, as: UInt8.self)! ^ 0xFF, at: index)
            }
        case .forward, .corruptResponse, .reset:
            break
        }
        var request = HTTPClientRequest(url: upstream + head.uri)
        request.method = head.method
        for header in head.headers
        where !["connection", "content-length", "transfer-encoding"].contains(header.name.lowercased()) {
            request.headers.add(name: header.name, value: header.value)
        }
        if body.readableBytes > 0 || head.method == .PUT || head.method == .POST { request.body = .bytes(body) }
        let response = try await forwarder.execute(request, timeout: .seconds(120))
        var answer = try await response.body.collect(upTo: 256 << 20)
        if case .corruptResponse = action, answer.readableBytes > 0 {
            let index = answer.readerIndex + answer.readableBytes / 2
            answer.setInteger(answer.getInteger(at: index, as: UInt8.self)! ^ 0xFF, at: index)
        }
        var headers = HTTPHeaders()
        for header in response.headers
        where !["connection", "transfer-encoding", "content-length"].contains(header.name.lowercased()) {
            headers.add(name: header.name, value: header.value)
        }
        if head.method == .HEAD {
            if let length = response.headers.first(name: "content-length") {
                headers.add(name: "content-length", value: length)
            }
        } else {
            headers.add(name: "content-length", value: String(answer.readableBytes))
        }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)))
        if head.method != .HEAD, answer.readableBytes > 0 { try await outbound.write(.body(.byteBuffer(answer))) }
        try await outbound.write(.end(nil))
    }
}
