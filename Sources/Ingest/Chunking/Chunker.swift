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
public struct Chunker: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The size a chunk grows to. Defaults to 400 tokens.
        public var targetTokens: Int = 400
        /// How much of the previous chunk a chunk repeats. Defaults to 60 tokens (15 %).
        public var overlapTokens: Int = 60
        /// The PostgreSQL text search configuration that parses and stems chunks for the lexical indexes (BM25 and
        /// full text). Defaults to ``LexicalIndex/defaultTextSearchConfiguration`` (`english`).
        public var textSearchConfiguration = LexicalIndex.defaultTextSearchConfiguration

        public init(
            targetTokens: Int = 400, overlapTokens: Int = 60,
            textSearchConfiguration: String = LexicalIndex.defaultTextSearchConfiguration
        ) {
            self.targetTokens = targetTokens
            self.overlapTokens = overlapTokens
            self.textSearchConfiguration = textSearchConfiguration
        }

        /// Identifies the chunking and its lexical indexing: documents chunked or indexed otherwise are chunked
        /// again (so a changed text search configuration re-indexes them on their next ingest).
        public var fingerprint: String {
            "v1/target=\(targetTokens)/overlap=\(overlapTokens)/fts=\(textSearchConfiguration)"
        }
    }

    public let configuration: Configuration
    private let estimator = TokenEstimator()
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

    public func chunks(of document: ExtractedText) -> [Chunk] {
        var chunks: [Chunk] = []
        for section in document.sections {
            let units = self.units(in: document, section: section.range, lineOriented: document.isLineOriented)
            for range in pack(units) {
                let text = document.string(range)
                chunks.append(
                    Chunk(
                        ordinal: chunks.count, text: text, tokenCount: estimator.count(document.scalars[range]),
                        characterRange: range, headingPath: section.headingPath))
            }
        }
        return chunks
    }

    /// Sentences (or lines), with any longer than a chunk cut at white space.
    private func units(in document: ExtractedText, section: Range<Int>, lineOriented: Bool) -> [Unit] {
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
            let tokens = estimator.count(scalars[range])
            if tokens <= configuration.targetTokens {
                units.append(Unit(range: range, tokens: tokens))
            } else {
                units.append(contentsOf: split(range, in: scalars))
            }
        }
        return units
    }

    /// Cuts an over-long run at white space (or anywhere, for text without spaces) into pieces that fit.
    /// Counts tokens incrementally, by the ``TokenEstimator``'s rules, so a huge run costs linear time.
    private func split(_ range: Range<Int>, in scalars: [Unicode.Scalar]) -> [Unit] {
        var pieces: [Unit] = []
        func emit(_ piece: Range<Int>) {
            if let trimmed = trim(piece, in: scalars) {
                pieces.append(Unit(range: trimmed, tokens: estimator.count(scalars[trimmed])))
            }
        }
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
            if tokens + added > configuration.targetTokens, index > start {
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

    /// Groups consecutive units into chunk ranges with sentence-level overlap.
    private func pack(_ units: [Unit]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var current: [Unit] = []
        var currentTokens = 0
        var freshUnits = 0  // units in `current` not repeated from the previous chunk
        for unit in units {
            if !current.isEmpty, currentTokens + unit.tokens > configuration.targetTokens {
                ranges.append(current.first!.range.lowerBound..<current.last!.range.upperBound)
                // Carry the tail of this chunk into the next, within the overlap budget.
                var carried: [Unit] = []
                var carriedTokens = 0
                for previous in current.reversed() {
                    guard carriedTokens + previous.tokens <= configuration.overlapTokens,
                        carriedTokens + previous.tokens + unit.tokens <= configuration.targetTokens,
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

    private func trim(_ range: Range<Int>, in scalars: [Unicode.Scalar]) -> Range<Int>? {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, scalars[lower].properties.isWhitespace { lower += 1 }
        while upper > lower, scalars[upper - 1].properties.isWhitespace { upper -= 1 }
        return lower < upper ? lower..<upper : nil
    }
}
