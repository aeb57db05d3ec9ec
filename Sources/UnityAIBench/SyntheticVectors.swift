import Foundation

/// Seeded synthetic embeddings with the structure of real ones: clustered, with a low intrinsic dimension inside each
/// cluster, so that nearest neighbours are well defined (uniform random vectors in 384 dimensions are all nearly
/// equidistant, which makes any index look either hopeless or perfect).
///
/// The generator, for `clusters` clusters in `dimensions` dimensions:
/// - each cluster k has a centre `c_k ~ N(0, I)` and a basis of `intrinsic` directions `b_kj ~ N(0, spread² / intrinsic · I)`;
/// - a point of cluster k (chosen uniformly) is `c_k + Σ_j z_j·b_kj + noise·n`, with `z ~ N(0, I_intrinsic)` and
///   `n ~ N(0, I)`, then scaled to unit length (as sentence embedders return them);
/// - with the defaults (spread 0.7, noise 0.1, intrinsic 16) a point's cosine similarity to its own centre is about
///   0.8 and to another cluster's points about 0, like MiniLM's related and unrelated passages.
///
/// Everything derives from `seed` through SplitMix64, so two runs with the same parameters write the same rows.
/// Stored points and query points use different streams of the same clusters: queries are new points, not copies.
struct SyntheticVectors {
    let dimensions: Int
    let intrinsic: Int
    let noise: Float
    private let centres: [[Float]]
    private let bases: [[Float]]  // per cluster, intrinsic × dimensions, row-major

    init(dimensions: Int, clusters: Int, intrinsic: Int = 16, spread: Float = 0.7, noise: Float = 0.1, seed: UInt64) {
        self.dimensions = dimensions
        self.intrinsic = intrinsic
        self.noise = noise
        var random = SplitMix64(seed: seed)
        let basisScale = spread / Float(intrinsic).squareRoot()
        var centres: [[Float]] = []
        var bases: [[Float]] = []
        for _ in 0..<max(1, clusters) {
            centres.append((0..<dimensions).map { _ in random.nextGaussian() })
            bases.append((0..<(intrinsic * dimensions)).map { _ in random.nextGaussian() * basisScale })
        }
        self.centres = centres
        self.bases = bases
    }

    /// A stream of points: `stream` 0 is the stored rows, 1 the queries.
    func points(stream: UInt64) -> PointStream {
        PointStream(vectors: self, random: SplitMix64(seed: 0x5EED_0000_0000 &+ stream &* 0x9E37_79B9_7F4A_7C15))
    }

    struct PointStream {
        let vectors: SyntheticVectors
        var random: SplitMix64

        /// The next unit-length point, written into `point` (which must hold `dimensions` values).
        mutating func next(into point: inout [Float]) {
            let dimensions = vectors.dimensions
            let cluster = Int(random.next() % UInt64(vectors.centres.count))
            let centre = vectors.centres[cluster]
            for d in 0..<dimensions { point[d] = centre[d] + vectors.noise * random.nextGaussian() }
            vectors.bases[cluster].withUnsafeBufferPointer { basis in
                for j in 0..<vectors.intrinsic {
                    let z = random.nextGaussian()
                    let row = j * dimensions
                    for d in 0..<dimensions { point[d] += z * basis[row + d] }
                }
            }
            var norm: Float = 0
            for d in 0..<dimensions { norm += point[d] * point[d] }
            let scale = norm > 0 ? 1 / norm.squareRoot() : 0
            for d in 0..<dimensions { point[d] *= scale }
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): small, fast and fully determined by its seed.
struct SplitMix64 {
    private var state: UInt64
    private var spareGaussian: Float?

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    mutating func nextUnit() -> Float { Float((next() >> 40) + 1) / Float(1 << 24) }

    /// Standard normal (Box–Muller, both values used).
    mutating func nextGaussian() -> Float {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        let radius = (-2 * log(nextUnit())).squareRoot()
        let angle = 2 * Float.pi * nextUnit()
        spareGaussian = radius * sin(angle)
        return radius * cos(angle)
    }
}

/// Writes vectors in PostgreSQL's text form (`[0.012345,-0.5,...]`) without Foundation's slow float formatting:
/// six decimals, more than `halfvec`'s precision and enough for `vector`'s recall measurements.
struct VectorTextWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func append(integer: Int) {
        if integer < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = integer.magnitude
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes.append(contentsOf: digits.reversed())
    }

    mutating func append(vector: [Float]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in vector.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            let micros = Int((Double(value) * 1_000_000).rounded())
            if micros < 0 { bytes.append(UInt8(ascii: "-")) }
            let magnitude = micros.magnitude
            append(integer: Int(magnitude / 1_000_000))
            bytes.append(UInt8(ascii: "."))
            var fraction = magnitude % 1_000_000
            var divisor: UInt = 100_000
            for _ in 0..<6 {
                bytes.append(UInt8(ascii: "0") + UInt8(fraction / divisor))
                fraction %= divisor
                divisor /= 10
            }
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
