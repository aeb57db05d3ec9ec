import Foundation

/// The built-in `local` answerer: composes an answer from the sentences of the grounding documents that best
/// cover the question, each followed by its citation marker `[n]`. No model, no network.
///
/// When no sentence covers enough of the question's content terms, it says the knowledge base does not cover
/// the question instead of quoting the nearest passage.
///
/// With a ``sentenceEmbedder`` (the appliance's own embedding model, when it is a semantic one such as `minilm`) a
/// sentence also counts by meaning: "When is the canteen shut?" is answered by "The cafeteria closes at 15:00",
/// which shares none of its content words. A sentence's score is then the larger of its term coverage and its
/// similarity to the question mapped onto the same scale (``Configuration/semanticFloor`` scores 0,
/// ``Configuration/semanticCeiling`` scores 1), so a question the passages do not answer is still refused.
public struct ExtractiveAnswerer: ChatProvider {
    public struct Configuration: Sendable {
        /// The share of the question's (IDF-weighted) terms the best sentence must contain. Defaults to 0.3.
        public var minimumCoverage: Double = 0.3
        /// The most sentences an answer quotes. Defaults to 3.
        public var maximumSentences: Int = 3
        /// Sentences longer than this many characters are cut. Defaults to 400.
        public var maximumSentenceLength: Int = 400
        /// The cosine similarity (question to sentence) that scores as no coverage. Defaults to 0.30, measured with
        /// `minilm` on the handbook's paraphrased and unanswerable questions (`ParaphraseAnswerTests`): at 0.35, 3 of
        /// 20 paraphrases were refused; at 0.30, 1; the 8 unanswerable questions were refused at both.
        public var semanticFloor: Double = 0.30
        /// The cosine similarity that scores as full coverage. Defaults to 0.75.
        public var semanticCeiling: Double = 0.75
        public init() {}
    }

    /// The answer given when the documents do not cover the question.
    public static let notCoveredAnswer = "The knowledge base does not cover this question."

    public let name = "local"
    public static let modelName = "extractive"
    public var configuration: Configuration
    /// Embeds the question and the candidate sentences so that paraphrases count; `nil`: terms only.
    public let sentenceEmbedder: (any EmbeddingProvider)?
    private let analyzer = TextAnalyzer()
    private let splitter = SentenceSplitter()

    public init(configuration: Configuration = .init(), sentenceEmbedder: (any EmbeddingProvider)? = nil) {
        self.configuration = configuration
        self.sentenceEmbedder = sentenceEmbedder
    }

    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let clock = ContinuousClock()
        let start = clock.now
        guard let question = request.messages.last(where: { $0.role == .user })?.content else {
            throw ProviderError.invalidRequest(provider: name, reason: "The request has no user message to answer.")
        }
        let text: String
        if let sentenceEmbedder {
            text = try await answer(question: question, documents: request.documents, embedder: sentenceEmbedder)
        } else {
            text = answer(question: question, documents: request.documents)
        }
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

    /// The answer to `question` from `documents`, with sentences scored by meaning too (see the type's summary).
    public func answer(question: String, documents: [GroundingDocument], embedder: any EmbeddingProvider) async throws
        -> String
    {
        let candidates = self.candidates(documents)
        guard !candidates.isEmpty, !analyzer.terms(question).isEmpty else { return Self.notCoveredAnswer }
        // A sentence is embedded under its document's headings, as its chunk was.
        let texts = [question] + candidates.map { candidate in
            let headings = documents.first { $0.number == candidate.documentNumber }?.headingPath ?? []
            return headings.isEmpty ? candidate.text : headings.joined(separator: " > ") + ": " + candidate.text
        }
        let vectors = try await embedder.embedAll(texts)
        guard vectors.count == texts.count, let questionVector = vectors.first else {
            return answer(question: question, documents: documents)
        }
        let similarities = vectors.dropFirst().map { Self.cosine(questionVector, $0) }
        return answer(question: question, candidates: candidates, similarities: similarities)
    }

    /// The extractive answer to `question` from `documents` (in rank order).
    public func answer(question: String, documents: [GroundingDocument]) -> String {
        answer(question: question, candidates: candidates(documents), similarities: nil)
    }

    /// Every sentence of `documents`, with its terms (its headings' included).
    private func candidates(_ documents: [GroundingDocument]) -> [Candidate] {
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
        return candidates
    }

    /// The answer from `candidates`, scored by term coverage and, when given, by `similarities` (one per candidate).
    private func answer(question: String, candidates: [Candidate], similarities: [Double]?) -> String {
        var candidates = candidates
        let questionTerms = Set(analyzer.terms(question))
        guard !questionTerms.isEmpty, !candidates.isEmpty else { return Self.notCoveredAnswer }

        // Rare terms say more about what the question asks than common ones.
        let sentenceCount = Double(candidates.count)
        var weights: [String: Double] = [:]
        for term in questionTerms {
            let frequency = Double(candidates.lazy.filter { $0.terms.contains(term) }.count)
            weights[term] = log(1 + (sentenceCount + 1) / (frequency + 0.5))
        }
        let totalWeight = weights.values.reduce(0, +)
        let span = max(configuration.semanticCeiling - configuration.semanticFloor, 0.01)
        for index in candidates.indices {
            let covered = questionTerms.intersection(candidates[index].terms).reduce(0) { $0 + (weights[$1] ?? 0) }
            var coverage = totalWeight > 0 ? covered / totalWeight : 0
            // A fragment of a few words (a heading on a line of its own, "Loan periods") is close in meaning to many
            // questions and answers none: it counts by its terms only.
            if let similarities, index < similarities.count, analyzer.words(candidates[index].text).count >= 4 {
                let semantic = (similarities[index] - configuration.semanticFloor) / span
                coverage = max(coverage, min(1, max(0, semantic)))
            }
            candidates[index].coverage = coverage
        }

        // Coverage first; among equals, the sentence from the better-ranked document.
        func score(_ candidate: Candidate) -> Double {
            candidate.coverage + 0.05 / Double(candidate.documentRank + 1)
        }
        let ranked = candidates.sorted { score($0) > score($1) }
        guard let best = ranked.first, best.coverage >= configuration.minimumCoverage else {
            return Self.notCoveredAnswer
        }
        // The best sentence, then only sentences that answer a part of the question it left out (a question about
        // two things): an answer says what was asked and stops, rather than quoting the neighbours that share its words.
        var chosen = [best]
        var covered = questionTerms.intersection(best.terms)
        var seen: Set<String> = [best.text.lowercased()]
        for candidate in ranked.dropFirst() where chosen.count < configuration.maximumSentences {
            guard candidate.coverage >= max(configuration.minimumCoverage, best.coverage * 0.7) else { break }
            let adds = questionTerms.intersection(candidate.terms).subtracting(covered)
            guard !adds.isEmpty, seen.insert(candidate.text.lowercased()).inserted else { continue }
            chosen.append(candidate)
            covered.formUnion(adds)
        }
        return chosen.map { "\(truncated($0.text)) [\($0.documentNumber)]" }.joined(separator: " ")
    }

    /// Cosine similarity; 0 for vectors of different lengths or without magnitude.
    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var dot: Double = 0, normA: Double = 0, normB: Double = 0
        for index in a.indices {
            dot += Double(a[index]) * Double(b[index])
            normA += Double(a[index]) * Double(a[index])
            normB += Double(b[index]) * Double(b[index])
        }
        guard normA > 0, normB > 0, dot.isFinite else { return 0 }
        return dot / (normA.squareRoot() * normB.squareRoot())
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
