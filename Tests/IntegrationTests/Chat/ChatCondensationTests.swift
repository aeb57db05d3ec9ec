import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Retrieval
import Routing
import Server
import Storage
import Synchronization
import Testing

/// A fake OpenAI-compatible upstream that tells a question rewrite (the chat's condensation prompt) from an answer:
/// a rewrite gets `rewrite`, an answer `answer`. It keeps every request body it received, in order.
final class RewritingOpenAIUpstream: Sendable {
    let rewrite: String
    let answer: String
    let bodies = Mutex<[String]>([])

    init(rewrite: String, answer: String) {
        self.rewrite = rewrite
        self.answer = answer
    }

    /// The messages of each request received, as (role, content) pairs.
    var requests: [[(role: String, content: String)]] {
        bodies.withLock { $0 }.map { body in
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            return ((json?["messages"] as? [[String: Any]]) ?? []).map {
                (role: $0["role"] as? String ?? "", content: $0["content"] as? String ?? "")
            }
        }
    }

    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ in try await self.respond(request) }
        return try await ChatFixtures.serving(router, body)
    }

    private func respond(_ request: Request) async throws -> Response {
        let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
        bodies.withLock { $0.append(body) }
        let isRewrite = body.contains("Rewrite the user's follow-up question")
        let quoted = String(decoding: try JSONEncoder().encode(isRewrite ? rewrite : answer), as: UTF8.self)
        let completion = """
            {"id":"c1","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":[{"index":0,\
            "message":{"role":"assistant","content":\(quoted)},"finish_reason":"stop"}],\
            "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}
            """
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: completion)))
    }
}

/// Condensation by a real answer model: a follow-up is rewritten by the model from the earlier questions (never the
/// answers), and retrieval uses the rewrite.
@Suite struct ChatCondensationTests {
    typealias F = ChatFixtures

    /// The chat server over the fixture documents, answering through `upstream` (its only remote provider).
    static func withChat(
        _ upstream: RewritingOpenAIUpstream, _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await upstream.run { url in
            let directory = try TemporaryDirectory()
            defer { directory.delete() }
            for (name, text) in F.documents { try directory.write(text, to: name) }
            try await TestDatabase.withFreshDatabase { database, _ in
                let appliance = Appliance(client: database)
                _ = try await appliance.ingest([directory.path])
                let app = try ChatStreamingTests.application(database, appliance, upstream: url)
                try await app.test(.router) { client in try await body(client) }
            }
        }
    }

    @Test func aFollowUpIsRewrittenByTheAnswerModelFromTheEarlierQuestionsAndRetrievedWithTheRewrite() async throws {
        let upstream = RewritingOpenAIUpstream(
            rewrite: "For how many days is each backup kept?", answer: "Each backup is kept for 35 days [1].")
        try await Self.withChat(upstream) { client in
            let first = try F.object(try await F.post(client, #"{"message": "When do backups run?", "top_k": 1}"#))
            let id = try #require(first["conversation_id"] as? String)
            #expect(first["provider"] as? String == "openai", "\(first)")
            // A first turn has nothing to condense: one request, the answer.
            #expect(upstream.requests.count == 1)
            let firstAnswer = try #require(first["answer"] as? String)

            let two = try F.object(
                try await F.post(
                    client,
                    #"{"conversation_id": "\#(id)", "message": "For how many days is each one kept?", "top_k": 1}"#))
            #expect(two["standalone_question"] as? String == "For how many days is each backup kept?", "\(two)")
            // Alone, this follow-up retrieves the invoices (ChatTests); the rewrite brings back the backups.
            #expect(F.sources(two) == ["backups.md"], "\(two)")

            let requests = upstream.requests
            #expect(requests.count == 3, "first answer, then the rewrite and the second answer")
            let rewrite = requests[1]
            #expect(rewrite.first?.role == "system" && rewrite.first?.content.hasPrefix("Rewrite the user's follow-up question") == true)
            let asked = rewrite.last?.content ?? ""
            #expect(asked.contains("1. When do backups run?"), "\(asked)")
            #expect(asked.contains("Follow-up question: For how many days is each one kept?"), "\(asked)")
            // Only the user's questions go into a rewrite, never an answer (answers may quote documents).
            #expect(!rewrite.contains { $0.content.contains(firstAnswer) })
            // The answer request carries the retrieved backup passage.
            let answering = requests[2].map(\.content).joined(separator: "\n")
            #expect(answering.contains("35 days"), "\(answering)")
        }
    }

    @Test func anEmptyOrRunawayRewriteFallsBackToCarryingTheEarlierKeyTerms() async throws {
        // A model that answers the rewrite with nothing usable: the follow-up carries the earlier question's terms.
        let upstream = RewritingOpenAIUpstream(rewrite: "   ", answer: "Each backup is kept for 35 days [1].")
        try await Self.withChat(upstream) { client in
            let first = try F.object(try await F.post(client, #"{"message": "When do backups run?", "top_k": 1}"#))
            let id = try #require(first["conversation_id"] as? String)
            let two = try F.object(
                try await F.post(
                    client,
                    #"{"conversation_id": "\#(id)", "message": "For how many days is each one kept?", "top_k": 1}"#))
            let standalone = try #require(two["standalone_question"] as? String)
            #expect(standalone.hasPrefix("For how many days is each one kept?") && standalone.contains("backups"))
            #expect(F.sources(two) == ["backups.md"], "\(two)")
        }
    }
}
