import Providers

/// Estimates how many tokens a language model's tokenizer makes of a text, without a vocabulary: a word of up to
/// six letters is one token and every further six letters one more, each punctuation mark is one, each
/// ideograph is one. Close to BPE counts for English prose (within about 15 %), which is all chunk sizing needs.
public struct TokenEstimator: TokenCounter {
    /// The estimator's name in the chunker fingerprint.
    public static let name = "estimate"
    public var name: String { Self.name }
    /// The estimate sizes the chunk alone; it knows no model's special tokens.
    public var specialTokens: Int { 0 }

    public init() {}

    public func count(_ scalars: ArraySlice<Unicode.Scalar>) -> Int {
        var tokens = 0
        var wordLength = 0
        func endWord() {
            if wordLength > 0 { tokens += 1 + (wordLength - 1) / 6 }
            wordLength = 0
        }
        for scalar in scalars {
            if scalar.properties.isWhitespace {
                endWord()
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                if scalar.value >= 0x2E80 {  // CJK and other wide scripts: a token per character
                    endWord()
                    tokens += 1
                } else {
                    wordLength += 1
                }
            } else {
                endWord()
                tokens += 1
            }
        }
        endWord()
        return tokens
    }
}
