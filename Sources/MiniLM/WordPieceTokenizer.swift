import Foundation
import Providers

/// BERT's uncased WordPiece tokenizer, read from a Hugging Face `tokenizer.json` and reproducing the `tokenizers`
/// library's ids exactly: special tokens matched in the raw text, `BertNormalizer`, `BertPreTokenizer`, greedy
/// longest-match WordPiece with `##` continuations, then `[CLS] … [SEP]`.
///
/// No padding, and truncation to ``maximumTokens`` (the model's `max_seq_length`, 256 for all-MiniLM-L6-v2),
/// ignoring the fixed 128-token padding and truncation `tokenizer.json` carries.
///
/// Character classes (control, punctuation, nonspacing mark) follow Unicode 8.0, the version of the tables inside
/// the tokenizers library, not the newer one Swift ships: checked against `tokenizers` 0.23 for every code point
/// and for random mixed-script texts.
public struct WordPieceTokenizer: Sendable {
    /// The most tokens an encoding holds, `[CLS]` and `[SEP]` included; longer texts are cut at the end.
    public let maximumTokens: Int
    /// The number of entries in the vocabulary (token ids are below it).
    public var vocabularySize: Int { vocabulary.count }

    let vocabulary: [String: Int]
    let unknownID: Int
    let classifierID: Int
    let separatorID: Int
    let continuingPrefix: String
    let maximumCharactersPerWord: Int
    /// The longest vocabulary entry, in Unicode scalars, so WordPiece never tries longer candidates.
    let longestPiece: Int
    let cleansText: Bool
    let handlesChineseCharacters: Bool
    let stripsAccents: Bool
    let lowercases: Bool
    /// Special tokens recognised verbatim in the input, longest first: (content, id).
    let addedTokens: [(content: [Unicode.Scalar], id: Int)]

    /// Reads the tokenizer at `path` (a `tokenizer.json`).
    public init(contentsOf path: String, maximumTokens: Int = 256) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MiniLMError.invalidModelFile(path, "it cannot be read")
        }
        try self.init(json: data, path: path, maximumTokens: maximumTokens)
    }

    /// Parses `tokenizer.json` content; `path` only names the file in errors.
    init(json: Data, path: String = "tokenizer.json", maximumTokens: Int = 256) throws {
        guard maximumTokens >= 2 else {
            throw MiniLMError.invalidModelFile(path, "the model allows \(maximumTokens) positions; an encoding needs room for [CLS] and [SEP]")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw MiniLMError.invalidModelFile(path, "it is not a JSON object")
        }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece",
            let vocabulary = model["vocab"] as? [String: Int], !vocabulary.isEmpty
        else {
            throw MiniLMError(.unsupportedModel, "\(path) does not describe a WordPiece tokenizer with a vocabulary.")
        }
        let normalizer = root["normalizer"] as? [String: Any]
        guard normalizer?["type"] as? String == "BertNormalizer",
            (root["pre_tokenizer"] as? [String: Any])?["type"] as? String == "BertPreTokenizer"
        else {
            throw MiniLMError(
                .unsupportedModel, "\(path) does not use BertNormalizer and BertPreTokenizer, the only ones implemented.")
        }
        func id(of token: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw MiniLMError.invalidModelFile(path, "its vocabulary lacks \(token)")
            }
            return id
        }
        let unknownToken = model["unk_token"] as? String ?? "[UNK]"
        self.maximumTokens = maximumTokens
        self.vocabulary = vocabulary
        self.unknownID = try id(of: unknownToken)
        self.classifierID = try id(of: "[CLS]")
        self.separatorID = try id(of: "[SEP]")
        self.continuingPrefix = model["continuing_subword_prefix"] as? String ?? "##"
        self.maximumCharactersPerWord = model["max_input_chars_per_word"] as? Int ?? 100
        self.longestPiece = vocabulary.keys.reduce(0) { max($0, $1.unicodeScalars.count) }
        self.cleansText = normalizer?["clean_text"] as? Bool ?? true
        self.handlesChineseCharacters = normalizer?["handle_chinese_chars"] as? Bool ?? true
        let lowercases = normalizer?["lowercase"] as? Bool ?? true
        self.lowercases = lowercases
        // `strip_accents: null` means "follow lowercase", as in the tokenizers library.
        self.stripsAccents = normalizer?["strip_accents"] as? Bool ?? lowercases
        let added = (root["added_tokens"] as? [[String: Any]] ?? []).compactMap { entry -> ([Unicode.Scalar], Int)? in
            guard let content = entry["content"] as? String, let id = entry["id"] as? Int, !content.isEmpty else { return nil }
            return (Array(content.unicodeScalars), id)
        }
        self.addedTokens = added.sorted { $0.0.count > $1.0.count }.map { (content: $0.0, id: $0.1) }
    }

    /// The token ids of `text`: `[CLS]`, its word pieces (cut to fit), `[SEP]`. Never longer than ``maximumTokens``.
    public func encode(_ text: String) -> [Int] {
        let capacity = maximumTokens - 1  // room left for [SEP]
        var ids = [classifierID]
        ids.reserveCapacity(min(maximumTokens, text.utf8.count + 2))
        appendPieces(of: Array(text.unicodeScalars)[...], to: &ids, capacity: capacity)
        ids.append(separatorID)
        return ids
    }

    /// How many word pieces `scalars` make, without `[CLS]` and `[SEP]` and without truncation: how much of the
    /// model's ``maximumTokens`` a text takes (the chunker sizes chunks with it).
    public func wordPieceCount(_ scalars: ArraySlice<Unicode.Scalar>) -> Int {
        var ids: [Int] = []
        appendPieces(of: scalars, to: &ids, capacity: .max)
        return ids.count
    }

    /// ``wordPieceCount(_:)`` for sizing chunks: a word the model reads as one `[UNK]` (longer than
    /// `max_input_chars_per_word`, or not covered by the vocabulary, such as a hex dump or a script without spaces)
    /// counts a token per four scalars, so that chunks of such text stay as long as chunks of words do instead of
    /// growing without bound.
    public func sizingCount(_ scalars: ArraySlice<Unicode.Scalar>) -> Int {
        var ids: [Int] = []
        appendPieces(of: scalars, to: &ids, capacity: .max, chargingUnknownWordsByLength: true)
        return ids.count
    }

    /// Appends the ids of `scalars`' special tokens and word pieces until `ids` holds `capacity`.
    private func appendPieces(
        of scalars: ArraySlice<Unicode.Scalar>, to ids: inout [Int], capacity: Int,
        chargingUnknownWordsByLength sizing: Bool = false
    ) {
        var segmentStart = scalars.startIndex
        var index = segmentStart
        // Special tokens are matched in the raw text (their `normalized` flag is false), leftmost-longest first.
        while index < scalars.endIndex, ids.count < capacity {
            if let token = addedToken(in: scalars, at: index) {
                appendWordPieces(of: scalars[segmentStart..<index], to: &ids, capacity: capacity, sizing: sizing)
                if ids.count < capacity { ids.append(token.id) }
                index += token.length
                segmentStart = index
            } else {
                index += 1
                // Long stretches are encoded in slices cut after a space, tab or newline (no word spans one, and
                // normalisation does not reach across one), so a long text is only read until the encoding is full.
                if index - segmentStart >= 2048, ["\u{20}", "\t", "\n", "\r"].contains(scalars[index - 1]) {
                    appendWordPieces(of: scalars[segmentStart..<index], to: &ids, capacity: capacity, sizing: sizing)
                    segmentStart = index
                }
            }
        }
        if segmentStart < scalars.endIndex {
            appendWordPieces(of: scalars[segmentStart..<scalars.endIndex], to: &ids, capacity: capacity, sizing: sizing)
        }
    }

    /// The added (special) token starting at `index`, if any.
    private func addedToken(in scalars: ArraySlice<Unicode.Scalar>, at index: Int) -> (id: Int, length: Int)? {
        for token in addedTokens where token.content.count <= scalars.endIndex - index {
            if token.content.first == scalars[index], scalars[index..<(index + token.content.count)].elementsEqual(token.content) {
                return (token.id, token.content.count)
            }
        }
        return nil
    }

    /// Normalises, pre-tokenises and WordPiece-encodes `segment`, appending ids until `ids` holds `capacity`.
    private func appendWordPieces(
        of segment: ArraySlice<Unicode.Scalar>, to ids: inout [Int], capacity: Int, sizing: Bool = false
    ) {
        guard !segment.isEmpty, ids.count < capacity else { return }
        let normalized = normalize(segment)
        var word: [Unicode.Scalar] = []
        for scalar in normalized {
            if Self.isWhitespace(scalar) {
                appendWord(&word, to: &ids, capacity: capacity, sizing: sizing)
            } else if Self.isPunctuation(scalar) {
                appendWord(&word, to: &ids, capacity: capacity, sizing: sizing)
                word.append(scalar)
                appendWord(&word, to: &ids, capacity: capacity, sizing: sizing)
            } else {
                word.append(scalar)
            }
            if ids.count >= capacity { return }
        }
        appendWord(&word, to: &ids, capacity: capacity, sizing: sizing)
    }

    /// WordPiece: the longest vocabulary entry that starts the word, then the longest `##` entry that continues
    /// it, and so on; a word that cannot be covered, or is longer than `max_input_chars_per_word`, is `[UNK]`.
    private func appendWord(_ word: inout [Unicode.Scalar], to ids: inout [Int], capacity: Int, sizing: Bool) {
        defer { word.removeAll(keepingCapacity: true) }
        guard !word.isEmpty, ids.count < capacity else { return }
        /// `[UNK]` once; for sizing, once per four scalars of the word (``sizingCount(_:)``).
        func appendUnknown() {
            let count = sizing ? max(1, (word.count + 3) / 4) : 1
            ids.append(contentsOf: repeatElement(unknownID, count: min(count, capacity - ids.count)))
        }
        guard word.count <= maximumCharactersPerWord else {
            appendUnknown()
            return
        }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = min(word.count, start + longestPiece)
            var match: Int?
            while start < end {
                var candidate = start > 0 ? continuingPrefix : ""
                candidate.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = lookup(candidate) {
                    match = id
                    break
                }
                end -= 1
            }
            guard let match else {
                appendUnknown()
                return
            }
            pieces.append(match)
            start = end
        }
        ids.append(contentsOf: pieces.prefix(capacity - ids.count))
    }

    /// The id of exactly `piece`. Swift compares strings by canonical equivalence; the tokenizers library compares
    /// bytes, so a hit must also match scalar for scalar.
    private func lookup(_ piece: String) -> Int? {
        guard let index = vocabulary.index(forKey: piece) else { return nil }
        let entry = vocabulary[index]
        return entry.key.unicodeScalars.elementsEqual(piece.unicodeScalars) ? entry.value : nil
    }

    // MARK: - BertNormalizer

    /// Clean text (drop NUL, U+FFFD and control characters; whitespace becomes a space), space out CJK
    /// ideographs, strip accents (NFD, then drop nonspacing marks), lower-case.
    func normalize(_ segment: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        var isASCII = true
        for scalar in segment {
            if cleansText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    cleaned.append(" ")
                    continue
                }
            }
            if handlesChineseCharacters, Self.isChineseCharacter(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
                isASCII = false
                continue
            }
            isASCII = isASCII && scalar.isASCII
            cleaned.append(scalar)
        }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(cleaned.count)
        if isASCII {
            for scalar in cleaned {
                result.append(lowercases && scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
            }
            return result
        }
        let accentless: String.UnicodeScalarView
        if stripsAccents {
            var stripped = String.UnicodeScalarView()
            for scalar in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
            where !Self.isNonspacingMark(scalar) {
                stripped.append(scalar)
            }
            accentless = stripped
        } else {
            accentless = cleaned
        }
        for scalar in accentless {
            if lowercases, scalar.properties.changesWhenLowercased {
                // Per character, as the tokenizers library does (no final-sigma context).
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// The characters the tokenizers library knew: its category tables (the `unicode_categories` crate) are
    /// Unicode 8.0, so anything assigned later counts there as unassigned: an ordinary letter, never a control,
    /// punctuation or accent.
    static func isKnownToBERT(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    /// Control characters the normaliser drops: categories Cc, Cf and Co (as of Unicode 8.0), except tab, newline
    /// and return. Unassigned characters are kept (and end up as `[UNK]`).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r": return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .privateUse: return true
            case .format: return isKnownToBERT(scalar)
            default: return false
            }
        }
    }

    /// Unicode White_Space, as Rust's `char::is_whitespace` (tab, newline and return included).
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII ? scalar.value == 32 || (9...13).contains(scalar.value) : scalar.properties.isWhitespace
    }

    /// ASCII punctuation (33–47, 58–64, 91–96, 123–126, symbols such as `$` and `+` included) or any Unicode P*
    /// category (as of Unicode 8.0).
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 128 {
            return (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value)
                || (123...126).contains(value)
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return isKnownToBERT(scalar)
        default:
            // Po in Unicode 8.0, recategorised since.
            return scalar.value == 0x166D || scalar.value == 0x111C9
        }
    }

    /// A nonspacing mark (Mn) as of Unicode 8.0: dropped by accent stripping.
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1734, 0x1171E: return true  // Mn in 8.0, spacing marks since
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // letters, spacing marks or punctuation in 8.0, Mn since
        default: return scalar.properties.generalCategory == .nonspacingMark && isKnownToBERT(scalar)
        }
    }

    /// The CJK ideograph blocks BERT surrounds with spaces (so each becomes its own word).
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}

extension WordPieceTokenizer: TokenCounter {
    /// The counting's name in the chunker fingerprint.
    public var name: String { "minilm-wordpiece" }
    /// `[CLS]` and `[SEP]`.
    public var specialTokens: Int { 2 }

    public func count(_ scalars: ArraySlice<Unicode.Scalar>) -> Int { sizingCount(scalars) }
}
