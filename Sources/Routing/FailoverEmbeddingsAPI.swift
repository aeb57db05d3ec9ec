import Providers
import Synchronization

/// One provider's embeddings across its endpoints: calls rotate over them, and a retryable failure moves the
/// same call to the next endpoint. It never leaves the provider — an embedding falls back only to the same model
/// (and so the same vector space and dimension).
struct FailoverEmbeddingsAPI: EmbeddingsAPI {
    let apis: [any EmbeddingsAPI]
    private let cursor = Cursor()

    init(apis: [any EmbeddingsAPI]) {
        precondition(!apis.isEmpty)
        self.apis = apis
    }

    var name: String { apis[0].name }
    var embeddingBatchLimit: Int { apis.map(\.embeddingBatchLimit).min() ?? 1 }

    func embed(_ texts: [String], model: String) async throws -> [[Float]] {
        let start = cursor.next(modulo: apis.count)
        var lastError: (any Error)?
        for offset in 0..<apis.count {
            do {
                return try await apis[(start + offset) % apis.count].embed(texts, model: model)
            } catch let error as ProviderError where error.isRetryable {
                lastError = error
            }
        }
        throw lastError!
    }

    private final class Cursor: Sendable {
        private let value = Mutex(0)
        func next(modulo count: Int) -> Int {
            value.withLock { value in
                defer { value &+= 1 }
                return value % count
            }
        }
    }
}
