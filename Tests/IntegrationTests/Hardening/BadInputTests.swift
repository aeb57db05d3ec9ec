import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Providers
import Routing
import Server
import Storage
import Testing

/// What a fuzzer found, each answered with the documented 4xx — and requests that used to stop the server.
@Suite struct BadInputTests {
    /// A catalogue with context windows, as `deploy/ai_routing.yaml` has: the `max_tokens` overflow needed one.
    static let configuration: RoutingConfiguration = {
        var configuration = RoutingConfiguration()
        configuration.models = [ModelCapabilities(provider: "local", model: "extractive", contextWindow: 8192, isLocal: true)]
        return configuration
    }()

    func withServer(
        _ configure: (inout ServerConfiguration) -> Void = { _ in }, mode: TestingSetup = .router,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "backups.md")
        var configured = ServerConfiguration()
        configured.port = 0
        configure(&configured)
        let server = configured
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path])
            let dependencies = ApplianceRouter(client: client, configuration: Self.configuration).dependencies(ask: appliance.askService)
            let app = buildApplication(configuration: server, dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(mode) { client in try await body(client) }
        }
    }

    struct Reply {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
        var code: String? {
            ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])
                .flatMap { $0["error"] as? [String: Any] }?["code"] as? String
        }
        var message: String {
            ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])
                .flatMap { $0["error"] as? [String: Any] }?["message"] as? String ?? ""
        }
    }

    static func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil)
        async throws -> Reply
    {
        try await client.execute(
            uri: uri, method: method, headers: [.contentType: "application/json"], body: body.map { ByteBuffer(string: $0) }
        ) { Reply(status: $0.status, headers: $0.headers, body: String(decoding: $0.body.readableBytesView, as: UTF8.self)) }
    }

    @Test(arguments: [
        ("/v1/chat/completions", #"{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9223372036854775807}"#),
        ("/v1/chat/completions", #"{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 9223372036854775807}"#),
        ("/api/ai/chat", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9223372036854775807}"#),
        ("/api/ai/generate", #"{"prompt": "hi", "max_tokens": 9223372036854775807}"#),
        ("/api/ai/chat", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": -9223372036854775808}"#),
    ])
    func theLargestMaxTokensIsA400NotAStoppedServer(_ path: String, _ body: String) async throws {
        try await withServer { client in
            let reply = try await Self.send(client, .post, path, body)
            #expect(reply.status == .badRequest, "\(reply.body)")
            #expect(reply.message.contains("max_tokens"))
            // Still serving.
            #expect(try await Self.send(client, .get, "/health").status == .ok)
        }
    }

    @Test func aNulInAQuestionIsA400() async throws {
        try await withServer { client in
            let reply = try await Self.send(client, .post, "/api/rag/ask", #"{"question": "backup\u0000kept?"}"#)
            #expect(reply.status == .badRequest && reply.message.contains("NUL"), "\(reply.body)")
        }
    }

    @Test(arguments: ["the and of is", "?!?", "🎉", "[1] [2]"])
    func questionsThatRetrieveNothingAreAnsweredNotCovered(_ question: String) async throws {
        try await withServer { client in
            let reply = try await Self.send(client, .post, "/api/rag/ask", #"{"question": "\#(question)", "tenant": "default"}"#)
            #expect(reply.status == .ok, "\(reply.body)")
        }
    }

    @Test func lengthIsCountedInScalarsSoCombiningMarksCount() async throws {
        try await withServer { client in
            let bomb = "a" + String(repeating: "\u{301}", count: 150_000)
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["question": bomb]), as: UTF8.self)
            let reply = try await Self.send(client, .post, "/api/rag/ask", body)
            #expect(reply.status == .badRequest && reply.message.contains("150001"), "\(reply.message)")
        }
    }

    @Test func anEmptyProviderIsRoutedLikeNoProvider() async throws {
        try await withServer { client in
            let reply = try await Self.send(
                client, .post, "/api/ai/chat", #"{"provider": "", "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(reply.status == .ok, "\(reply.body)")
        }
    }

    @Test func anIntegerFieldGivenAFractionNamesTheField() async throws {
        try await withServer { client in
            let reply = try await Self.send(
                client, .post, "/api/ai/chat", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5}"#)
            #expect(reply.status == .badRequest)
            #expect(reply.message.contains("max_tokens") && !reply.message.contains("not valid JSON"), "\(reply.message)")
            let topK = try await Self.send(client, .post, "/api/rag/ask", #"{"question": "backups?", "top_k": 2.5}"#)
            #expect(topK.status == .badRequest && topK.message.contains("top_k"), "\(topK.message)")
        }
    }

    @Test func errorBodiesNeverEchoUnboundedInput() async throws {
        try await withServer { client in
            let huge = String(repeating: "m", count: 900_000)
            for path in ["/v1/chat/completions", "/api/ai/chat"] {
                let reply = try await Self.send(
                    client, .post, path, #"{"model": "\#(huge)", "messages": [{"role": "user", "content": "hi"}]}"#)
                #expect(reply.status.code >= 400 && reply.status.code < 500)
                #expect(reply.body.utf8.count < 4_096, "\(path): a \(reply.body.utf8.count)-byte error body")
            }
            let path = "/" + String(repeating: "p", count: 8_000)
            let missing = try await Self.send(client, .get, path)
            #expect(missing.status == .notFound && missing.body.utf8.count < 4_096)
        }
    }

    @Test func aWrongMethodIs405WithAllow() async throws {
        try await withServer { client in
            for (method, path, allowed) in [
                (HTTPRequest.Method.get, "/api/rag/ask", "POST"), (.delete, "/v1/chat/completions", "POST"),
                (.post, "/v1/models", "GET"), (.put, "/health", "GET"),
            ] {
                let reply = try await Self.send(client, method, path)
                #expect(reply.status == .methodNotAllowed, "\(method) \(path)")
                #expect(reply.code == "method_not_allowed")
                #expect(reply.headers[.allow] == allowed)
            }
            #expect(try await Self.send(client, .get, "/no/such/path").status == .notFound)
        }
    }

    // MARK: On the wire

    @Test func aConnectionLeftHalfwayThroughARequestIsClosed() async throws {
        try await withServer({ $0.idleTimeout = .seconds(1) }, mode: .live) { client in
            let port = try #require(client.port)
            let exchange = try await RawHTTP.exchange(
                port: port, "POST /api/rag/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"quest", wait: .seconds(20))
            #expect(exchange.closedByServer)
        }
    }

    @Test func anHTTP10RequestWithoutKeepAliveIsAnsweredAndClosed() async throws {
        try await withServer(mode: .live) { client in
            let port = try #require(client.port)
            let exchange = try await RawHTTP.exchange(port: port, "GET /health HTTP/1.0\r\n\r\n", wait: .seconds(20))
            #expect(exchange.status == 200)
            #expect(exchange.closedByServer)
        }
    }

    @Test func aMalformedChunkSizeIsA400() async throws {
        try await withServer(mode: .live) { client in
            let port = try #require(client.port)
            let exchange = try await RawHTTP.exchange(
                port: port,
                "POST /api/rag/ask HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                wait: .seconds(20))
            #expect(exchange.status == 400, "\(exchange.text.prefix(200))")
        }
    }
}
