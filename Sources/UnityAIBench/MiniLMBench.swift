import Foundation
import MiniLM

/// Texts per second of the native MiniLM embedder on a JSON array of texts.
enum MiniLMBench {
    static func run(textsPath: String, batch: Int, rounds: Int) async throws {
        guard let data = FileManager.default.contents(atPath: textsPath),
            let texts = try? JSONSerialization.jsonObject(with: data) as? [String], !texts.isEmpty
        else { fail("\(textsPath) is not a JSON array of strings") }

        let embedder: MiniLMEmbedder
        do {
            embedder = try MiniLMEmbedder(modelDirectory: MiniLMEmbedder.defaultModelDirectory())
        } catch {
            fail("\(error)")
        }
        let tokens = texts.map { embedder.tokenizer.encode($0).count }

        func embedAll() async throws {
            var start = 0
            while start < texts.count {
                let end = min(start + batch, texts.count)
                _ = try await embedder.embed(Array(texts[start..<end]))
                start = end
            }
        }

        let clock = ContinuousClock()
        _ = try await embedder.embed(Array(texts.prefix(batch)))  // warm-up: page in the weights
        var rates: [Double] = []
        for _ in 0..<rounds {
            let elapsed = try await clock.measure { try await embedAll() }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates.append(Double(texts.count) / seconds)
        }
        let summary: [String: Any] = [
            "embedder": "minilm-native", "texts": texts.count, "tokens_min": tokens.min()!, "tokens_max": tokens.max()!,
            "batch": batch, "texts_per_second": rates.map { ($0 * 10).rounded() / 10 },
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
    }
}
