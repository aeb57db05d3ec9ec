import Foundation
import Testing

@testable import MiniLM

/// The hand-written element-wise functions against double-precision libm.
@Suite struct KernelsTests {
    @Test func expIsWithinTwoULPs() {
        var x: Float = -87.3
        while x < 88 {
            let expected = Foundation.exp(Double(x))
            let relative = Swift.abs(Double(Kernels.exp(x)) - expected) / expected
            #expect(relative < 1.2e-7, "exp(\(x))")
            x += 0.0137
        }
        #expect(Kernels.exp(0) == 1)
        #expect(Kernels.exp(-1e9) == 0)
        #expect(Kernels.exp(-.infinity) == 0)
    }

    @Test func geluIsTheExactErfGELU() {
        var x: Float = -13
        while x < 13 {
            // ½·x·(1 + erf(x/√2)) written with erfc so the reference itself does not cancel.
            let value = Double(x)
            let expected = 0.5 * value * erfc(-value / 2.0.squareRoot())
            let error = Swift.abs(Double(Kernels.gelu(x)) - expected)
            #expect(error <= 2e-7 * Swift.max(1, Swift.abs(value)), "gelu(\(x))")
            if Swift.abs(expected) > 1e-30 { #expect(error / Swift.abs(expected) < 5e-5, "gelu(\(x)) relative") }
            x += 0.00731
        }
        #expect(Kernels.gelu(0) == 0)
    }

    @Test func softmaxGivesMaskedEntriesZeroWeight() {
        var values: [Float] = [1, 2, 3, -1e9, 0.5]
        Kernels.softmax(&values, rows: 1, width: 5)
        let exponentials = [1, 2, 3, 0.5].map { Foundation.exp(Double($0) - 3) }
        let total = exponentials.reduce(0, +)
        for (index, expected) in zip([0, 1, 2, 4], exponentials) {
            #expect(Swift.abs(Double(values[index]) - expected / total) < 1e-7)
        }
        #expect(values[3] == 0)
    }

    @Test func layerNormMatchesTheDefinition() {
        let width = 37
        var values = (0..<width).map { Float(sin(Double($0)) * 3 + 1) }
        let bias = (0..<width).map { Float($0) * 0.01 }
        let weight = (0..<width).map { 1 + Float($0) * 0.02 }
        let beta = (0..<width).map { Float($0) * -0.03 }
        let shifted = zip(values, bias).map { Double($0) + Double($1) }
        let mean = shifted.reduce(0, +) / Double(width)
        let variance = shifted.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
        Kernels.layerNorm(&values, rows: 1, width: width, adding: bias, weight: weight, beta: beta, epsilon: 1e-12)
        for index in 0..<width {
            let expected = (shifted[index] - mean) / (variance + 1e-12).squareRoot() * Double(weight[index]) + Double(beta[index])
            #expect(Swift.abs(Double(values[index]) - expected) < 1e-5)
        }
    }

    @Test func rowTilesCoverEveryRowOnceAndUseEveryWorker() {
        for rows in [1, 2, 3, 255, 256, 257, 4096, 5000] {
            let tiles = MiniLMModel.rowTiles(rows: rows, workers: 2)
            #expect(tiles.first?.lowerBound == 0)
            #expect(tiles.last?.upperBound == rows)
            #expect(zip(tiles, tiles.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(tiles.count >= min(rows, 2))
            #expect(tiles.allSatisfy { $0.count <= 1024 && !$0.isEmpty })
        }
    }
}
