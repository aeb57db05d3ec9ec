import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Retrieval
import Storage

/// The tenant's conversations: `GET /api/conversations` (paged), `GET /api/conversations/export` (JSON Lines),
/// `GET /api/conversations/{id}`, `DELETE /api/conversations/{id}`. Another tenant's conversation is not found,
/// exactly as one that does not exist.
struct ConversationsController<Context: RequestContext>: Sendable {
    let chat: ChatService
    var conversations: ConversationStore { chat.conversations }

    /// Conversations a page holds when the request names no `limit`.
    static var defaultPageSize: Int { 20 }
    /// The largest `limit` accepted.
    static var maximumPageSize: Int { 100 }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/conversations") { request, context in try await list(request, context: context) }
        router.get("/api/conversations/export") { request, context in try await export(request, context: context) }
        router.get("/api/conversations/{id}") { request, context in try await get(request, context: context) }
        router.delete("/api/conversations/{id}") { request, context in try await delete(request, context: context) }
    }

    struct Page: Encodable {
        struct Item: Encodable {
            var id: String
            var title: String
            var createdAt: String
            var updatedAt: String
            var messageCount: Int

            enum CodingKeys: String, CodingKey {
                case id, title, createdAt = "created_at", updatedAt = "updated_at", messageCount = "message_count"
            }
        }
        var conversations: [Item]
        /// Pass as `cursor` for the next page; absent on the last.
        var nextCursor: String?

        enum CodingKeys: String, CodingKey { case conversations, nextCursor = "next_cursor" }
    }

    func list(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let tenantID = try await tenantID(request, context: context)
        var limit = Self.defaultPageSize
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw APIError.invalidRequest("The parameter 'limit' must be a whole number between 1 and \(Self.maximumPageSize).")
            }
            limit = value
        }
        let cursor = try query["cursor"].map { try Self.decodeCursor(String($0)) }
        // One more than asked: whether a next page exists, without counting.
        let rows = try await conversations.list(tenantID: tenantID, limit: limit + 1, after: cursor, logger: context.logger)
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { Self.encodeCursor(.init(position: $0.position, id: $0.id)) } : nil
        return try JSONBody.response(
            Page(
                conversations: page.map {
                    .init(
                        id: $0.id.uuidString.lowercased(), title: $0.title, createdAt: $0.createdAt, updatedAt: $0.updatedAt,
                        messageCount: $0.messageCount)
                }, nextCursor: next))
    }

    func get(_ request: Request, context: Context) async throws -> Response {
        let tenantID = try await tenantID(request, context: context)
        let id = try Self.conversationID(context)
        guard let conversation = try await conversations.conversation(id: id, tenantID: tenantID, logger: context.logger) else {
            throw ChatError.conversationNotFound(id)
        }
        return try JSONBody.response(try ConversationRecord(conversation))
    }

    func delete(_ request: Request, context: Context) async throws -> Response {
        let tenantID = try await tenantID(request, context: context)
        let id = try Self.conversationID(context)
        guard try await conversations.delete(id: id, tenantID: tenantID, logger: context.logger) else {
            throw ChatError.conversationNotFound(id)
        }
        return Response(status: .noContent)
    }

    /// The tenant's conversations as `unity-ai conversations export` writes them: one JSON object a line.
    func export(_ request: Request, context: Context) async throws -> Response {
        let tenant = try RequestTenant.resolve(bodyTenant: request.uri.queryParameters["tenant"].map(String.init), headers: request.headers)
        _ = try await tenantID(request, context: context)
        let archive = chat.archive
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson; charset=utf-8"],
            body: ResponseBody { writer in
                try await archive.export(tenant: tenant) { line in
                    try await writer.write(ByteBuffer(string: line + "\n"))
                }
                try await writer.finish(nil)
            })
    }

    /// The request's tenant (`?tenant=`, `x-unity-tenant`, or the API key's), which must exist.
    func tenantID(_ request: Request, context: Context) async throws -> Int64 {
        let tenant = try RequestTenant.resolve(bodyTenant: request.uri.queryParameters["tenant"].map(String.init), headers: request.headers)
        guard let id = try await chat.store.tenantID(named: tenant, logger: context.logger) else {
            throw StorageError.tenantNotFound(tenant)
        }
        return id
    }

    /// The `{id}` of the path; one that is no UUID names no conversation.
    static func conversationID(_ context: Context) throws -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: text) else {
            throw APIError(
                status: .notFound, code: "conversation_not_found",
                message: "No conversation '\(text.prefix(80))' exists for this tenant: ids are UUIDs, as GET /api/conversations lists them.")
        }
        return id
    }

    /// The cursor clients pass back: opaque to them, `position:id` in base64url here.
    static func encodeCursor(_ cursor: ConversationStore.Cursor) -> String {
        Data("\(cursor.position):\(cursor.id.uuidString.lowercased())".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeCursor(_ text: String) throws -> ConversationStore.Cursor {
        let invalid = APIError.invalidRequest("The parameter 'cursor' is not one this server gave; use next_cursor as returned.")
        guard text.utf8.count <= 200 else { throw invalid }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { throw invalid }
        let parts = String(decoding: data, as: UTF8.self).split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let position = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else { throw invalid }
        return ConversationStore.Cursor(position: position, id: id)
    }
}
