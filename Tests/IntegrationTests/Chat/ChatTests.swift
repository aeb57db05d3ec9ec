import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Routing
import Server
import Storage
import Testing

/// `POST /api/rag/chat` over real PostgreSQL with the built-in embedder and extractive answerer.
@Suite struct ChatTests {
    typealias F = ChatFixtures

    @Test func followUpsUseTheHistoryToRetrieveTheRightPassage() async throws {
        try await F.withServer { client, _ in
            // Without history, the follow-ups find the invoices: their words match better.
            for question in ["For how many days is each one kept?", "Who restores one?"] {
                let alone = try F.object(try await F.post(client, #"{"message": \#(F.quoted(question)), "top_k": 1}"#))
                #expect(F.sources(alone) == ["invoices.md"], "\(question): \(alone)")
            }

            let first = try await F.post(client, #"{"message": "When do backups run?", "top_k": 1}"#)
            #expect(first.status == .ok)
            let one = try F.object(first)
            let id = try #require(one["conversation_id"] as? String)
            #expect((one["answer"] as? String)?.contains("02:00") == true)
            #expect(F.sources(one) == ["backups.md"])
            #expect(one["provider"] as? String == "local" && one["model"] as? String == "extractive")
            #expect(one["message_id"] is String && one["usage"] is [String: Any])
            #expect(one["dropped_citations"] == nil)

            let two = try F.object(
                try await F.post(client, #"{"conversation_id": "\#(id)", "message": "For how many days is each one kept?", "top_k": 1}"#))
            #expect(two["conversation_id"] as? String == id)
            #expect((two["answer"] as? String)?.contains("35 days") == true, "\(two)")
            #expect(F.sources(two) == ["backups.md"])
            #expect((two["standalone_question"] as? String)?.contains("backups") == true)

            let three = try F.object(
                try await F.post(client, #"{"conversation_id": "\#(id)", "message": "Who restores one?", "top_k": 1}"#))
            #expect((three["answer"] as? String)?.contains("storage team") == true, "\(three)")
            #expect(F.sources(three) == ["backups.md"])

            // The conversation keeps all six messages, the answers with their citations.
            let stored = try F.object(try await client.execute(uri: "/api/conversations/\(id)", method: .get))
            let messages = try #require(stored["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant", "user", "assistant"])
            #expect(messages[0]["content"] as? String == "When do backups run?")
            #expect(((messages[3]["citations"] as? [[String: Any]])?.first?["source"] as? String)?.hasSuffix("backups.md") == true)
            #expect(messages[5]["id"] as? String == three["message_id"] as? String)
            #expect(messages.allSatisfy { ($0["created_at"] as? String)?.hasSuffix("Z") == true })
        }
    }

    @Test func aQuestionTheKnowledgeDoesNotCoverSaysSo() async throws {
        try await F.withServer { client, _ in
            let reply = try F.object(try await F.post(client, #"{"message": "What colour is the CEO's bicycle?"}"#))
            #expect(reply["answer"] as? String == "The knowledge base does not cover this question.")
            #expect(F.sources(reply).isEmpty)
        }
    }

    /// Every case on one server: a fresh database per case would only load the shared test server.
    static let badInputs: [(body: String, status: Int, message: String)] = [
        (#"{"tenant": "default"}"#, 400, "'message' is required"),
        (#"{"message": "   "}"#, 400, "must not be empty"),
        (#"{"message": 42}"#, 400, "'message' must be a string"),
        (#"{"message": "ok", "top_k": "five"}"#, 400, "'top_k' must be an integer"),
        (#"{"message": "ok", "top_k": 0}"#, 400, "between 1 and"),
        (#"{"message": "ok", "top_k": 51}"#, 400, "between 1 and"),
        (#"{"message": "ok", "top_k": 1.5}"#, 400, "top_k"),
        (#"{"message": "ok", "stream": "yes"}"#, 400, "'stream' must be true or false"),
        (#"{"message": "ok", "tenant": "../etc"}"#, 400, "not a valid name"),
        (#"{"message": "ok", "conversation_id": "nope"}"#, 400, "must be a conversation's id"),
        (#"{"message": "ok", "conversation_id": 7}"#, 400, "'conversation_id' must be a string"),
        (#"{"message": "ok", "requirements": {"min_quality": "best"}}"#, 400, "min_quality"),
        (#"{"message": "ok", "requirements": {"max_cost": -1}}"#, 400, "max_cost"),
        (#"{"message": "unterminated"#, 400, "not valid JSON"),
        (#"["a list"]"#, 400, "must be a JSON object"),
        ("", 400, "body is empty"),
        (#"{"message": "ok", "conversation_id": "7d7e7c1a-0000-4000-8000-000000000000"}"#, 404, "No conversation"),
        (#"{"message": "ok", "tenant": "nobody"}"#, 404, "Unknown tenant"),
    ]

    @Test func badInputIsAJSONErrorNamingTheProblem() async throws {
        try await F.withServer { client, _ in
            for (body, status, message) in Self.badInputs {
                let response = try await F.post(client, body)
                #expect(response.status.code == status, "\(body): \(String(buffer: response.body))")
                let error = try #require(try F.object(response)["error"] as? [String: Any], "\(body)")
                #expect((error["message"] as? String)?.contains(message) == true, "\(body): \(error)")
            }
        }
    }

    @Test func aMessageOrBodyOverTheLimitsIsRefused() async throws {
        var limits = ServerConfiguration.Limits()
        limits.maximumQuestionCharacters = 20
        limits.maximumBodyBytes = 300
        try await F.withServer(limits: limits) { client, _ in
            // 21 scalars: "e" and 20 combining acute accents are one character to Swift, 21 to the limit.
            let long = "e" + String(repeating: "\u{301}", count: 20)
            let tooLong = try await F.post(client, #"{"message": \#(F.quoted(long))}"#)
            #expect(tooLong.status == .badRequest)
            #expect(String(buffer: tooLong.body).contains("the limit is 20"))
            let tooLarge = try await F.post(client, #"{"message": "\#(String(repeating: "x", count: 400))"}"#)
            #expect(tooLarge.status == .contentTooLarge)
        }
    }

    @Test func aRouterRefusalIsA429WithRetryAfter() async throws {
        let routing = try RoutingConfiguration.parse(yaml: "rate_limits: {per_tenant: 1/hour}\n", environment: [:])
        try await F.withServer(routing: routing, answerModel: "local") { client, _ in
            let first = try await F.post(client, #"{"message": "When do backups run?"}"#)
            #expect(first.status == .ok)
            for stream in [false, true] {
                let refused = try await F.post(client, #"{"message": "When do backups run?", "stream": \#(stream)}"#)
                #expect(refused.status == .tooManyRequests)
                #expect(refused.headers[.retryAfter] != nil)
                #expect(try F.object(refused)["error"] != nil)
            }
        }
    }
}
