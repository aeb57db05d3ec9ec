import Foundation
import Providers
import Testing

@testable import MiniLM

@Suite struct MiniLMEmbedderTests {
    @Test func describesTheMiniLMSpace() throws {
        let embedder = try MiniLMFixtures.embedder()
        #expect(embedder.model == EmbeddingModelDescriptor(name: "minilm", dimensions: 384))
        #expect(embedder.maximumBatchSize > 0)
    }

    @Test func matchesTheReferenceEmbeddings() async throws {
        let embedder = try MiniLMFixtures.embedder()
        let reference = try MiniLMFixtures.reference()
        #expect(reference.maxSeqLength == MiniLMEmbedder.maximumTokens)
        let vectors = try await embedder.embed(reference.cases.map(\.text))
        #expect(vectors.count == reference.cases.count)
        for (item, vector) in zip(reference.cases, vectors) {
            #expect(vector.count == 384)
            let cosine = MiniLMFixtures.cosine(vector, item.embedding)
            #expect(cosine >= 0.9999, "cosine \(cosine) for \(item.text.debugDescription.prefix(80))")
        }
    }

    @Test func vectorsAreUnitLength() async throws {
        let vectors = try await MiniLMFixtures.embedder().embed(["one", "", "Zoë Martínez — 5 € — 東京"])
        for vector in vectors {
            let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func batchingGivesTheSameVectorsAsOneAtATime() async throws {
        // Small forward passes, so a few texts already need several of them.
        let embedder = try MiniLMEmbedder(
            modelDirectory: MiniLMEmbedder.defaultModelDirectory(environment: ProcessInfo.processInfo.environment),
            tokensPerPass: 300)
        // Lengths from 2 to 256 tokens, mixed.
        var texts = try MiniLMFixtures.reference().cases.map(\.text)
        texts += (0..<6).map { String(repeating: "token \($0) ", count: $0 * 11) }
        let batched = try await embedder.embed(texts)
        #expect(embedder.tokenizedBatches(texts).count > 2, "the texts should need several forward passes")
        for (text, vector) in zip(texts, batched) {
            let single = try await embedder.embed([text])[0]
            let cosine = MiniLMFixtures.cosine(vector, single)
            #expect(cosine >= 0.99999, "cosine \(cosine) for \(text.debugDescription.prefix(60))")
        }
    }

    @Test func concurrentCallsGiveTheSameVectors() async throws {
        let embedder = try MiniLMFixtures.embedder()
        let texts = try MiniLMFixtures.reference().cases.map(\.text).filter { $0.count < 100 }
        let expected = try await embedder.embed(texts)
        let results = try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<3 { group.addTask { try await embedder.embed(texts) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for vectors in results {
            for (vector, reference) in zip(vectors, expected) {
                #expect(MiniLMFixtures.cosine(vector, reference) >= 0.99999)
            }
        }
    }

    @Test func embedsAnEmptyBatch() async throws {
        #expect(try await MiniLMFixtures.embedder().embed([]).isEmpty)
    }

    @Test func placesSynonymsCloserThanUnrelatedText() async throws {
        let vectors = try await MiniLMFixtures.embedder().embed([
            "automobile",
            "I drove my car to the garage to get the brakes fixed.",
            "The recipe needs two cups of flour and a pinch of salt.",
        ])
        let related = MiniLMFixtures.cosine(vectors[0], vectors[1])
        let unrelated = MiniLMFixtures.cosine(vectors[0], vectors[2])
        #expect(related > unrelated + 0.1, "car \(related), flour \(unrelated)")
    }

    @Test func missingModelNamesTheInstallScript() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("minilm-missing-\(UUID().uuidString)").path
        let error = try #require(throws: MiniLMError.self) { try MiniLMEmbedder(modelDirectory: directory) }
        #expect(error.code == .modelNotInstalled)
        #expect(error.message.contains("./deploy/install-model.sh"))
        #expect(error.message.contains(directory))
    }

    @Test func findsTheModelWhereTheInstallScriptPutsIt() {
        #expect(
            MiniLMEmbedder.defaultModelDirectory(environment: ["UNITY_AI_MODELS_DIR": "/srv/models", "HOME": "/home/u"], isRoot: true)
                == "/srv/models/all-minilm-l6-v2")
        #expect(
            MiniLMEmbedder.defaultModelDirectory(environment: ["UNITY_AI_TOOLS_DIR": "/srv/tools"], isRoot: false)
                == "/srv/tools/models/all-minilm-l6-v2")
        #expect(
            MiniLMEmbedder.defaultModelDirectory(environment: ["HOME": "/home/u"], isRoot: true)
                == "/opt/unity-ai/models/all-minilm-l6-v2")
        #expect(
            MiniLMEmbedder.defaultModelDirectory(environment: ["HOME": "/home/u"], isRoot: false)
                == "/home/u/.local/share/unity-ai/models/all-minilm-l6-v2")
    }
}
