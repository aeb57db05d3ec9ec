import Providers
import Synchronization
import Testing

@testable import Routing

/// Embeddings fall back across one provider's endpoints only: the same model, the same vector space.
@Suite struct FailoverEmbeddingsAPITests {
    final class ScriptedEmbeddings: EmbeddingsAPI, Sendable {
        let name = "ollama"
        let embeddingBatchLimit: Int
        let failure: ProviderError?
        let models = Mutex<[String]>([])

        init(batchLimit: Int = 64, failure: ProviderError? = nil) {
            embeddingBatchLimit = batchLimit
            self.failure = failure
        }

        func embed(_ texts: [String], model: String) async throws -> [[Float]] {
            models.withLock { $0.append(model) }
            if let failure { throw failure }
            return texts.map { _ in [1, 0, 0] }
        }
    }

    @Test func aRetryableFailureMovesTheSameCallToTheNextEndpoint() async throws {
        let down = ScriptedEmbeddings(failure: ProviderError(code: .connectionFailed, message: "down", provider: "ollama"))
        let up = ScriptedEmbeddings(batchLimit: 16)
        let api = FailoverEmbeddingsAPI(apis: [down, up])
        #expect(api.embeddingBatchLimit == 16)
        for _ in 0..<4 { #expect(try await api.embed(["a", "b"], model: "nomic-embed-text").count == 2) }
        // Calls rotate over the endpoints; every one that reached `down` was retried on `up` with the same model.
        #expect(down.models.withLock { $0 } == ["nomic-embed-text", "nomic-embed-text"])
        #expect(up.models.withLock { $0 }.count == 4 && up.models.withLock { $0 }.allSatisfy { $0 == "nomic-embed-text" })
    }

    @Test func aNonRetryableFailureIsReturned() async throws {
        let refusing = ScriptedEmbeddings(failure: ProviderError(code: .modelNotFound, message: "no model", provider: "ollama"))
        let other = ScriptedEmbeddings()
        let api = FailoverEmbeddingsAPI(apis: [refusing, other])
        let error = await #expect(throws: ProviderError.self) { try await api.embed(["a"], model: "missing") }
        #expect(error?.code == .modelNotFound)
        #expect(other.models.withLock { $0 }.isEmpty)
    }
}
