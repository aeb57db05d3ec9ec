import Foundation

/// Splits text into normalised word terms: lower-cased, accents folded, English stop words dropped, plurals and
/// common suffixes trimmed. Deterministic: the same text gives the same terms on every machine.
public struct TextAnalyzer: Sendable {
    public init() {}

    /// Every word of `text`, normalised, stop words included, in order.
    public func words(_ text: String) -> [String] {
        let folded = text.lowercased().folding(options: [.diacriticInsensitive, .widthInsensitive], locale: nil)
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var previousWasLetter = false
        let scalars = Array(folded.unicodeScalars)
        func flush() {
            if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        for (index, scalar) in scalars.enumerated() {
            if Self.isIdeograph(scalar) {
                // Scripts written without spaces: every ideograph is a word of its own.
                flush()
                words.append(String(scalar))
                previousWasLetter = false
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.append(scalar)
                previousWasLetter = true
            } else if (scalar == "'" || scalar == "\u{2019}") && previousWasLetter,
                index + 1 < scalars.count, scalars[index + 1].properties.isAlphabetic
            {
                continue  // "don't" → "dont"
            } else {
                flush()
                previousWasLetter = false
            }
        }
        flush()
        return words
    }

    /// The content terms of `text`: ``words(_:)`` without stop words, each reduced to its stem.
    public func terms(_ text: String) -> [String] {
        words(text).compactMap { word in
            Self.stopWords.contains(word) ? nil : Self.stem(word)
        }
    }

    /// Trims English inflections so that "incidents" and "incident" meet. Deliberately light: it never
    /// changes words of three letters or fewer, and leaves numbers alone.
    public static func stem(_ word: String) -> String {
        guard word.count > 3, word.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic }) else { return word }
        for (suffix, replacement, minimumStem) in suffixRules where word.hasSuffix(suffix) {
            let stem = word.dropLast(suffix.count)
            if stem.count >= minimumStem { return stem + replacement }
        }
        return word
    }

    private static let suffixRules: [(String, String, Int)] = [
        ("ies", "y", 3), ("sses", "ss", 2), ("ings", "", 4), ("ing", "", 4), ("edly", "", 4), ("ed", "", 4),
        ("ly", "", 4), ("es", "", 4), ("ss", "ss", 2), ("us", "us", 2), ("is", "is", 2), ("s", "", 3),
    ]

    static func isIdeograph(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xAC00...0xD7AF, 0x20000...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Common English words that carry no topic.
    public static let stopWords: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
        "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
        "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it",
        "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
        "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should",
        "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there",
        "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
        "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
        "your", "yours", "yourself", "yourselves", "may", "might", "must", "shall", "also", "get", "gets", "got",
        "let", "lets", "us", "many", "much", "dont", "doesnt", "isnt", "arent", "cant", "wont", "tell", "please",
        "s", "t",
    ]
}
