import Foundation
import Logging
import Providers
import Storage

/// A source an answer cites.
public struct Citation: Sendable, Equatable, Codable {
    /// The marker number used in the answer (`[n]`).
    public var n: Int
    public var source: String
    public var chunkID: Int64
    /// The heading path, joined with " > ".
    public var heading: String
    public var score: Double
    public var snippet: String

    enum CodingKeys: String, CodingKey {
        case n, source, chunkID = "chunk_id", heading, score, snippet
    }
}

/// An answer grounded in the knowledge base.
public struct GroundedAnswer: Sendable, Equatable {
    public var answer: String
    /// The cited sources in the order the answer first cites them.
    public var citations: [Citation]
    public var provider: String
    public var model: String
    public var latency: Duration
}

/// Answers questions from one tenant's knowledge: retrieves passages, asks the answerer to answer from them, and
/// returns the answer with the passages it cites.
public struct AskService: Sendable {
    public let store: KnowledgeStore
    public let retriever: any Retriever
    public let answerer: any GroundedAnswerer
    let logger: Logger

    public init(store: KnowledgeStore, retriever: any Retriever, answerer: any GroundedAnswerer, logger: Logger) {
        self.store = store
        self.retriever = retriever
        self.answerer = answerer
        self.logger = logger
    }

    /// Answers with `provider` directly, outside the router.
    public init(store: KnowledgeStore, retriever: any Retriever, answerer provider: any ChatProvider, logger: Logger) {
        self.init(store: store, retriever: retriever, answerer: DirectAnswerer(provider: provider), logger: logger)
    }

    /// Instructions for language-model answerers; the extractive answerer follows them by construction.
    static let systemPrompt = """
        Answer the question using only the numbered sources. After each sentence, cite the sources it uses as [n]. \
        If the sources do not answer the question, reply exactly: \(ExtractiveAnswerer.notCoveredAnswer)
        """

    /// Answers `question` for `tenant` from its `topK` best passages.
    /// - Throws: ``StorageError`` `tenantNotFound` when the tenant does not exist.
    public func ask(question: String, tenant: String, topK: Int) async throws -> GroundedAnswer {
        let clock = ContinuousClock()
        let start = clock.now
        guard let tenantID = try await store.tenantID(named: tenant, logger: logger) else {
            throw StorageError.tenantNotFound(tenant)
        }
        let passages = try await retriever.retrieve(question: question, tenantID: tenantID, limit: topK)
        guard !passages.isEmpty else {
            // Nothing to ground an answer in: no model is asked (it could only invent one, and would be paid to).
            return GroundedAnswer(
                answer: ExtractiveAnswerer.notCoveredAnswer, citations: [], provider: "local",
                model: ExtractiveAnswerer.modelName, latency: clock.now - start)
        }
        let request = Self.groundedRequest(question: question, passages: passages)
        let response = try await answerer.answer(request, tenant: tenant)

        let citations = Self.citations(in: response.text, passages: passages)
        logger.debug(
            "Answered question",
            metadata: ["rag.passages": "\(passages.count)", "rag.citations": "\(citations.count)"])
        return GroundedAnswer(
            answer: response.text, citations: citations, provider: response.provider, model: response.model,
            latency: clock.now - start)
    }

    /// The request that asks for an answer to `question` from `passages`, numbered from 1, after the earlier
    /// messages of a conversation (`history`, oldest first).
    static func groundedRequest(question: String, passages: [RetrievedPassage], history: [ChatMessage] = []) -> ChatRequest {
        let documents = passages.enumerated().map { index, passage in
            GroundingDocument(
                number: index + 1, source: passage.source, headingPath: passage.headingPath, text: passage.text)
        }
        let sources = documents.map { "[\($0.number)] (\($0.source))\n\($0.text)" }.joined(separator: "\n\n")
        // Sources go with the instructions, the question stays the user's own message: every provider accepts
        // that shape, and the extractive answerer reads the question from it.
        return ChatRequest(
            messages: [ChatMessage(role: .system, content: "\(systemPrompt)\n\nSources:\n\n\(sources)")] + history
                + [ChatMessage(role: .user, content: question)],
            temperature: 0, documents: documents)
    }

    /// The passages an answer cites, in the order of their first `[n]` marker. An answer that cites nothing
    /// (but is not the not-covered answer) is credited to every passage it was given. Markers that name no passage
    /// (`[0]`, `[99]`, `[-1]`, a number too large for `Int`) are ignored: any model may write them.
    static func citations(in answer: String, passages: [RetrievedPassage]) -> [Citation] {
        var order = citedNumbers(in: answer).filter { $0 >= 1 && $0 <= passages.count }
        if order.isEmpty, answer.trimmingCharacters(in: .whitespacesAndNewlines) != ExtractiveAnswerer.notCoveredAnswer {
            order = Array(passages.indices.map { $0 + 1 })
        }
        return order.map { number in
            let passage = passages[number - 1]
            return Citation(
                n: number, source: passage.source, chunkID: passage.chunkID,
                heading: passage.headingPath.joined(separator: " > "), score: passage.score,
                snippet: snippet(passage.text))
        }
    }

    /// The numbers an answer cites as `[n]` or `[n, m]` that name no passage of `passageCount`, in order.
    static func droppedCitations(in answer: String, passageCount: Int) -> [Int] {
        citedNumbers(in: answer).filter { $0 < 1 || $0 > passageCount }
    }

    /// Every whole number inside `[…]` markers, once each, in the order first cited.
    static func citedNumbers(in answer: String) -> [Int] {
        var order: [Int] = []
        var index = answer.startIndex
        while let open = answer[index...].firstIndex(of: "[") {
            guard let close = answer[open...].firstIndex(of: "]") else { break }
            let inside = answer[answer.index(after: open)..<close]
            for part in inside.split(separator: ",") {
                // Compared before any arithmetic: `[-9223372036854775808]` is an Int too.
                if let number = Int(part.trimmingCharacters(in: .whitespaces)), !order.contains(number) {
                    order.append(number)
                }
            }
            index = answer.index(after: close)
        }
        return order
    }

    static func snippet(_ text: String, length: Int = 280) -> String {
        let collapsed = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard collapsed.count > length else { return collapsed }
        return String(collapsed.prefix(length)) + "…"
    }
}

/// The JSON form of an answer, as `POST /api/rag/ask` and `unity-ai ask --json` print it.
extension GroundedAnswer: Encodable {
    enum CodingKeys: String, CodingKey {
        case answer, citations, provider, model, latencyMs = "latency_ms"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(answer, forKey: .answer)
        try container.encode(citations, forKey: .citations)
        try container.encode(provider, forKey: .provider)
        try container.encode(model, forKey: .model)
        let parts = latency.components
        try container.encode((Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15).rounded(), forKey: .latencyMs)
    }
}
