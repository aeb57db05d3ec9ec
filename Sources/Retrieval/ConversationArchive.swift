import Foundation
import Logging
import Providers
import Routing
import Storage

/// The JSON form of a conversation: one line of an export, and the body of `GET /api/conversations/{id}`.
public struct ConversationRecord: Codable, Sendable, Equatable {
    /// Token counts of an answer.
    public struct Usage: Codable, Sendable, Equatable {
        public var inputTokens: Int
        public var outputTokens: Int

        public init(inputTokens: Int, outputTokens: Int) {
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
        }

        enum CodingKeys: String, CodingKey { case inputTokens = "input_tokens", outputTokens = "output_tokens" }
    }

    /// One message, with its citations when it is an answer.
    public struct Message: Codable, Sendable, Equatable {
        /// A UUID, lower-case.
        public var id: String
        /// `user` or `assistant`.
        public var role: String
        public var content: String
        public var citations: [Citation]
        public var standaloneQuestion: String?
        public var provider: String?
        public var model: String?
        public var usage: Usage?
        public var costUSD: Double?
        public var partial: Bool
        public var isPrivate: Bool
        /// RFC 3339, UTC, with microseconds.
        public var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, role, content, citations, standaloneQuestion = "standalone_question", provider, model, usage
            case costUSD = "cost_usd", partial, isPrivate = "private", createdAt = "created_at"
        }
    }

    /// A UUID, lower-case: stable wherever the conversation is imported.
    public var id: String
    public var tenant: String
    public var title: String
    public var createdAt: String
    public var updatedAt: String
    public var messages: [Message]

    enum CodingKeys: String, CodingKey {
        case id, tenant, title, createdAt = "created_at", updatedAt = "updated_at", messages
    }

    /// The record of a stored conversation.
    public init(_ stored: ConversationStore.Conversation) throws {
        id = stored.id.uuidString.lowercased()
        tenant = stored.tenant
        title = stored.title
        createdAt = stored.createdAt
        updatedAt = stored.updatedAt
        messages = try stored.messages.map { message in
            let usage = message.inputTokens.flatMap { input in
                message.outputTokens.map { Usage(inputTokens: input, outputTokens: $0) }
            }
            return Message(
                id: message.id.uuidString.lowercased(), role: message.role, content: message.content,
                citations: try JSONDecoder().decode([Citation].self, from: Data(message.citationsJSON.utf8)),
                standaloneQuestion: message.standaloneQuestion, provider: message.provider, model: message.model,
                usage: usage, costUSD: message.costUSD, partial: message.partial, isPrivate: message.isPrivate,
                createdAt: message.createdAt ?? stored.createdAt)
        }
    }

    /// The JSON of the record on one line, keys sorted: an export's line.
    public func line() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Exports conversations as JSON Lines (one conversation a line) and imports them: idempotently (a conversation
/// already there is skipped) and never overwriting (an id already there with other content is a conflict, reported).
public struct ConversationArchive: Sendable {
    /// What an import did.
    public struct ImportReport: Codable, Sendable, Equatable {
        public var imported = 0
        /// Already present, identical.
        public var skipped = 0
        /// Present with other content (or a message id taken by another conversation); left as it was.
        public var conflicts = 0
        /// The conflicting conversations' ids.
        public var conflictIDs: [String] = []

        public init() {}

        enum CodingKeys: String, CodingKey {
            case imported, skipped, conflicts, conflictIDs = "conflict_ids"
        }
    }

    public let conversations: ConversationStore
    public let store: KnowledgeStore
    let logger: Logger

    public init(client: Database, logger: Logger) {
        conversations = ConversationStore(client: client)
        store = KnowledgeStore(client: client)
        self.logger = logger
    }

    /// Calls `write` with each conversation's line (without its newline), by id: of `tenant`, or of every tenant.
    /// - Throws: ``StorageError`` `tenantNotFound` for an unknown tenant.
    public func export(tenant: String?, _ write: (String) async throws -> Void) async throws {
        var tenantID: Int64?
        if let tenant {
            guard let id = try await store.tenantID(named: tenant, logger: logger) else {
                throw StorageError.tenantNotFound(tenant)
            }
            tenantID = id
        }
        try await conversations.forEachConversation(tenantID: tenantID, logger: logger) { conversation in
            try await write(try ConversationRecord(conversation).line())
        }
    }

    /// Imports an export's lines (blank lines are ignored). Every line is read and checked before anything is
    /// stored, so a malformed file changes nothing.
    /// - Throws: ``ChatError`` `invalidArchive` naming the first bad line.
    public func importLines(_ data: Data) async throws -> ImportReport {
        var records: [(ConversationRecord, ConversationStore.Conversation)] = []
        var seen: Set<String> = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D) }) else { continue }
            let record: ConversationRecord
            do {
                record = try JSONDecoder().decode(ConversationRecord.self, from: Data(line))
            } catch {
                throw ChatError(
                    .invalidArchive,
                    "Line \(index + 1) is not a conversation as `unity-ai conversations export` writes it: \(Self.describe(error))")
            }
            let (normalised, stored) = try Self.validate(record, line: index + 1)
            guard seen.insert(normalised.id).inserted else {
                throw ChatError(.invalidArchive, "Line \(index + 1) repeats conversation \(normalised.id).")
            }
            records.append((normalised, stored))
        }
        var report = ImportReport()
        for (record, conversation) in records {
            if let existing = try await conversations.conversation(id: conversation.id, tenantID: nil, logger: logger) {
                if try ConversationRecord(existing) == record {
                    report.skipped += 1
                } else {
                    report.conflicts += 1
                    report.conflictIDs.append(record.id)
                }
                continue
            }
            let tenantID = try await store.ensureTenant(named: record.tenant, logger: logger)
            if try await conversations.insert(conversation, tenantID: tenantID, logger: logger) {
                report.imported += 1
            } else {
                // Stored meanwhile, or one of its message ids belongs to another conversation.
                report.conflicts += 1
                report.conflictIDs.append(record.id)
            }
        }
        logger.info(
            "Conversations imported",
            metadata: [
                "import.imported": "\(report.imported)", "import.skipped": "\(report.skipped)",
                "import.conflicts": "\(report.conflicts)",
            ])
        return report
    }

    /// The record with lower-case ids, and its stored form; a record that could not be stored is refused.
    static func validate(_ record: ConversationRecord, line: Int) throws -> (ConversationRecord, ConversationStore.Conversation) {
        func invalid(_ problem: String) -> ChatError { ChatError(.invalidArchive, "Line \(line): \(problem)") }
        guard let id = UUID(uuidString: record.id) else { throw invalid("the id '\(record.id.prefix(40))' is not a UUID.") }
        guard TenantName.isValid(record.tenant) else {
            throw invalid("the tenant '\(record.tenant.prefix(80))' is not a valid name.")
        }
        var normalised = record
        normalised.id = id.uuidString.lowercased()
        var messageIDs: Set<UUID> = []
        var messages: [ConversationStore.Message] = []
        for (index, message) in record.messages.enumerated() {
            guard let messageID = UUID(uuidString: message.id), messageIDs.insert(messageID).inserted else {
                throw invalid("message \(index + 1) has no UUID of its own.")
            }
            guard message.role == "user" || message.role == "assistant" else {
                throw invalid("message \(index + 1) has the role '\(message.role.prefix(20))'; use user or assistant.")
            }
            let counts = [message.usage?.inputTokens, message.usage?.outputTokens].compactMap { $0 }
            guard counts.allSatisfy({ (0...Int(Int32.max)).contains($0) }),
                message.costUSD.map({ $0 >= 0 && $0.isFinite }) ?? true
            else { throw invalid("message \(index + 1) has a negative or out-of-range usage or cost.") }
            normalised.messages[index].id = messageID.uuidString.lowercased()
            messages.append(
                ConversationStore.Message(
                    id: messageID, role: message.role, content: message.content,
                    citationsJSON: String(decoding: try JSONEncoder().encode(message.citations), as: UTF8.self),
                    standaloneQuestion: message.standaloneQuestion, provider: message.provider, model: message.model,
                    inputTokens: message.usage?.inputTokens, outputTokens: message.usage?.outputTokens,
                    costUSD: message.costUSD, partial: message.partial, isPrivate: message.isPrivate,
                    createdAt: message.createdAt))
        }
        for text in [record.title, record.createdAt, record.updatedAt] + record.messages.flatMap({ [$0.content, $0.createdAt] })
        where text.unicodeScalars.contains("\u{0}") {
            throw invalid("a text holds a NUL (U+0000) character, which PostgreSQL cannot store.")
        }
        // The form exports write (and PostgreSQL reads back to the same instant): anything else would come back
        // changed, and so conflict with itself on the next import.
        for text in [record.createdAt, record.updatedAt] + record.messages.map(\.createdAt)
        where text.wholeMatch(of: #/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z/#) == nil {
            throw invalid("the time '\(text.prefix(40))' is not RFC 3339 UTC with microseconds (2025-01-31T08:00:00.000000Z).")
        }
        let stored = ConversationStore.Conversation(
            id: id, tenant: record.tenant, title: record.title, createdAt: record.createdAt, updatedAt: record.updatedAt,
            messages: messages)
        return (normalised, stored)
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "the field '\(key.stringValue)' is missing."
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "the field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type."
        default: "it is not valid JSON."
        }
    }
}
