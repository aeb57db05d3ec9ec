import Providers
import Storage

/// A piece of a document sized for embedding and for a model's context.
public struct Chunk: Sendable, Equatable {
    /// The chunk's position in its document, from 0.
    public var ordinal: Int
    public var text: String
    public var tokenCount: Int
    /// Code-point offsets in the document's extracted text.
    public var characterRange: Range<Int>
    /// The headings above the chunk, outermost first.
    public var headingPath: [String]
}

/// Cuts ``ExtractedText`` into chunks of about ``Configuration/targetTokens`` tokens: a chunk never spans two
/// sections (so it has one heading path), ends at a sentence (or, for code and tables, a line) boundary when it
/// can, and repeats the last sentences of the previous chunk, up to ``Configuration/overlapTokens``, so that a
/// fact cut at a boundary is whole in one of the two.
///
/// Sized for an embedder (``Configuration/includesContext``), the budget covers what the model reads: the chunk's
/// heading line, the chunk and the model's special tokens, so nothing is cut off the end of the vector.
public struct Chunker: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The size a chunk grows to. Defaults to 400 tokens.
        public var targetTokens: Int = 400
        /// How much of the previous chunk a chunk repeats. Defaults to 60 tokens (15 %).
        public var overlapTokens: Int = 60
        /// The PostgreSQL text search configuration that parses and stems chunks for the lexical indexes (BM25 and
        /// full text). Defaults to ``LexicalIndex/defaultTextSearchConfiguration`` (`english`).
        public var textSearchConfiguration = LexicalIndex.defaultTextSearchConfiguration
        /// How tokens are counted. Defaults to the ``TokenEstimator``.
        public var tokenCounter: any TokenCounter = TokenEstimator()
        /// Whether ``targetTokens`` bounds the whole embedded text (heading line, chunk and the counter's special
        /// tokens) rather than the chunk alone. Defaults to `false`.
        public var includesContext = false

        public init(
            targetTokens: Int = 400, overlapTokens: Int = 60,
            textSearchConfiguration: String = LexicalIndex.defaultTextSearchConfiguration
        ) {
            self.targetTokens = targetTokens
            self.overlapTokens = overlapTokens
            self.textSearchConfiguration = textSearchConfiguration
        }

        /// Chunks sized for an embedder that reads at most `maximumTokens` tokens of `counter` (special tokens
        /// included), heading line included, repeating 15 % of that; indexed lexically with `textSearchConfiguration`.
        public static func sized(
            for counter: any TokenCounter, maximumTokens: Int,
            textSearchConfiguration: String = LexicalIndex.defaultTextSearchConfiguration
        ) -> Configuration {
            var configuration = Configuration(
                targetTokens: maximumTokens, overlapTokens: Int((Double(maximumTokens) * 0.15).rounded()),
                textSearchConfiguration: textSearchConfiguration)
            configuration.tokenCounter = counter
            configuration.includesContext = true
            return configuration
        }

        /// Identifies the chunking and its lexical indexing, stored with each document: documents chunked or
        /// indexed otherwise are chunked again (so a changed tokenizer or text search configuration re-chunks and
        /// re-indexes them on their next ingest). The one place every setting that shapes the chunks is named.
        /// Chunks made by the estimator alone have no tokenizer part.
        public var fingerprint: String {
            var fingerprint = "v1/target=\(targetTokens)/overlap=\(overlapTokens)"
            if tokenCounter.name != TokenEstimator.name || includesContext {
                fingerprint += "/tokens=\(tokenCounter.name)" + (includesContext ? "/with-context" : "")
            }
            return fingerprint + "/fts=\(textSearchConfiguration)"
        }

        public static func == (lhs: Configuration, rhs: Configuration) -> Bool { lhs.fingerprint == rhs.fingerprint }
    }

    public let configuration: Configuration
    private var counter: any TokenCounter { configuration.tokenCounter }
    private let splitter = SentenceSplitter()

    public init(configuration: Configuration = .init()) {
        precondition(configuration.targetTokens > 0, "a chunk must be allowed at least one token")
        precondition(configuration.overlapTokens >= 0 && configuration.overlapTokens < configuration.targetTokens,
            "the overlap must be smaller than the chunk")
        self.configuration = configuration
    }

    struct Unit {
        var range: Range<Int>
        var tokens: Int
    }

    /// What one section's chunks may hold: `target` tokens each, repeating up to `overlap`.
    struct Budget {
        var target: Int
        var overlap: Int
    }

    /// The chunks of `document`. With ``Configuration/includesContext``, `context` gives the heading line that
    /// will be embedded before a chunk of a section with that heading path, and its tokens come off the budget.
    public func chunks(of document: ExtractedText, context: ([String]) -> String = { _ in "" }) -> [Chunk] {
        var chunks: [Chunk] = []
        for section in document.sections {
            let budget = self.budget(forContext: configuration.includesContext ? context(section.headingPath) : "")
            let units = self.units(in: document, section: section.range, lineOriented: document.isLineOriented, budget: budget)
            for range in pack(units, budget: budget) {
                let text = document.string(range)
                chunks.append(
                    Chunk(
                        ordinal: chunks.count, text: text, tokenCount: counter.count(document.scalars[range]),
                        characterRange: range, headingPath: section.headingPath))
            }
        }
        return chunks
    }

    /// The budget left once the heading line and the special tokens are counted; never under a quarter of the
    /// target (a heading line that long has its chunks' tails cut by the model rather than chunks of a few words).
    func budget(forContext context: String) -> Budget {
        guard configuration.includesContext else {
            return Budget(target: configuration.targetTokens, overlap: configuration.overlapTokens)
        }
        let reserved = counter.specialTokens + (context.isEmpty ? 0 : counter.count(context))
        let target = max(max(1, configuration.targetTokens / 4), configuration.targetTokens - reserved)
        return Budget(target: target, overlap: min(configuration.overlapTokens, target / 2))
    }

    /// Sentences (or lines), with any longer than a chunk cut at white space.
    private func units(in document: ExtractedText, section: Range<Int>, lineOriented: Bool, budget: Budget) -> [Unit] {
        let scalars = document.scalars
        var ranges: [Range<Int>] = []
        if lineOriented {
            var start = section.lowerBound
            for index in section where scalars[index] == "\n" {
                ranges.append(start..<index)
                start = index + 1
            }
            ranges.append(start..<section.upperBound)
            ranges = ranges.compactMap { trim($0, in: scalars) }
        } else {
            ranges = splitter.sentenceRanges(in: scalars[section])
        }
        var units: [Unit] = []
        for range in ranges {
            let tokens = counter.count(scalars[range])
            if tokens <= budget.target {
                units.append(Unit(range: range, tokens: tokens))
            } else if counter is TokenEstimator {
                units.append(contentsOf: split(range, in: scalars, target: budget.target))
            } else {
                units.append(contentsOf: splitAtWords(range, in: scalars, target: budget.target))
            }
        }
        return units
    }

    /// Cuts an over-long run at white space (or anywhere, for text without spaces) into pieces that fit.
    /// Counts tokens incrementally, by the ``TokenEstimator``'s rules, so a huge run costs linear time.
    private func split(_ range: Range<Int>, in scalars: [Unicode.Scalar], target: Int) -> [Unit] {
        var pieces: [Unit] = []
        func emit(_ piece: Range<Int>) { if let unit = unit(piece, in: scalars) { pieces.append(unit) } }
        var start = range.lowerBound
        var index = start
        var tokens = 0
        var wordLength = 0
        var lastSpace: Int?
        while index < range.upperBound {
            let scalar = scalars[index]
            var added = 0
            if scalar.properties.isWhitespace {
                wordLength = 0
                lastSpace = index
            } else if (scalar.properties.isAlphabetic || scalar.properties.numericType != nil), scalar.value < 0x2E80 {
                added = wordLength % 6 == 0 ? 1 : 0
                wordLength += 1
            } else {
                wordLength = 0
                added = 1
            }
            if tokens + added > target, index > start {
                let cut = lastSpace.flatMap { $0 > start ? $0 : nil } ?? index
                emit(start..<cut)
                start = cut
                index = cut
                tokens = 0
                wordLength = 0
                lastSpace = nil
                continue
            }
            tokens += added
            index += 1
        }
        emit(start..<range.upperBound)
        return pieces
    }

    /// Cuts an over-long run into pieces of at most `target` tokens of any ``TokenCounter``: at white space, by
    /// adding up the words' counts (which the protocol promises add up); a single word over the target is cut every
    /// `target` scalars (which make at most `target` tokens). Linear in the run's length.
    private func splitAtWords(_ range: Range<Int>, in scalars: [Unicode.Scalar], target: Int) -> [Unit] {
        var pieces: [Unit] = []
        func emit(_ piece: Range<Int>) { if let unit = unit(piece, in: scalars) { pieces.append(unit) } }
        var start = range.lowerBound
        var tokens = 0
        var index = range.lowerBound
        while index < range.upperBound {
            var wordStart = index
            while wordStart < range.upperBound, scalars[wordStart].properties.isWhitespace { wordStart += 1 }
            guard wordStart < range.upperBound else { break }
            var wordEnd = wordStart
            while wordEnd < range.upperBound, !scalars[wordEnd].properties.isWhitespace { wordEnd += 1 }
            let wordTokens = counter.count(scalars[wordStart..<wordEnd])
            if wordTokens > target {
                emit(start..<wordStart)
                var pieceStart = wordStart
                while pieceStart < wordEnd {
                    let pieceEnd = min(wordEnd, pieceStart + target)
                    emit(pieceStart..<pieceEnd)
                    pieceStart = pieceEnd
                }
                start = wordEnd
                tokens = 0
            } else if tokens + wordTokens > target {
                emit(start..<wordStart)
                start = wordStart
                tokens = wordTokens
            } else {
                tokens += wordTokens
            }
            index = wordEnd
        }
        emit(start..<range.upperBound)
        return pieces
    }

    /// Groups consecutive units into chunk ranges with sentence-level overlap.
    private func pack(_ units: [Unit], budget: Budget) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var current: [Unit] = []
        var currentTokens = 0
        var freshUnits = 0  // units in `current` not repeated from the previous chunk
        for unit in units {
            if !current.isEmpty, currentTokens + unit.tokens > budget.target {
                ranges.append(current.first!.range.lowerBound..<current.last!.range.upperBound)
                // Carry the tail of this chunk into the next, within the overlap budget.
                var carried: [Unit] = []
                var carriedTokens = 0
                for previous in current.reversed() {
                    guard carriedTokens + previous.tokens <= budget.overlap,
                        carriedTokens + previous.tokens + unit.tokens <= budget.target,
                        carried.count + 1 < current.count
                    else { break }
                    carried.insert(previous, at: 0)
                    carriedTokens += previous.tokens
                }
                current = carried
                currentTokens = carriedTokens
                freshUnits = 0
            }
            current.append(unit)
            currentTokens += unit.tokens
            freshUnits += 1
        }
        if freshUnits > 0, let first = current.first, let last = current.last {
            ranges.append(first.range.lowerBound..<last.range.upperBound)
        }
        return ranges
    }

    /// `range` without its surrounding white space, with its tokens; `nil` when nothing is left.
    private func unit(_ range: Range<Int>, in scalars: [Unicode.Scalar]) -> Unit? {
        trim(range, in: scalars).map { Unit(range: $0, tokens: counter.count(scalars[$0])) }
    }

    private func trim(_ range: Range<Int>, in scalars: [Unicode.Scalar]) -> Range<Int>? {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, scalars[lower].properties.isWhitespace { lower += 1 }
        while upper > lower, scalars[upper - 1].properties.isWhitespace { upper -= 1 }
        return lower < upper ? lower..<upper : nil
    }
}
