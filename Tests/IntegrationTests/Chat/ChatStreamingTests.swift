import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import PostgresNIO
import Retrieval
import Routing
import Server
import Storage
import Synchronization
import Testing

/// A fake OpenAI-compatible upstream on port 0: answers `POST /v1/chat/completions` with `answer`, as JSON or as a
/// stream that sends `answer` and then a "." every 50 ms for 30 s, never ending, until the appliance goes away. It records how many requests came and whether a stream was abandoned.
final class HoldingOpenAIUpstream: Sendable {
    let answer: String
    let requests = Atomic(0)
    let abandoned = Atomic(false)

    init(answer: String) {
        self.answer = answer
    }

    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ in try await self.respond(request) }
        return try await ChatFixtures.serving(router, body)
    }

    private func respond(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        requests.add(1, ordering: .relaxed)
        let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        let quoted = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        guard json?["stream"] as? Bool == true else {
            let completion = """
                {"id":"c1","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":[{"index":0,\
                "message":{"role":"assistant","content":\(quoted)},"finish_reason":"stop"}],\
                "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}
                """
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: completion)))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                let chunk = """
                    data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"gpt-4o-mini","choices":[{"index":0,\
                    "delta":{"content":\(quoted)}}]}


                    """
                do {
                    try await writer.write(ByteBuffer(string: chunk))
                    for _ in 0..<600 {
                        try await Task.sleep(for: .milliseconds(50))
                        try await writer.write(
                            ByteBuffer(
                                string: """
                                    data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"gpt-4o-mini",\
                                    "choices":[{"index":0,"delta":{"content":"."}}]}


                                    """))
                    }
                } catch {
                    self.abandoned.store(true, ordering: .relaxed)
                    throw error
                }
                try await writer.finish(nil)
            })
    }
}

/// A fake OpenAI-compatible upstream whose stream breaks midway: one delta, then a line that is not JSON.
enum BreakingOpenAIUpstream {
    static func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/chat/completions") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    try await writer.write(
                        ByteBuffer(
                            string: """
                                data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"gpt-4o-mini",\
                                "choices":[{"index":0,"delta":{"content":"Backups run at"}}]}

                                data: {"id":"c1","object":"chat.completion.chunk","cho


                                """))
                    try await writer.finish(nil)
                })
        }
        return try await ChatFixtures.serving(router, body)
    }
}

/// Streaming chat: the event order, and a client that goes away midway; private documents and the router.
@Suite struct ChatStreamingTests {
    typealias F = ChatFixtures

    @Test func aStreamSendsCitationsThenDeltasThenDone() async throws {
        try await F.withServer { client, _ in
            let response = try await F.post(client, #"{"message": "When do backups run?", "stream": true, "top_k": 2}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = F.events(String(buffer: response.body))
            let names = events.map(\.name)
            #expect(names.first == "citations" && names.last == "done", "\(names)")
            #expect(names.dropFirst().dropLast().allSatisfy { $0 == "delta" } && names.count >= 3)
            let citations = F.json(events[0].data)
            #expect((citations["citations"] as? [[String: Any]])?.count == 2)
            let done = F.json(events[events.count - 1].data)
            let text = events.filter { $0.name == "delta" }.map { F.json($0.data)["text"] as? String ?? "" }.joined()
            #expect(done["answer"] as? String == text && text.contains("02:00"))
            #expect(done["conversation_id"] as? String == citations["conversation_id"] as? String)
            #expect(done["message_id"] as? String == citations["message_id"] as? String)
            #expect(done["usage"] is [String: Any] && done["partial"] == nil)
            // Every citation of the answer is one of the passages the first event listed.
            let listed = Set((citations["citations"] as? [[String: Any]] ?? []).compactMap { $0["n"] as? Int })
            let cited = (done["citations"] as? [[String: Any]] ?? []).compactMap { $0["n"] as? Int }
            #expect(!cited.isEmpty && cited.allSatisfy(listed.contains))

            let id = try #require(done["conversation_id"] as? String)
            let stored = try F.object(try await client.execute(uri: "/api/conversations/\(id)", method: .get))
            let messages = stored["messages"] as? [[String: Any]] ?? []
            #expect(messages.count == 2 && messages[1]["content"] as? String == text && messages[1]["partial"] as? Bool == false)
        }
    }

    static func routing(_ upstream: String) throws -> RoutingConfiguration {
        try RoutingConfiguration.parse(
            yaml: """
                routing:
                  default_strategy: remote_first
                providers:
                  openai:
                    endpoints: [{url: '\(upstream)/v1', api_key_env: OPENAI_API_KEY}]
                models:
                  openai/gpt-4o-mini: {input_per_1k: 0.15, output_per_1k: 0.6, context_window: 128000, quality: medium}
                strategies:
                  remote_first:
                    - {provider: openai, model: gpt-4o-mini}
                """, environment: ["OPENAI_API_KEY": "sk-test-CHAT"])
    }

    /// The server over `database`, answering with `auto` through a router whose only remote provider is `upstream`.
    static func application(_ database: Database, _ appliance: Appliance, upstream: String) throws -> some ApplicationProtocol {
        let routed = ApplianceRouter(client: database, configuration: try Self.routing(upstream))
        let direct = appliance.askService
        let ask = AskService(
            store: direct.store, retriever: direct.retriever, answerer: RoutedAnswerer(router: routed.router, model: "auto"),
            logger: TestDatabase.logger)
        return buildApplication(
            configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: ask), logger: TestDatabase.logger)
    }

    /// A fresh database with the backups document ingested for `default`.
    static func withBackups(_ body: @Sendable (Database, Appliance) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(ChatFixtures.documents["backups.md"] ?? "", to: "backups.md")
        try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            _ = try await appliance.ingest([directory.path])
            try await body(database, appliance)
        }
    }

    @Test func aClientThatGoesAwayCancelsTheUpstreamAndThePartialAnswerIsStored() async throws {
        let upstream = HoldingOpenAIUpstream(answer: "Backups run at 02:00 [1]")
        try await upstream.run { upstreamURL in
            try await Self.withBackups { database, appliance in
                let app = try Self.application(database, appliance, upstream: upstreamURL)
                try await app.test(.live) { client in
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(client.port!)/api/rag/chat")
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: #"{"message": "When do backups run?", "stream": true}"#))
                    let http = HTTPClient(eventLoopGroupProvider: .singleton)
                    do {
                        let response = try await http.execute(request, timeout: .seconds(60))
                        #expect(response.status == .ok)
                        var received = ""
                        for try await piece in response.body {
                            received += String(buffer: piece)
                            if received.contains("event: delta") { break }
                        }
                        #expect(received.hasPrefix("event: citations"))
                    }
                    // Going away: the connection closes with the client.
                    try await http.shutdown()

                    let stored = try await ChatFixtures.eventually {
                        let rows = try await database.query(
                            "SELECT content, partial FROM conversation_messages WHERE role = 'assistant'", logger: TestDatabase.logger)
                        return try rows.decode((String, Bool).self).contains { $0.0.hasPrefix("Backups run at 02:00 [1]") && $0.1 }
                    }
                    #expect(stored, "the partial answer was not stored")
                    #expect(try await ChatFixtures.eventually { upstream.abandoned.load(ordering: .relaxed) }, "the upstream call went on")
                }
            }
        }
    }

    @Test func anAnswerFromAPrivateDocumentIsGeneratedLocallyWhateverTheStrategy() async throws {
        let upstream = HoldingOpenAIUpstream(answer: "Backups run at 02:00 [1][7].")
        try await upstream.run { upstreamURL in
            let directory = try TemporaryDirectory()
            defer { directory.delete() }
            try directory.write(ChatFixtures.documents["backups.md"] ?? "", to: "public/backups.md")
            try directory.write("# Salaries\n\nSalaries are paid on the 25th of each month.\n", to: "private/salaries.md")
            try await TestDatabase.withFreshDatabase { database, _ in
                let appliance = Appliance(client: database)
                _ = try await appliance.ingest([directory.path + "/public"])
                _ = try await appliance.ingest([directory.path + "/private"])
                // What `unity-ai ingest --private` does after ingesting a root.
                let store = KnowledgeStore(client: database)
                let tenantID = try #require(try await store.tenantID(named: "default", logger: TestDatabase.logger))
                let root = "file://" + URL(fileURLWithPath: directory.path + "/private").standardizedFileURL.path
                #expect(try await store.markPrivate(true, tenantID: tenantID, root: root, logger: TestDatabase.logger) == 1)

                let app = try Self.application(database, appliance, upstream: upstreamURL)
                try await app.test(.router) { client in
                    let salary = try F.object(
                        try await F.post(client, #"{"message": "When are salaries paid?", "top_k": 1, "strategy": "remote_first"}"#))
                    #expect(salary["provider"] as? String == "local", "\(salary)")
                    #expect((salary["answer"] as? String)?.contains("25th") == true)
                    #expect(upstream.requests.load(ordering: .relaxed) == 0)
                    // A follow-up whose history holds the private answer stays local too, even on a public passage.
                    let id = try #require(salary["conversation_id"] as? String)
                    let followUp = try F.object(
                        try await F.post(client, #"{"conversation_id": "\#(id)", "message": "When do backups run?", "top_k": 1}"#))
                    #expect(followUp["provider"] as? String == "local")
                    #expect(upstream.requests.load(ordering: .relaxed) == 0)

                    // The same strategy on a public document goes to the remote provider, whose made-up [7] is dropped.
                    let backups = try F.object(try await F.post(client, #"{"message": "When do backups run?", "top_k": 1}"#))
                    #expect(backups["provider"] as? String == "openai", "\(backups)")
                    #expect(upstream.requests.load(ordering: .relaxed) == 1)
                    #expect(backups["dropped_citations"] as? [Int] == [7])
                    #expect(F.sources(backups) == ["backups.md"])
                }
            }
        }
    }

    @Test func anUpstreamThatFailsMidwayEndsTheStreamWithAnErrorEventAndThePartialAnswerIsStored() async throws {
        try await BreakingOpenAIUpstream.run { upstreamURL in
            try await Self.withBackups { database, appliance in
                let app = try Self.application(database, appliance, upstream: upstreamURL)
                try await app.test(.router) { client in
                    let response = try await F.post(client, #"{"message": "When do backups run?", "stream": true, "top_k": 1}"#)
                    #expect(response.status == .ok)
                    let events = F.events(String(buffer: response.body))
                    #expect(events.map(\.name) == ["citations", "delta", "error"], "\(events)")
                    let error = try #require(F.json(events.last?.data ?? "")["error"] as? [String: Any], "\(events)")
                    #expect(error["code"] as? String == "upstream_malformed_response", "\(error)")
                    #expect((error["message"] as? String)?.isEmpty == false)

                    let id = try #require(F.json(events[0].data)["conversation_id"] as? String)
                    let stored = try F.object(try await client.execute(uri: "/api/conversations/\(id)", method: .get))
                    let messages = stored["messages"] as? [[String: Any]] ?? []
                    #expect(messages.count == 2, "\(stored)")
                    #expect(messages.last?["content"] as? String == "Backups run at" && messages.last?["partial"] as? Bool == true)
                }
            }
        }
    }
}
