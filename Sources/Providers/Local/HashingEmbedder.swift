/// The built-in `local` embedder: feature hashing of normalised word unigrams and bigrams, needing no model files.
///
/// Each term is hashed (64-bit FNV-1a, so identical on every machine) into one of `dimensions` buckets with a
/// hash-derived sign; a term's weight is its sublinear frequency `1 + ln(tf)`; the vector is L2-normalised.
/// It captures shared words, not meaning: semantic embedders plug in behind the same protocol.
public struct HashingEmbedder: EmbeddingProvider {
    public let model: EmbeddingModelDescriptor
    public var maximumBatchSize: Int { 256 }
    private let analyzer = TextAnalyzer()

    /// - Parameter dimensions: the vector length; 512 by default.
    public init(dimensions: Int = 512) {
        precondition(dimensions > 0, "an embedding needs at least one dimension")
        self.model = EmbeddingModelDescriptor(name: "local-hash-\(dimensions)", dimensions: dimensions)
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        texts.map(vector(for:))
    }

    /// The embedding of one text. An empty text (no terms) gives the zero vector.
    public func vector(for text: String) -> [Float] {
        let terms = analyzer.terms(text)
        var counts: [String: Int] = [:]
        for term in terms { counts["u:" + term, default: 0] += 1 }
        for (first, second) in zip(terms, terms.dropFirst()) { counts["b:" + first + " " + second, default: 0] += 1 }

        var vector = [Float](repeating: 0, count: model.dimensions)
        for (feature, count) in counts {
            let hash = Self.fnv1a(feature)
            let bucket = Int(hash % UInt64(model.dimensions))
            let sign: Float = (hash >> 63) == 0 ? 1 : -1
            vector[bucket] += sign * (1 + Float(logf(Float(count))))
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return vector }
        return vector.map { $0 / norm }
    }

    /// 64-bit FNV-1a over UTF-8: stable across runs, processes and platforms, unlike `Hasher`.
    static func fnv1a(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in string.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
