import MiniLM
import Providers
import Synchronization

extension ProviderRegistry {
    /// Where an embeddings request goes.
    public enum EmbeddingTarget: Sendable {
        /// An embedder in this process (`local`, `minilm`, `auto`): its vector length is fixed and known.
        case builtin(any EmbeddingProvider)
        /// One provider's embedding model, called through the provider's endpoints.
        case remote(Entry, model: String)
    }

    /// Vector lengths learnt from answers are kept for this many models at most (names come from requests).
    static let maximumLearnedDimensions = 1024

    /// The target of an embeddings request's `model`: `local`, `minilm` or `auto` (built in); `provider/model`; or a
    /// bare model name, found in the catalogue, then among the well-known models (``KnownEmbeddingModel``: OpenAI's
    /// `text-embedding-3-small` goes to the first enabled OpenAI-type provider), then in the providers' model lists.
    /// No dimensions need to be configured: a pass-through call returns what the upstream gives.
    public func embeddingTarget(named name: String) async throws -> EmbeddingTarget {
        if name == "auto" || name == "local" || name == "local-hash-512" || name == MiniLMEmbedder.modelName {
            return .builtin(try embedder(named: name))
        }
        if let slash = name.firstIndex(of: "/"), let entry = entry(named: String(name[..<slash])) {
            let model = String(name[name.index(after: slash)...])
            guard entry.isEnabled else { throw ProviderError.disabled(provider: entry.name) }
            guard entry.capabilities.embeddings, entry.endpoints.contains(where: { $0.embeddings != nil }) else {
                throw ProviderError.unsupported(provider: entry.name, what: "embeddings")
            }
            guard !model.isEmpty else { throw RoutingError.modelRequired(provider: entry.name) }
            return .remote(entry, model: model)
        }
        let embedding = entries.filter { entry in
            entry.isEnabled && entry.capabilities.embeddings && entry.endpoints.contains { $0.embeddings != nil }
        }
        let listed = catalogue.filter { $0.model == name }.sorted {
            ($0.embeddingDimensions != nil) && ($1.embeddingDimensions == nil)
        }
        for row in listed {
            if let entry = embedding.first(where: { $0.name == row.provider }) { return .remote(entry, model: name) }
        }
        if let known = KnownEmbeddingModel.named(name),
            let entry = embedding.first(where: { known.kinds.contains($0.kind) })
        {
            return .remote(entry, model: name)
        }
        let lists = await models(of: embedding)
        for entry in embedding where lists[entry.name]?.contains(name) == true {
            return .remote(entry, model: name)
        }
        throw RoutingError(
            code: .unknownModel,
            message:
                "No configured provider offers the embedding model '\(name.prefix(200))'. Name it as provider/model "
                + "(e.g. openai/text-embedding-3-small), use `local`, or add it to the model catalogue.")
    }

    /// The vector length of `provider`'s `model` when it is known: from the catalogue (`embedding_dimensions`), from
    /// an earlier answer, or from ``KnownEmbeddingModel``.
    public func nativeDimensions(provider: String, model: String) -> Int? {
        if let configured = catalogue.first(where: { $0.provider == provider && $0.model == model })?
            .embeddingDimensions
        {
            return configured
        }
        if let learned = learnedDimensions.withLock({ $0["\(provider)/\(model)"] }) { return learned }
        return KnownEmbeddingModel.named(model)?.dimensions
    }

    /// Remembers the vector length `provider`'s `model` answered with (a request that did not ask for another).
    func learn(dimensions: Int, provider: String, model: String) {
        guard dimensions > 0 else { return }
        learnedDimensions.withLock { learned in
            let key = "\(provider)/\(model)"
            guard learned[key] == nil, learned.count < Self.maximumLearnedDimensions else { return }
            learned[key] = dimensions
        }
    }
}
