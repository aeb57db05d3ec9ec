import COpenBLAS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element-wise and row-wise pieces of the BERT forward pass, over raw row-major `Float` buffers, plus the
/// one matrix product everything else goes through.
enum Kernels {
    /// `c[rows × n] = beta·c + a[rows × k] · b[n × k]ᵀ`: a PyTorch `Linear` weight `b` (out × in) applied to the
    /// rows of `a`. Leading dimensions default to dense rows.
    static func multiplyTransposed(
        _ a: UnsafePointer<Float>, rows: Int, inner k: Int, leading lda: Int? = nil,
        by b: UnsafePointer<Float>, columns n: Int, leadingB ldb: Int? = nil,
        into c: UnsafeMutablePointer<Float>, leadingC ldc: Int? = nil, alpha: Float = 1, beta: Float = 0
    ) {
        guard rows > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(k), alpha,
            a, Int32(lda ?? k), b, Int32(ldb ?? k), beta, c, Int32(ldc ?? n))
    }

    /// `c[rows × n] = a[rows × k] · b[k × n]`.
    static func multiply(
        _ a: UnsafePointer<Float>, rows: Int, inner k: Int, leading lda: Int,
        by b: UnsafePointer<Float>, columns n: Int, leadingB ldb: Int,
        into c: UnsafeMutablePointer<Float>, leadingC ldc: Int
    ) {
        guard rows > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(n), Int32(k), 1,
            a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }

    /// Copies `vector` (length `width`) into each of `rows` rows of `matrix` (row stride `stride`).
    static func broadcast(_ vector: UnsafePointer<Float>, width: Int, rows: Int, into matrix: UnsafeMutablePointer<Float>, stride: Int) {
        for row in 0..<rows {
            (matrix + row * stride).update(from: vector, count: width)
        }
    }

    // MARK: - Row-wise and element-wise kernels
    //
    // Element-wise loops are written as plain arithmetic over pointers (no calls, no trapping conversions) so the
    // compiler vectorises them; reductions keep several accumulators to break the dependency chain.

    /// In place, per row of `width` values: `x ← (x + bias − mean) / √(variance + ε) · weight + beta`, the
    /// variance being the biased one (divided by `width`), as PyTorch's LayerNorm.
    static func layerNorm(
        _ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, adding bias: UnsafePointer<Float>?,
        weight: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        let count = Float(width)
        for row in 0..<rows {
            let values = x + row * width
            if let bias {
                for index in 0..<width { values[index] += bias[index] }
            }
            let mean = sum(values, count: width) / count
            let variance = sumOfSquaredDeviations(values, count: width, from: mean) / count
            let scale = 1 / (variance + epsilon).squareRoot()
            for index in 0..<width {
                values[index] = (values[index] - mean) * scale * weight[index] + beta[index]
            }
        }
    }

    /// In place: `x ← gelu(x + bias) = ½·x·(1 + erf(x/√2))`, the exact (erf) GELU, not the tanh approximation.
    static func biasGELU(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, bias: UnsafePointer<Float>) {
        for row in 0..<rows {
            let values = x + row * width
            for index in 0..<width { values[index] = gelu(values[index] + bias[index]) }
        }
    }

    /// In place, per row of `width` values: `x ← exp(x − max) / Σ exp(x − max)`.
    static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for row in 0..<rows {
            let values = x + row * width
            let maximum = self.maximum(values, count: width)
            for index in 0..<width { values[index] = exp(values[index] - maximum) }
            let inverse = 1 / sum(values, count: width)
            for index in 0..<width { values[index] *= inverse }
        }
    }

    /// `gelu(x) = ½·x·(1 + erf(x/√2))`. `1 + erf(u)` is taken as `erfc(−u)` (`2 − erfc(u)` for `u ≥ 0`), which keeps
    /// full relative precision for negative inputs, where `1 + erf(u)` computed directly cancels.
    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        let u = x * 0.707_106_781_186_547_5
        let e = erfc(Float(bitPattern: u.bitPattern & 0x7FFF_FFFF))
        return 0.5 * x * (u < 0 ? e : 2 - e)
    }

    /// `erfc(z)` for `z ≥ 0`, relative error below 1.2·10⁻⁷ (Numerical Recipes' `erfcc` Chebyshev fit).
    @inline(__always)
    static func erfc(_ z: Float) -> Float {
        let t = 1 / (1 + 0.5 * z)
        var p: Float = 0.170_872_77
        p = p * t - 0.822_152_23
        p = p * t + 1.488_515_87
        p = p * t - 1.135_203_98
        p = p * t + 0.278_868_07
        p = p * t - 0.186_288_06
        p = p * t + 0.096_784_18
        p = p * t + 0.374_091_96
        p = p * t + 1.000_023_68
        p = p * t - 1.265_512_23
        return t * exp(p - z * z)
    }

    /// `eˣ` within 2 ulp of the correctly rounded result (Cephes' `expf`): `x = n·ln 2 + r`, `eʳ` by a degree-6
    /// polynomial, `2ⁿ` assembled in the exponent bits. Below −87.3 (where `eˣ` is subnormal) the result is 0;
    /// above 88 it is e⁸⁸.
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        let x = Swift.min(Swift.max(input, -87.336_54), 88)
        // n = round(x / ln 2): adding 1.5·2²³ rounds to an integer and leaves it in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = x * 1.442_695_040_888_963_4 + magic
        let n = shifted - magic
        // r = x − n·ln 2, with ln 2 split in two so the first product is exact.
        let r = (x - n * 0.693_359_375) - n * -2.121_944_400_546_905_8e-4
        var p: Float = 1.987_569_150_0e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        let exponent = (shifted.bitPattern &- magic.bitPattern &+ 127) &<< 23
        return input < -87.336_54 ? 0 : p * Float(bitPattern: exponent)
    }

    /// Σ values, with eight running sums.
    @inline(__always)
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var sums = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            sums += UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self)
            index += 8
        }
        var total = sums.sum()
        while index < count {
            total += values[index]
            index += 1
        }
        return total
    }

    @inline(__always)
    static func sum(_ values: UnsafeMutablePointer<Float>, count: Int) -> Float { sum(UnsafePointer(values), count: count) }

    /// Σ (values − mean)², with eight running sums.
    @inline(__always)
    static func sumOfSquaredDeviations(_ values: UnsafeMutablePointer<Float>, count: Int, from mean: Float) -> Float {
        var sums = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            let centred = UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self) - mean
            sums += centred * centred
            index += 8
        }
        var total = sums.sum()
        while index < count {
            let centred = values[index] - mean
            total += centred * centred
            index += 1
        }
        return total
    }

    /// The largest value, with four running maxima.
    @inline(__always)
    static func maximum(_ values: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var m0 = -Float.infinity, m1 = -Float.infinity, m2 = -Float.infinity, m3 = -Float.infinity
        var index = 0
        while index + 4 <= count {
            m0 = Swift.max(m0, values[index])
            m1 = Swift.max(m1, values[index + 1])
            m2 = Swift.max(m2, values[index + 2])
            m3 = Swift.max(m3, values[index + 3])
            index += 4
        }
        while index < count {
            m0 = Swift.max(m0, values[index])
            index += 1
        }
        return Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
    }
}
