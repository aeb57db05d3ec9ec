import Foundation
import MiniLM

// unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N]
//
// Embeds the texts of a JSON array with the native MiniLM embedder, `rounds` times after one warm-up batch, and
// prints one JSON line: texts, tokens per text (as the model sees them), batch, and texts/s of each round. Run by
// deploy/bench-minilm.sh, which times the numpy reference on the same file in the same session.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("unity-ai-bench: \(message)\n".utf8))
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "minilm", arguments.count >= 2 else {
    fail("usage: unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N]")
}
let textsPath = arguments[1]
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]),
        parsed > 0
    else { return value }
    return parsed
}
let batch = option("--batch", default: 32)
let rounds = option("--rounds", default: 3)

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
