import COpenBLAS
import Dispatch
import Foundation

/// The weights of a BERT encoder (all-MiniLM-L6-v2: 6 layers, 12 heads of 32, hidden 384, intermediate 1536) and
/// its forward pass to mean-pooled, L2-normalised sentence vectors.
///
/// Immutable after loading, so one instance serves any number of concurrent callers.
///
/// Sequences are packed, not padded: the rows of all sequences of a batch are stacked into one matrix, so every
/// linear layer is one matrix product per row tile whatever the lengths, and attention runs per sequence and head
/// over that sequence's own rows. This is what padding plus an attention mask computes (a masked key gets weight
/// exactly 0 after the softmax), without the padded rows. The work is split into row tiles and (sequence, head)
/// pairs spread over all cores; OpenBLAS runs single-threaded inside each.
final class MiniLMModel: @unchecked Sendable {
    /// A `Linear` layer: `y = x · weightᵀ + bias`, weight `outputs × inputs`.
    struct Linear: Sendable {
        var weight: FloatTensor
        var bias: FloatTensor
        var inputs: Int { weight.shape[1] }
        var outputs: Int { weight.shape[0] }
    }

    /// A LayerNorm's scale and shift.
    struct Norm: Sendable {
        var weight: FloatTensor
        var bias: FloatTensor
    }

    /// One encoder layer.
    struct Layer: Sendable {
        var query: Linear
        var key: Linear
        var value: Linear
        /// `[query.bias, key.bias, value.bias]`, broadcast into the fused Q|K|V rows before their products.
        var queryKeyValueBias: FloatTensor
        var attentionOutput: Linear
        var attentionNorm: Norm
        var intermediate: Linear
        var output: Linear
        var outputNorm: Norm
    }

    let configuration: BertConfiguration
    let wordEmbeddings: FloatTensor
    let positionEmbeddings: FloatTensor
    let tokenTypeEmbeddings: FloatTensor
    let embeddingNorm: Norm
    let layers: [Layer]
    /// How many threads a forward pass uses.
    let workers: Int

    /// Loads `model.safetensors` and `config.json` from `directory`.
    init(directory: String, workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let configuration = try BertConfiguration(contentsOf: directory + "/config.json")
        let file = try SafetensorsFile(path: directory + "/model.safetensors")
        // Checkpoints saved from BertForMaskedLM and friends prefix every name with "bert.".
        let prefix = file.tensors["embeddings.word_embeddings.weight"] == nil ? "bert." : ""
        let hidden = configuration.hiddenSize
        func tensor(_ name: String, _ shape: [Int]) throws -> FloatTensor {
            try file.floatTensor(prefix + name, shape: shape)
        }
        func linear(_ name: String, inputs: Int, outputs: Int) throws -> Linear {
            Linear(weight: try tensor(name + ".weight", [outputs, inputs]), bias: try tensor(name + ".bias", [outputs]))
        }
        func norm(_ name: String) throws -> Norm {
            Norm(weight: try tensor(name + ".weight", [hidden]), bias: try tensor(name + ".bias", [hidden]))
        }
        self.configuration = configuration
        self.wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [configuration.vocabularySize, hidden])
        self.positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [configuration.maximumPositions, hidden])
        self.tokenTypeEmbeddings = try tensor("embeddings.token_type_embeddings.weight", [configuration.tokenTypes, hidden])
        self.embeddingNorm = try norm("embeddings.LayerNorm")
        self.layers = try (0..<configuration.layers).map { index in
            let p = "encoder.layer.\(index)."
            let query = try linear(p + "attention.self.query", inputs: hidden, outputs: hidden)
            let key = try linear(p + "attention.self.key", inputs: hidden, outputs: hidden)
            let value = try linear(p + "attention.self.value", inputs: hidden, outputs: hidden)
            let fusedBias = FloatTensor(shape: [3 * hidden]) { buffer in
                for (part, bias) in [query.bias, key.bias, value.bias].enumerated() {
                    for index in 0..<hidden { buffer[part * hidden + index] = bias.pointer[index] }
                }
            }
            return Layer(
                query: query, key: key, value: value, queryKeyValueBias: fusedBias,
                attentionOutput: try linear(p + "attention.output.dense", inputs: hidden, outputs: hidden),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                intermediate: try linear(p + "intermediate.dense", inputs: hidden, outputs: configuration.intermediateSize),
                output: try linear(p + "output.dense", inputs: configuration.intermediateSize, outputs: hidden),
                outputNorm: try norm(p + "output.LayerNorm"))
        }
        self.workers = max(1, workers)
        // The forward pass spreads row tiles and attention heads over the cores itself; OpenBLAS threads inside
        // each of those calls would only contend with them (measured: 3× slower). Process-wide, but this target is
        // the only user of OpenBLAS.
        openblas_set_num_threads(1)
    }

    /// The sentence vectors of `sequences` (token ids, each at most `maximumPositions` long and never empty):
    /// mean over the final hidden states of each sequence's tokens, L2-normalised. Blocks while it computes.
    func embed(_ sequences: [[Int]]) -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        for sequence in sequences {
            precondition(!sequence.isEmpty && sequence.count <= configuration.maximumPositions, "sequence length out of range")
            precondition(sequence.allSatisfy { $0 >= 0 && $0 < configuration.vocabularySize }, "token id out of range")
        }
        // Sequence i occupies the packed rows starts[i] ..< starts[i] + sequences[i].count.
        let offsets = sequences.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        let starts = Array(offsets.dropLast())
        let total = offsets.last!
        let hidden = configuration.hiddenSize
        let workspace = Workspace(rows: total, hidden: hidden)
        defer { workspace.deallocate() }

        let tiles = Self.rowTiles(rows: total, workers: workers)
        let lastLayer = layers.count - 1
        // Embeddings, then layer 0's Q|K|V, tile by tile.
        parallelFor(tiles.count) { tile in
            let rows = tiles[tile]
            self.embed(sequences, starts: starts, rows: rows, into: workspace)
            self.projectQueryKeyValue(layer: self.layers[0], rows: rows, in: workspace)
        }
        let heads = configuration.attentionHeads
        for (index, layer) in layers.enumerated() {
            parallelFor(sequences.count * heads) { task in
                let sequence = task / heads
                self.attend(head: task % heads, rows: starts[sequence]..<(starts[sequence] + sequences[sequence].count), in: workspace)
            }
            parallelFor(tiles.count) { tile in
                self.finish(layer: layer, rows: tiles[tile], in: workspace)
                if index < lastLayer { self.projectQueryKeyValue(layer: self.layers[index + 1], rows: tiles[tile], in: workspace) }
            }
        }
        return sequences.indices.map { index in
            Self.meanPooledUnitVector(workspace.x + starts[index] * hidden, rows: sequences[index].count, width: hidden)
        }
    }

    // MARK: - Stages

    /// `x[row] = LayerNorm(word[id] + position[p] + tokenType[0])` for the packed rows `rows`.
    private func embed(_ sequences: [[Int]], starts: [Int], rows: Range<Int>, into workspace: Workspace) {
        let hidden = configuration.hiddenSize
        // The sequence holding the tile's first row; rows then advance through the sequences in order.
        var sequence = starts.lastIndex(where: { $0 <= rows.lowerBound }) ?? 0
        let tokenType = tokenTypeEmbeddings.pointer
        for row in rows {
            while row >= starts[sequence] + sequences[sequence].count { sequence += 1 }
            let position = row - starts[sequence]
            let word = wordEmbeddings.pointer + sequences[sequence][position] * hidden
            let positional = positionEmbeddings.pointer + position * hidden
            let destination = workspace.x + row * hidden
            for index in 0..<hidden { destination[index] = word[index] + positional[index] + tokenType[index] }
        }
        Kernels.layerNorm(
            workspace.x + rows.lowerBound * hidden, rows: rows.count, width: hidden, adding: nil,
            weight: embeddingNorm.weight.pointer, beta: embeddingNorm.bias.pointer, epsilon: configuration.layerNormEpsilon)
    }

    /// `qkv[rows] = x[rows] · [Wq|Wk|Wv]ᵀ + [bq|bk|bv]`.
    private func projectQueryKeyValue(layer: Layer, rows: Range<Int>, in workspace: Workspace) {
        let hidden = configuration.hiddenSize
        let stride = 3 * hidden
        let destination = workspace.queryKeyValue + rows.lowerBound * stride
        Kernels.broadcast(layer.queryKeyValueBias.pointer, width: stride, rows: rows.count, into: destination, stride: stride)
        for (part, linear) in [layer.query, layer.key, layer.value].enumerated() {
            Kernels.multiplyTransposed(
                workspace.x + rows.lowerBound * hidden, rows: rows.count, inner: hidden,
                by: linear.weight.pointer, columns: hidden,
                into: destination + part * hidden, leadingC: stride, beta: 1)
        }
    }

    /// Scaled dot-product attention of one head over one sequence's rows: `context = softmax(QKᵀ/√d) · V`.
    private func attend(head: Int, rows: Range<Int>, in workspace: Workspace) {
        let hidden = configuration.hiddenSize
        let size = configuration.headSize
        let stride = 3 * hidden
        let length = rows.count
        let base = workspace.queryKeyValue + rows.lowerBound * stride + head * size
        withUnsafeTemporaryAllocation(of: Float.self, capacity: length * length) { scores in
            let scores = scores.baseAddress!
            Kernels.multiplyTransposed(
                base, rows: length, inner: size, leading: stride, by: base + hidden, columns: length, leadingB: stride,
                into: scores, alpha: 1 / Float(size).squareRoot())
            Kernels.softmax(scores, rows: length, width: length)
            Kernels.multiply(
                scores, rows: length, inner: length, leading: length, by: base + 2 * hidden, columns: size, leadingB: stride,
                into: workspace.context + rows.lowerBound * hidden + head * size, leadingC: hidden)
        }
    }

    /// The rest of a layer for `rows`: attention output + residual + LayerNorm, then the feed-forward block
    /// (intermediate + GELU, output + residual + LayerNorm). Updates `x` in place.
    private func finish(layer: Layer, rows: Range<Int>, in workspace: Workspace) {
        let hidden = configuration.hiddenSize
        let intermediate = configuration.intermediateSize
        let epsilon = configuration.layerNormEpsilon
        let x = workspace.x + rows.lowerBound * hidden
        // x ← LayerNorm(x + context · Woᵀ + bo)
        Kernels.multiplyTransposed(
            workspace.context + rows.lowerBound * hidden, rows: rows.count, inner: hidden,
            by: layer.attentionOutput.weight.pointer, columns: hidden, into: x, beta: 1)
        Kernels.layerNorm(
            x, rows: rows.count, width: hidden, adding: layer.attentionOutput.bias.pointer,
            weight: layer.attentionNorm.weight.pointer, beta: layer.attentionNorm.bias.pointer, epsilon: epsilon)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows.count * intermediate) { buffer in
            let h = buffer.baseAddress!
            // h ← GELU(x · Wiᵀ + bi)
            Kernels.multiplyTransposed(
                x, rows: rows.count, inner: hidden, by: layer.intermediate.weight.pointer, columns: intermediate, into: h)
            Kernels.biasGELU(h, rows: rows.count, width: intermediate, bias: layer.intermediate.bias.pointer)
            // x ← LayerNorm(x + h · Wo2ᵀ + bo2)
            Kernels.multiplyTransposed(
                h, rows: rows.count, inner: intermediate, by: layer.output.weight.pointer, columns: hidden, into: x, beta: 1)
        }
        Kernels.layerNorm(
            x, rows: rows.count, width: hidden, adding: layer.output.bias.pointer,
            weight: layer.outputNorm.weight.pointer, beta: layer.outputNorm.bias.pointer, epsilon: epsilon)
    }

    /// The mean of `rows` rows, scaled to unit length.
    private static func meanPooledUnitVector(_ x: UnsafePointer<Float>, rows: Int, width: Int) -> [Float] {
        var vector = [Float](repeating: 0, count: width)
        for row in 0..<rows {
            for index in 0..<width { vector[index] += x[row * width + index] }
        }
        let count = Float(rows)
        for index in 0..<width { vector[index] /= count }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return vector }
        return vector.map { $0 / norm }
    }

    // MARK: - Scheduling

    /// Splits `rows` into contiguous tiles: at least one per worker (so a single long text still uses every core),
    /// at most 1024 rows each (bounding the per-tile intermediate activations to 6 MB; smaller tiles spend more
    /// time re-packing the weights inside OpenBLAS).
    static func rowTiles(rows: Int, workers: Int) -> [Range<Int>] {
        guard rows > 0 else { return [] }
        let perWorker = (rows + workers - 1) / workers
        let size = max(1, min(1024, perWorker))
        return stride(from: 0, to: rows, by: size).map { $0..<min(rows, $0 + size) }
    }

    /// Runs `body(0..<count)` across the workers and returns when all are done.
    private func parallelFor(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count == 1 || workers == 1 {
            for index in 0..<count { body(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        }
    }
}

/// The activations of one forward pass, for `rows` packed token rows.
private struct Workspace: @unchecked Sendable {
    /// Hidden states, `rows × hidden`.
    let x: UnsafeMutablePointer<Float>
    /// Fused query|key|value projections, `rows × 3·hidden`.
    let queryKeyValue: UnsafeMutablePointer<Float>
    /// Attention output before its dense layer, `rows × hidden`.
    let context: UnsafeMutablePointer<Float>

    init(rows: Int, hidden: Int) {
        x = .allocate(capacity: rows * hidden)
        queryKeyValue = .allocate(capacity: rows * 3 * hidden)
        context = .allocate(capacity: rows * hidden)
    }

    func deallocate() {
        x.deallocate()
        queryKeyValue.deallocate()
        context.deallocate()
    }
}
