import Crypto
import Foundation
import Logging
import Providers
import Storage

extension EmbeddingBatcher {
    /// Vectors for `texts` (the exact texts embedded), their SHA-256 and how many were sent to the embedder: texts
    /// the tenant already holds a vector of with this model are copied (hash-keyed reuse), each other distinct text
    /// is embedded once. Ingest and reindex both embed through here.
    func embeddings(
        for texts: [String], reusingFrom store: KnowledgeStore, tenantID: Int64, modelID: Int, logger: Logger
    ) async throws -> (vectors: [[Float]], textHashes: [String], embedded: Int) {
        let hashes = texts.map { Ingestor.hex(SHA256.hash(data: Data($0.utf8))) }
        guard !texts.isEmpty else { return ([], [], 0) }
        let reused = try await store.reusableEmbeddings(
            tenantID: tenantID, modelID: modelID, textHashes: hashes, logger: logger)
        var missingTexts: [String] = []
        var missingKeys: [String] = []
        var seen: Set<String> = []
        for (text, hash) in zip(texts, hashes) where reused[hash] == nil && seen.insert(hash).inserted {
            missingTexts.append(text)
            missingKeys.append(hash)
        }
        let result = try await embed(missingTexts, keys: missingKeys)
        let fresh = Dictionary(zip(missingKeys, result.vectors), uniquingKeysWith: { first, _ in first })
        let dimensions = embedder.model.dimensions
        let vectors = try hashes.map { hash in
            guard let vector = reused[hash] ?? fresh[hash], vector.count == dimensions else {
                throw ProviderError.malformedResponse(
                    provider: embedder.model.name, reason: "no vector of \(dimensions) dimensions for a chunk")
            }
            return vector
        }
        return (vectors, hashes, result.embedded)
    }
}
