import Foundation
import Logging
import Providers
import Routing
import Storage

/// Grounded chat with history: each turn condenses the follow-up with the conversation's earlier questions,
/// retrieves passages for the standalone question, answers from them through the answerer (the router, on a
/// server), checks the citations and stores the question and the answer in the conversation.
///
/// A turn is three steps, so that a streamed answer can send its sources before it generates:
/// ``prepare(_:)`` (history, condensation, retrieval), then ``answer(_:)`` or ``stream(_:)``, then
/// ``finish(_:text:provider:model:usage:costUSD:partial:)`` (citations, storage).
public struct ChatService: Sendable {
    /// Limits of a turn.
    public struct Configuration: Sendable {
        /// Earlier messages of the conversation a turn considers (condensation and the model's context). Defaults
        /// to 20: the last 10 turns.
        public var historyMessages = 20
        /// Key terms the extractive answerer carries from earlier questions into retrieval. Defaults to 12.
        public var carriedTerms = 12
        /// Output tokens a language model may use to rewrite a follow-up. Defaults to 128.
        public var rewriteTokens = 128
        /// Characters of the first question kept as the conversation's title. Defaults to 80.
        public var titleCharacters = 80
        public init() {}
    }

    /// One chat message to answer.
    public struct Request: Sendable {
        /// The conversation to continue; `nil` starts one.
        public var conversationID: UUID?
        public var message: String
        public var tenant: String
        public var topK: Int
        public var strategy: String?
        public var requirements: RouteRequest.Requirements?

        public init(
            conversationID: UUID?, message: String, tenant: String, topK: Int, strategy: String? = nil,
            requirements: RouteRequest.Requirements? = nil
        ) {
            self.conversationID = conversationID
            self.message = message
            self.tenant = tenant
            self.topK = topK
            self.strategy = strategy
            self.requirements = requirements
        }
    }

    /// A turn ready to be answered: the history read, the question condensed, the passages retrieved.
    public struct Turn: Sendable {
        public var conversationID: UUID
        /// The id the answer will be stored under (`message_id`).
        public var messageID: UUID
        public var userMessageID: UUID
        public var message: String
        /// The question retrieval used: the message itself on a first turn.
        public var standaloneQuestion: String
        public var passages: [RetrievedPassage]
        /// The request the answerer gets; `nil` when nothing was retrieved (no model is asked).
        public var request: ChatRequest?
        public var route: AnswerRoute
        /// The prompt holds private text (a passage, or an earlier answer grounded in one).
        public var isPrivate: Bool
        /// Every passage given, numbered as the answer may cite it: what a stream's `citations` event lists.
        public var sources: [Citation]
        let tenantID: Int64
        /// The title of a new conversation; `nil` when the turn continues one.
        let newTitle: String?
    }

    /// An answered and stored turn.
    public struct Reply: Sendable, Equatable {
        public var conversationID: UUID
        public var messageID: UUID
        public var answer: String
        /// The passages the answer cites, validated against those it was given.
        public var citations: [Citation]
        /// Numbers the answer cites that name no passage it was given; they are left out of ``citations``.
        public var droppedCitations: [Int]
        public var provider: String
        public var model: String
        public var usage: TokenUsage
        public var costUSD: Double?
        /// The question retrieval used, when history changed it.
        public var standaloneQuestion: String?
        /// The answer stopped before its end.
        public var partial: Bool
    }

    public let configuration: Configuration
    public let store: KnowledgeStore
    public let retriever: any Retriever
    public let answerer: any GroundedAnswerer
    public let conversations: ConversationStore
    let logger: Logger

    public init(
        configuration: Configuration = .init(), store: KnowledgeStore, retriever: any Retriever,
        answerer: any GroundedAnswerer, conversations: ConversationStore, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.retriever = retriever
        self.answerer = answerer
        self.conversations = conversations
        self.logger = logger
    }

    /// Chat over the same knowledge, retriever and answerer as `ask`, with conversations in the same database.
    public init(ask: AskService, configuration: Configuration = .init()) {
        self.init(
            configuration: configuration, store: ask.store, retriever: ask.retriever, answerer: ask.answerer,
            conversations: ConversationStore(client: ask.store.client), logger: ask.logger)
    }

    /// Export and import of the conversations in the same database.
    public var archive: ConversationArchive { ConversationArchive(client: store.client, logger: logger) }

    /// Answers `request` and stores the turn.
    /// - Throws: ``ChatError`` `conversationNotFound`, ``StorageError`` `tenantNotFound`, the router's refusals.
    public func reply(_ request: Request) async throws -> Reply {
        let turn = try await prepare(request)
        guard let chat = turn.request else { return try await finishUncovered(turn) }
        let (response, cost) = try await answerer.answer(chat, route: turn.route)
        return try await finish(
            turn, text: response.text, provider: response.provider, model: response.model, usage: response.usage,
            costUSD: cost, partial: false)
    }

    /// Reads the history, condenses the question with it and retrieves the passages.
    public func prepare(_ request: Request) async throws -> Turn {
        guard let tenantID = try await store.tenantID(named: request.tenant, logger: logger) else {
            throw StorageError.tenantNotFound(request.tenant)
        }
        var history: [ConversationStore.Message] = []
        if let id = request.conversationID {
            guard
                let recent = try await conversations.recentMessages(
                    conversationID: id, tenantID: tenantID, limit: configuration.historyMessages, logger: logger)
            else { throw ChatError.conversationNotFound(id) }
            history = recent
        }
        let route = AnswerRoute(tenant: request.tenant, strategy: request.strategy, requirements: request.requirements)
        let standalone = try await condense(request.message, history: history, route: route)
        let passages = try await retriever.retrieve(question: standalone, tenantID: tenantID, limit: request.topK)
        let isPrivate = passages.contains(where: \.isPrivate) || history.contains(where: \.isPrivate)
        var answerRoute = route
        answerRoute.requireLocal = isPrivate
        let earlier = history.map { ChatMessage(role: $0.role == "assistant" ? .assistant : .user, content: $0.content) }
        return Turn(
            conversationID: request.conversationID ?? UUID(), messageID: UUID(), userMessageID: UUID(),
            message: request.message, standaloneQuestion: standalone, passages: passages,
            request: passages.isEmpty
                ? nil : AskService.groundedRequest(question: request.message, passages: passages, history: earlier),
            route: answerRoute, isPrivate: isPrivate,
            sources: passages.enumerated().map { index, passage in Self.citation(index + 1, passage) },
            tenantID: tenantID,
            newTitle: request.conversationID == nil ? String(request.message.prefix(configuration.titleCharacters)) : nil)
    }

    /// Opens the answer's stream; a refusal (rate limit, budget, requirements) is thrown before it starts. A turn
    /// with nothing retrieved streams the not-covered answer from the extractive answerer, without a model.
    public func stream(_ turn: Turn) async throws -> AnswerStream {
        guard let chat = turn.request else {
            let text = ExtractiveAnswerer.notCoveredAnswer
            let events = ChatStream { continuation in
                continuation.yield(.delta(text))
                continuation.yield(.end(finishReason: .stop, usage: TokenUsage(inputTokens: 0, outputTokens: 0)))
                continuation.finish()
            }
            return AnswerStream(events: events, provider: "local", model: ExtractiveAnswerer.modelName) { _ in 0 }
        }
        return try await answerer.stream(chat, route: turn.route)
    }

    /// Checks the answer's citations against the turn's passages and stores the question and the answer.
    public func finish(
        _ turn: Turn, text: String, provider: String, model: String, usage: TokenUsage, costUSD: Double?, partial: Bool
    ) async throws -> Reply {
        let citations = AskService.citations(in: text, passages: turn.passages)
        let dropped = AskService.droppedCitations(in: text, passageCount: turn.passages.count)
        let citationsJSON = String(decoding: try JSONEncoder().encode(citations), as: UTF8.self)
        let standalone = turn.standaloneQuestion == turn.message ? nil : turn.standaloneQuestion
        let messages = [
            ConversationStore.Message(id: turn.userMessageID, role: "user", content: turn.message, standaloneQuestion: standalone),
            ConversationStore.Message(
                id: turn.messageID, role: "assistant", content: text, citationsJSON: citationsJSON, provider: provider,
                model: model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUSD: costUSD,
                partial: partial, isPrivate: turn.isPrivate),
        ]
        guard
            try await conversations.append(
                messages, conversationID: turn.conversationID, tenantID: turn.tenantID, create: turn.newTitle, logger: logger)
        else { throw ChatError.conversationNotFound(turn.conversationID) }
        logger.debug(
            "Chat turn stored",
            metadata: [
                "chat.conversation": "\(turn.conversationID)", "rag.passages": "\(turn.passages.count)",
                "rag.citations": "\(citations.count)", "chat.partial": "\(partial)",
            ])
        return Reply(
            conversationID: turn.conversationID, messageID: turn.messageID, answer: text, citations: citations,
            droppedCitations: dropped, provider: provider, model: model, usage: usage, costUSD: costUSD,
            standaloneQuestion: standalone, partial: partial)
    }

    private func finishUncovered(_ turn: Turn) async throws -> Reply {
        // Nothing to ground an answer in: no model is asked (it could only invent one, and would be paid to).
        try await finish(
            turn, text: ExtractiveAnswerer.notCoveredAnswer, provider: "local", model: ExtractiveAnswerer.modelName,
            usage: TokenUsage(inputTokens: 0, outputTokens: 0), costUSD: 0, partial: false)
    }

    // MARK: Condensation

    static let rewritePrompt = """
        Rewrite the user's follow-up question as one standalone question that can be understood without the \
        conversation, keeping its meaning. Reply with the question only.
        """

    /// The question to retrieve with: `message` itself on a first turn; with history, a language model's standalone
    /// rewrite, or (for the extractive answerer, or when the rewrite fails) the message followed by the key terms of
    /// the earlier questions.
    ///
    /// Only the user's own earlier questions are sent for a rewrite, never the answers (those may quote documents);
    /// a conversation that has touched a private document has its rewrite made locally.
    func condense(_ message: String, history: [ConversationStore.Message], route: AnswerRoute) async throws -> String {
        let questions = history.filter { $0.role == "user" }.map(\.content)
        guard !questions.isEmpty else { return message }
        if answerer.isLanguageModel {
            let earlier = questions.enumerated().map { "\($0 + 1). \($1)" }.joined(separator: "\n")
            var rewriteRoute = route
            rewriteRoute.maximumTokens = configuration.rewriteTokens
            // Questions asked of private documents stay as local as their answers.
            rewriteRoute.requireLocal = history.contains(where: \.isPrivate)
            let request = ChatRequest(
                messages: [
                    ChatMessage(role: .system, content: Self.rewritePrompt),
                    ChatMessage(role: .user, content: "Earlier questions:\n\(earlier)\n\nFollow-up question: \(message)"),
                ], temperature: 0)
            do {
                let (response, _) = try await answerer.answer(request, route: rewriteRoute)
                let rewritten = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
                if response.model != ExtractiveAnswerer.modelName, !rewritten.isEmpty,
                    rewritten.unicodeScalars.count <= 4 * max(message.unicodeScalars.count, 250)
                {
                    return rewritten
                }
            } catch let error as RoutingError where error.code == .rateLimited || error.code == .budgetExceeded {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning(
                    "Question rewrite failed, carrying key terms instead",
                    metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        let terms = Self.carriedTerms(from: questions, into: message, limit: configuration.carriedTerms)
        return terms.isEmpty ? message : message + "\n" + terms.joined(separator: " ")
    }

    /// The key terms of the earlier `questions` (most recent first) that `message` lacks: words of three or more
    /// characters that are not stop words, each once, at most `limit`.
    static func carriedTerms(from questions: [String], into message: String, limit: Int) -> [String] {
        let analyzer = TextAnalyzer()
        let present = Set(analyzer.words(message))
        var terms: [String] = []
        for question in questions.reversed() {
            for word in analyzer.words(question)
            where word.count >= 3 && !TextAnalyzer.stopWords.contains(word) && !present.contains(word) && !terms.contains(word) {
                guard terms.count < limit else { return terms }
                terms.append(word)
            }
        }
        return terms
    }

    static func citation(_ number: Int, _ passage: RetrievedPassage) -> Citation {
        Citation(
            n: number, source: passage.source, chunkID: passage.chunkID,
            heading: passage.headingPath.joined(separator: " > "), score: passage.score,
            snippet: AskService.snippet(passage.text))
    }
}

/// An error of a chat request that the client can correct.
public struct ChatError: Error, Sendable, CustomStringConvertible {
    /// The kind of error; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case conversationNotFound, invalidArchive }
        private let base: Base
        /// No conversation with that id exists for the tenant.
        public static let conversationNotFound = Code(base: .conversationNotFound)
        /// An export file that cannot be imported.
        public static let invalidArchive = Code(base: .invalidArchive)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and how to fix it.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The tenant has no conversation `id` (another tenant's is not found either: existence must not leak).
    public static func conversationNotFound(_ id: UUID) -> ChatError {
        ChatError(
            .conversationNotFound,
            "No conversation '\(id.uuidString.lowercased())' exists for this tenant. Leave conversation_id out to start one.")
    }
}
