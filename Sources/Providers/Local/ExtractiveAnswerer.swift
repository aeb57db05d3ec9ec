import Foundation

/// The built-in `local` answerer: composes an answer from the sentences of the grounding documents that best
/// cover the question, each followed by its citation marker `[n]`. No model, no network.
///
/// When no sentence covers enough of the question's content terms, it says the knowledge base does not cover
/// the question instead of quoting the nearest passage.
public struct ExtractiveAnswerer: ChatProvider {
    public struct Configuration: Sendable {
        /// The share of the question's (IDF-weighted) terms the best sentence must contain. Defaults to 0.3.
        public var minimumCoverage: Double = 0.3
        /// The most sentences an answer quotes. Defaults to 3.
        public var maximumSentences: Int = 3
        /// Sentences longer than this many characters are cut. Defaults to 400.
        public var maximumSentenceLength: Int = 400
        public init() {}
    }

    /// The answer given when the documents do not cover the question.
    public static let notCoveredAnswer = "The knowledge base does not cover this question."

    public let name = "local"
    public static let modelName = "extractive"
    public var configuration: Configuration
    private let analyzer = TextAnalyzer()
    private let splitter = SentenceSplitter()

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let clock = ContinuousClock()
        let start = clock.now
        guard let question = request.messages.last(where: { $0.role == .user })?.content else {
            throw ProviderError.invalidRequest(provider: name, reason: "The request has no user message to answer.")
        }
        let text = answer(question: question, documents: request.documents)
        let inputWords = request.messages.reduce(0) { $0 + analyzer.words($1.content).count }
            + request.documents.reduce(0) { $0 + analyzer.words($1.text).count }
        return ChatResponse(
            text: text,
            finishReason: .stop,
            usage: TokenUsage(inputTokens: inputWords, outputTokens: analyzer.words(text).count),
            provider: name,
            model: Self.modelName,
            endpoint: "builtin",
            latency: clock.now - start)
    }

    struct Candidate {
        var text: String
        var documentNumber: Int
        var documentRank: Int
        var coverage: Double
        var terms: Set<String>
    }

    /// The extractive answer to `question` from `documents` (in rank order).
    public func answer(question: String, documents: [GroundingDocument]) -> String {
        let questionTerms = Set(analyzer.terms(question))
        guard !questionTerms.isEmpty else { return Self.notCoveredAnswer }

        var candidates: [Candidate] = []
        for (rank, document) in documents.enumerated() {
            // A sentence is read under its headings: "Forklifts" above "Maximum speed is 8 km/h" answers
            // "What is the forklift speed limit?".
            let headingTerms = Set(analyzer.terms(document.headingPath.joined(separator: " ")))
            for sentence in sentences(of: document.text) {
                let terms = Set(analyzer.terms(sentence)).union(headingTerms)
                guard !terms.isEmpty, !sentence.isEmpty else { continue }
                candidates.append(
                    Candidate(
                        text: sentence, documentNumber: document.number, documentRank: rank, coverage: 0,
                        terms: terms))
            }
        }
        guard !candidates.isEmpty else { return Self.notCoveredAnswer }

        // Rare terms say more about what the question asks than common ones.
        let sentenceCount = Double(candidates.count)
        var weights: [String: Double] = [:]
        for term in questionTerms {
            let frequency = Double(candidates.lazy.filter { $0.terms.contains(term) }.count)
            weights[term] = log(1 + (sentenceCount + 1) / (frequency + 0.5))
        }
        let totalWeight = weights.values.reduce(0, +)
        for index in candidates.indices {
            let covered = questionTerms.intersection(candidates[index].terms).reduce(0) { $0 + weights[$1]! }
            candidates[index].coverage = covered / totalWeight
        }

        // Coverage first; among equals, the sentence from the better-ranked document.
        func score(_ candidate: Candidate) -> Double {
            candidate.coverage + 0.05 / Double(candidate.documentRank + 1)
        }
        let ranked = candidates.sorted { score($0) > score($1) }
        guard let best = ranked.first, best.coverage >= configuration.minimumCoverage else {
            return Self.notCoveredAnswer
        }
        var chosen: [Candidate] = []
        var seen: Set<String> = []
        for candidate in ranked where chosen.count < configuration.maximumSentences {
            guard candidate.coverage >= max(configuration.minimumCoverage, best.coverage * 0.7) else { break }
            if seen.insert(candidate.text.lowercased()).inserted { chosen.append(candidate) }
        }
        return chosen.map { "\(truncated($0.text)) [\($0.documentNumber)]" }.joined(separator: " ")
    }

    /// The cleaned sentences of a passage; a long run of lines (a table, flattened data) is split into its lines.
    private func sentences(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return splitter.sentenceRanges(in: scalars[...]).flatMap { range -> [String] in
            let raw = String(String.UnicodeScalarView(scalars[range]))
            let pieces = raw.count > configuration.maximumSentenceLength && raw.contains("\n")
                ? raw.split(separator: "\n").map(String.init) : [raw]
            return pieces.map(Self.clean).filter { !$0.isEmpty }
        }
    }

    private func truncated(_ sentence: String) -> String {
        guard sentence.count > configuration.maximumSentenceLength else { return sentence }
        return String(sentence.prefix(configuration.maximumSentenceLength)) + "…"
    }

    /// Strips Markdown decoration (heading marks, list bullets, emphasis, table pipes) from a sentence.
    static func clean(_ sentence: String) -> String {
        var text = sentence.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "__", with: "")
            .replacingOccurrences(of: "`", with: "")
        text = text.split(separator: "\n").map { line in
            var line = line.trimmingCharacters(in: .whitespaces)
            while let first = line.first, "#>".contains(first) { line.removeFirst() }
            if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") { line.removeFirst(2) }
            if line.hasPrefix("|") {
                line = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty && !$0.allSatisfy { "-:".contains($0) } }.joined(separator: ", ")
            }
            return line.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }.joined(separator: " ")
        return text
    }
}
