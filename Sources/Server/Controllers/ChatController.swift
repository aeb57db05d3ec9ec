import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Providers
import Retrieval
import Routing

/// `POST /api/rag/chat`: a grounded answer in a conversation, as JSON or as server-sent events.
struct ChatController<Context: RequestContext>: Sendable {
    let chat: ChatService
    let limits: ServerConfiguration.Limits

    struct ChatBody: Decodable {
        var conversationID: String?
        var message: String
        var tenant: String?
        var topK: Int?
        var strategy: String?
        var requirements: RoutingOptions.Requirements?
        var stream: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case conversationID = "conversation_id", message, tenant, topK = "top_k", strategy, requirements, stream
        }
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/rag/chat") { request, _ in try await handle(request) }
    }

    func handle(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(ChatBody.self, from: request, limits: limits)
        let chatRequest = try validate(body, headers: request.headers)
        guard body.stream == true else {
            let reply = try await chat.reply(chatRequest)
            return try JSONBody.response(ChatReplyJSON(reply))
        }
        // Everything that can refuse the request (history, retrieval, the router's admission) happens before the
        // first byte, so a refusal is still a plain JSON error with its status (429 with Retry-After, say).
        let turn = try await chat.prepare(chatRequest)
        let answer = try await chat.stream(turn)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let chat = self.chat
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var text = ""
                var usage: TokenUsage?
                do {
                    try await writer.write(
                        Self.event(
                            "citations",
                            CitationsEvent(
                                conversationID: turn.conversationID.uuidString.lowercased(),
                                messageID: turn.messageID.uuidString.lowercased(), citations: turn.sources)))
                    for try await event in answer.events {
                        switch event {
                        case .delta(let piece):
                            text += piece
                            try await writer.write(Self.event("delta", ["text": piece]))
                        case .end(_, let reported):
                            usage = reported
                        }
                    }
                    let finalUsage = usage ?? TokenUsage(inputTokens: 0, outputTokens: (text.utf8.count + 3) / 4)
                    let reply = try await chat.finish(
                        turn, text: text, provider: answer.provider, model: answer.model, usage: finalUsage,
                        costUSD: answer.cost(finalUsage), partial: false)
                    try await writer.write(Self.event("done", ChatReplyJSON(reply)))
                } catch {
                    // The client went away (a write failed, or the task was cancelled), the provider failed
                    // midway, or the answer could not be stored: the upstream call ends with this loop, and what was
                    // produced is kept, marked partial (a second store of a stored answer fails on its id, harmlessly).
                    await Self.storePartial(chat, turn, text: text, answer: answer)
                    let apiError = ErrorMiddleware<Context>.apiError(for: error)
                    try? await writer.write(
                        ByteBuffer(string: "event: error\ndata: \(ErrorMiddleware<Context>.errorJSON(apiError))\n\n"))
                    try? await writer.finish(nil)
                    return
                }
                try await writer.finish(nil)
            })
    }

    /// Stores a cut answer in a task of its own: the request's task may be cancelled (its client is gone), and the
    /// partial answer must be stored all the same.
    static func storePartial(_ chat: ChatService, _ turn: ChatService.Turn, text: String, answer: AnswerStream) async {
        let usage = TokenUsage(inputTokens: 0, outputTokens: (text.utf8.count + 3) / 4)
        let store = Task {
            try await chat.finish(
                turn, text: text, provider: answer.provider, model: answer.model, usage: usage,
                costUSD: answer.cost(usage), partial: true)
        }
        _ = try? await store.value
    }

    /// The request, validated: every client mistake is a 400 naming the field.
    func validate(_ body: ChatBody, headers: HTTPFields) throws -> ChatService.Request {
        let message = try JSONBody.question(body.message, field: "message", limits: limits)
        let tenant = try RequestTenant.resolve(bodyTenant: body.tenant, headers: headers)
        let topK = try JSONBody.topK(body.topK, limits: limits)
        if let strategy = body.strategy, strategy.utf8.count > limits.maximumNameBytes {
            throw APIError.invalidRequest(
                "The field 'strategy' is \(strategy.utf8.count) bytes long; names are at most \(limits.maximumNameBytes).")
        }
        var conversationID: UUID?
        if let text = body.conversationID {
            guard let id = UUID(uuidString: text) else {
                throw APIError.invalidRequest(
                    "The field 'conversation_id' must be a conversation's id (a UUID); leave it out to start one.")
            }
            conversationID = id
        }
        return ChatService.Request(
            conversationID: conversationID, message: message, tenant: tenant, topK: topK,
            strategy: body.strategy.flatMap { $0.isEmpty ? nil : $0 }, requirements: try body.requirements?.parsed())
    }

    /// One server-sent event: `event: NAME` and its JSON on one `data:` line.
    static func event(_ name: String, _ value: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        return ByteBuffer(string: "event: \(name)\ndata: \(json)\n\n")
    }

    /// The first event of a stream: every passage the answer may cite.
    struct CitationsEvent: Encodable {
        var conversationID: String
        var messageID: String
        var citations: [Citation]

        enum CodingKeys: String, CodingKey {
            case conversationID = "conversation_id", messageID = "message_id", citations
        }
    }
}

/// The JSON of a chat answer: the response of `POST /api/rag/chat`, and a stream's `done` event.
struct ChatReplyJSON: Encodable {
    var reply: ChatService.Reply

    init(_ reply: ChatService.Reply) {
        self.reply = reply
    }

    enum CodingKeys: String, CodingKey {
        case conversationID = "conversation_id", messageID = "message_id", answer, citations, provider, model, usage
        case costUSD = "cost_usd", droppedCitations = "dropped_citations", standaloneQuestion = "standalone_question"
        case partial
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reply.conversationID.uuidString.lowercased(), forKey: .conversationID)
        try container.encode(reply.messageID.uuidString.lowercased(), forKey: .messageID)
        try container.encode(reply.answer, forKey: .answer)
        try container.encode(reply.citations, forKey: .citations)
        try container.encode(reply.provider, forKey: .provider)
        try container.encode(reply.model, forKey: .model)
        try container.encode(
            ConversationRecord.Usage(inputTokens: reply.usage.inputTokens, outputTokens: reply.usage.outputTokens),
            forKey: .usage)
        try container.encodeIfPresent(reply.costUSD, forKey: .costUSD)
        if !reply.droppedCitations.isEmpty { try container.encode(reply.droppedCitations, forKey: .droppedCitations) }
        try container.encodeIfPresent(reply.standaloneQuestion, forKey: .standaloneQuestion)
        if reply.partial { try container.encode(true, forKey: .partial) }
    }
}
