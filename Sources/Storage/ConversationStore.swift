import Foundation
import Logging
import PostgresNIO

/// Conversations and their messages in PostgreSQL. Every query names the tenant (export of all tenants aside), so
/// another tenant's conversation is never found, read or deleted.
///
/// Timestamps travel as RFC 3339 strings with microseconds, formatted and parsed by PostgreSQL, so an exported
/// conversation imports to exactly the instants it was exported with.
public struct ConversationStore: Sendable {
    public let client: Database

    public init(client: Database) {
        self.client = client
    }

    /// A message as stored. Citations stay JSON here: their shape belongs to the retrieval layer.
    public struct Message: Sendable, Equatable {
        public var id: UUID
        /// `user` or `assistant`.
        public var role: String
        public var content: String
        /// A JSON array of citations; `[]` for user messages.
        public var citationsJSON: String
        /// The standalone question retrieval used, when history changed the user's question.
        public var standaloneQuestion: String?
        public var provider: String?
        public var model: String?
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var costUSD: Double?
        /// The answer stopped before its end.
        public var partial: Bool
        /// The answer was grounded in a private document.
        public var isPrivate: Bool
        /// RFC 3339, UTC, with microseconds; `nil` lets the database take the current time.
        public var createdAt: String?

        public init(
            id: UUID, role: String, content: String, citationsJSON: String = "[]", standaloneQuestion: String? = nil,
            provider: String? = nil, model: String? = nil, inputTokens: Int? = nil, outputTokens: Int? = nil,
            costUSD: Double? = nil, partial: Bool = false, isPrivate: Bool = false, createdAt: String? = nil
        ) {
            self.id = id
            self.role = role
            self.content = content
            self.citationsJSON = citationsJSON
            self.standaloneQuestion = standaloneQuestion
            self.provider = provider
            self.model = model
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.costUSD = costUSD
            self.partial = partial
            self.isPrivate = isPrivate
            self.createdAt = createdAt
        }
    }

    /// A conversation with all of its messages, in order.
    public struct Conversation: Sendable, Equatable {
        public var id: UUID
        /// The owning tenant's name.
        public var tenant: String
        public var title: String
        /// RFC 3339, UTC, with microseconds.
        public var createdAt: String
        public var updatedAt: String
        public var messages: [Message]

        public init(id: UUID, tenant: String, title: String, createdAt: String, updatedAt: String, messages: [Message]) {
            self.id = id
            self.tenant = tenant
            self.title = title
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.messages = messages
        }
    }

    /// One line of a conversation list.
    public struct Summary: Sendable, Equatable {
        public var id: UUID
        public var title: String
        public var createdAt: String
        public var updatedAt: String
        public var messageCount: Int
        /// `updated_at` in microseconds since 1970: with the id, where the next page starts.
        public var position: Int64
    }

    /// Where a page of the list starts: after the conversation updated at `position` (microseconds) with this id.
    public struct Cursor: Sendable, Equatable {
        public var position: Int64
        public var id: UUID

        public init(position: Int64, id: UUID) {
            self.position = position
            self.id = id
        }
    }

    static let timestamp = #"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#

    // MARK: Reading

    /// A page of the tenant's conversations, most recently updated first.
    public func list(tenantID: Int64, limit: Int, after cursor: Cursor?, logger: Logger) async throws -> [Summary] {
        let position = cursor?.position
        let afterID = cursor?.id
        // In the tenant scope (row-level security, migration 0009), behind the query's own tenant filter.
        let rows = try await client.query(
            """
            SELECT c.id, c.title,
                   to_char(c.created_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp)),
                   to_char(c.updated_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp)),
                   (SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id AND m.tenant_id = \(tenantID))::bigint,
                   (extract(epoch FROM c.updated_at) * 1000000)::bigint AS position
            FROM conversations c
            WHERE c.tenant_id = \(tenantID)
              AND (\(position)::bigint IS NULL
                   OR ((extract(epoch FROM c.updated_at) * 1000000)::bigint, c.id) < (\(position)::bigint, \(afterID)::uuid))
            ORDER BY c.updated_at DESC, c.id DESC
            LIMIT \(limit)
            """, inScopeOf: tenantID, logger: logger)
        return try rows.decode((UUID, String, String, String, Int64, Int64).self).map { id, title, created, updated, count, position in
            Summary(id: id, title: title, createdAt: created, updatedAt: updated, messageCount: Int(count), position: position)
        }
    }

    /// Runs `query` in the tenant's scope (row-level security, behind the query's own filter) when `tenantID` is
    /// given; as the appliance otherwise (import and export of every tenant).
    private func rows(_ query: PostgresQuery, tenantID: Int64?, logger: Logger) async throws -> QueryRows {
        guard let tenantID else { return try await client.query(query, logger: logger) }
        return try await client.query(query, inScopeOf: tenantID, logger: logger)
    }

    /// The conversation with its messages; `nil` when the tenant has none with this id. `tenantID` `nil` finds it
    /// in any tenant (import, export).
    public func conversation(id: UUID, tenantID: Int64?, logger: Logger) async throws -> Conversation? {
        let rows = try await self.rows(
            """
            SELECT c.id, t.name, c.title,
                   to_char(c.created_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp)),
                   to_char(c.updated_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp))
            FROM conversations c JOIN tenants t ON t.id = c.tenant_id
            WHERE c.id = \(id) AND (\(tenantID)::bigint IS NULL OR c.tenant_id = \(tenantID)::bigint)
            """, tenantID: tenantID, logger: logger)
        guard let head = try rows.decode((UUID, String, String, String, String).self).first else { return nil }
        let messages = try await messages(conversationIDs: [head.0], tenantID: tenantID, logger: logger)[head.0] ?? []
        return Conversation(id: head.0, tenant: head.1, title: head.2, createdAt: head.3, updatedAt: head.4, messages: messages)
    }

    /// The last `limit` messages of the tenant's conversation, oldest first; `nil` when it has no such conversation.
    public func recentMessages(conversationID: UUID, tenantID: Int64, limit: Int, logger: Logger) async throws -> [Message]? {
        let exists = try await client.query(
            "SELECT 1::int FROM conversations WHERE id = \(conversationID) AND tenant_id = \(tenantID)", logger: logger)
        guard !exists.rows.isEmpty else { return nil }
        let rows = try await client.query(
            """
            SELECT * FROM (
                SELECT \(unescaped: Self.messageColumns) FROM conversation_messages m
                WHERE m.conversation_id = \(conversationID) AND m.tenant_id = \(tenantID)
                ORDER BY m.ordinal DESC LIMIT \(limit)
            ) recent ORDER BY ordinal
            """, inScopeOf: tenantID, logger: logger)
        return try Self.decodeMessages(rows).map(\.message)
    }

    /// Calls `body` with every conversation of the tenant (of all tenants when `tenantID` is `nil`), by id, reading
    /// `batchSize` conversations at a time.
    public func forEachConversation(
        tenantID: Int64?, batchSize: Int = 100, logger: Logger, _ body: (Conversation) async throws -> Void
    ) async throws {
        var after: UUID?
        while true {
            let rows = try await self.rows(
                """
                SELECT c.id, t.name, c.title,
                       to_char(c.created_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp)),
                       to_char(c.updated_at AT TIME ZONE 'UTC', \(unescaped: Self.timestamp))
                FROM conversations c JOIN tenants t ON t.id = c.tenant_id
                WHERE (\(tenantID)::bigint IS NULL OR c.tenant_id = \(tenantID)::bigint)
                  AND (\(after)::uuid IS NULL OR c.id > \(after)::uuid)
                ORDER BY c.id LIMIT \(batchSize)
                """, tenantID: tenantID, logger: logger)
            let heads = try rows.decode((UUID, String, String, String, String).self)
            guard let last = heads.last else { return }
            let messages = try await messages(conversationIDs: heads.map(\.0), tenantID: tenantID, logger: logger)
            for (id, tenant, title, created, updated) in heads {
                try await body(
                    Conversation(
                        id: id, tenant: tenant, title: title, createdAt: created, updatedAt: updated,
                        messages: messages[id] ?? []))
            }
            after = last.0
        }
    }

    static let messageColumns = """
        m.conversation_id, m.ordinal, m.id, m.role, m.content, m.citations::text, m.standalone_question, m.provider, \
        m.model, m.input_tokens, m.output_tokens, m.cost_usd, m.partial, m.private, \
        to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        """

    private func messages(conversationIDs: [UUID], tenantID: Int64? = nil, logger: Logger) async throws -> [UUID: [Message]] {
        let rows = try await self.rows(
            """
            SELECT \(unescaped: Self.messageColumns) FROM conversation_messages m
            WHERE m.conversation_id = ANY(\(conversationIDs)::uuid[])
            ORDER BY m.conversation_id, m.ordinal
            """, tenantID: tenantID, logger: logger)
        var grouped: [UUID: [Message]] = [:]
        for (conversationID, message) in try Self.decodeMessages(rows) {
            grouped[conversationID, default: []].append(message)
        }
        return grouped
    }

    private static func decodeMessages(_ rows: QueryRows) throws -> [(conversationID: UUID, message: Message)] {
        try rows.decode(
            (UUID, Int, UUID, String, String, String, String?, String?, String?, Int?, Int?, Double?, Bool, Bool, String).self
        ).map { conversationID, _, id, role, content, citations, standalone, provider, model, input, output, cost, partial,
            isPrivate, created in
            (
                conversationID,
                Message(
                    id: id, role: role, content: content, citationsJSON: citations, standaloneQuestion: standalone,
                    provider: provider, model: model, inputTokens: input, outputTokens: output, costUSD: cost,
                    partial: partial, isPrivate: isPrivate, createdAt: created)
            )
        }
    }

    // MARK: Writing

    /// Appends `messages` to the tenant's conversation `id`, creating it (with `title`) when `create` is set, in
    /// one transaction that holds the conversation's row, so that concurrent turns take consecutive places.
    /// Returns `false` when the conversation does not exist for the tenant (and `create` is not set).
    @discardableResult
    public func append(
        _ messages: [Message], conversationID id: UUID, tenantID: Int64, create title: String?, logger: Logger
    ) async throws -> Bool {
        // In the tenant's scope: the policies refuse a row of another tenant even if a value here were wrong.
        try await client.withTenantScope(tenantID: tenantID, logger: logger) { connection in
            if let title {
                try await connection.query(
                    """
                    INSERT INTO conversations (id, tenant_id, title) VALUES (\(id), \(tenantID), \(title))
                    ON CONFLICT (id) DO NOTHING
                    """, logger: logger)
            }
            let held = try await connection.query(
                """
                SELECT coalesce((SELECT max(ordinal) + 1 FROM conversation_messages WHERE conversation_id = \(id)), 0)::int
                FROM conversations WHERE id = \(id) AND tenant_id = \(tenantID) FOR UPDATE
                """, logger: logger)
            var next: Int?
            for try await ordinal in held.decode(Int.self) { next = ordinal }
            guard let next else { return false }
            try await Self.insert(messages, conversationID: id, tenantID: tenantID, from: next, on: connection, logger: logger)
            try await connection.query(
                "UPDATE conversations SET updated_at = now() WHERE id = \(id) AND tenant_id = \(tenantID)", logger: logger)
            return true
        }
    }

    /// Stores an exported conversation as it is, under `tenantID`, in one transaction. Returns `false` (and stores
    /// nothing) when its id, or one of its messages' ids, is taken.
    public func insert(_ conversation: Conversation, tenantID: Int64, logger: Logger) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let taken = try await connection.query(
                "SELECT 1::int FROM conversation_messages WHERE id = ANY(\(conversation.messages.map(\.id))::uuid[]) LIMIT 1",
                logger: logger)
            for try await _ in taken.decode(Int.self) { return false }
            let inserted = try await connection.query(
                """
                INSERT INTO conversations (id, tenant_id, title, created_at, updated_at)
                VALUES (\(conversation.id), \(tenantID), \(conversation.title), \(conversation.createdAt)::timestamptz,
                        \(conversation.updatedAt)::timestamptz)
                ON CONFLICT (id) DO NOTHING RETURNING 1::int
                """, logger: logger)
            var created = false
            for try await _ in inserted.decode(Int.self) { created = true }
            guard created else { return false }
            try await Self.insert(
                conversation.messages, conversationID: conversation.id, tenantID: tenantID, from: 0, on: connection,
                logger: logger)
            return true
        }
    }

    private static func insert(
        _ messages: [Message], conversationID: UUID, tenantID: Int64, from first: Int, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        // One statement a message: a turn has two, an imported conversation its own few.
        for (offset, message) in messages.enumerated() {
            try await connection.query(
                """
                INSERT INTO conversation_messages
                    (id, conversation_id, tenant_id, ordinal, role, content, citations, standalone_question, provider,
                     model, input_tokens, output_tokens, cost_usd, partial, private, created_at)
                VALUES (\(message.id), \(conversationID), \(tenantID), \(first + offset), \(message.role), \(message.content),
                        \(message.citationsJSON)::jsonb, \(message.standaloneQuestion), \(message.provider), \(message.model),
                        \(message.inputTokens)::integer, \(message.outputTokens)::integer, \(message.costUSD)::float8,
                        \(message.partial), \(message.isPrivate), coalesce(\(message.createdAt)::timestamptz, clock_timestamp()))
                """, logger: logger)
        }
    }

    /// Deletes the tenant's conversation and its messages; `false` when the tenant has none with this id.
    public func delete(id: UUID, tenantID: Int64, logger: Logger) async throws -> Bool {
        let rows = try await self.rows(
            "DELETE FROM conversations WHERE id = \(id) AND tenant_id = \(tenantID) RETURNING 1::int", tenantID: tenantID,
            logger: logger)
        return !rows.rows.isEmpty
    }
}
