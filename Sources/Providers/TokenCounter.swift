/// Counts the tokens a text makes, for sizing chunks: Ingest's `TokenEstimator` without a vocabulary, or an
/// embedding model's own tokenizer (MiniLM's `WordPieceTokenizer`, which the CLI wires in when its files are
/// installed), so that a chunk fits what the model reads. A capability, like ``EmbeddingProvider``: Ingest
/// depends on it, not on any model.
public protocol TokenCounter: Sendable {
    /// Names the counting in the chunker fingerprint (`estimate`, `minilm-wordpiece`): documents chunked with
    /// another counter are chunked again.
    var name: String { get }
    /// Tokens the model adds to every text it encodes (`[CLS]` and `[SEP]`: 2), counted against the budget when
    /// chunks are sized to include their heading line.
    var specialTokens: Int { get }
    /// The tokens of `scalars`, without special tokens. Counts add up over texts joined by white space, and `n`
    /// scalars never make more than `n` tokens.
    func count(_ scalars: ArraySlice<Unicode.Scalar>) -> Int
}

extension TokenCounter {
    /// The tokens of `text`, without special tokens.
    public func count(_ text: String) -> Int {
        count(Array(text.unicodeScalars)[...])
    }
}
