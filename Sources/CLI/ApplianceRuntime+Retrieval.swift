import Ingest
import Providers
import Retrieval
import Routing
import Storage

extension ApplianceRuntime {
    /// The retriever's settings from the configuration's `retrieval:` section: BM25's parameters, and the fusion
    /// (the embedder's tuned default, with any key the file gives in its place).
    func retrieverConfiguration() -> HybridRetriever.Configuration {
        let settings = routing.retrieval
        var configuration = HybridRetriever.Configuration()
        if let k1 = settings.bm25K1 { configuration.bm25.k1 = k1 }
        if let b = settings.bm25B { configuration.bm25.b = b }
        if let weight = settings.bm25HeadingWeight { configuration.bm25.headingWeight = weight }
        if settings.fusionMethod != nil || settings.fusionDenseWeight != nil || settings.fusionRankConstant != nil {
            var fusion = Fusion.defaults(forEmbeddingModel: embedder.model.name)
            if let method = settings.fusionMethod.flatMap(Fusion.Method.init(rawValue:)) { fusion.method = method }
            if let weight = settings.fusionDenseWeight { fusion.denseWeight = weight }
            if let constant = settings.fusionRankConstant { fusion.rankConstant = constant }
            configuration.fusion = fusion
        }
        return configuration
    }

    /// `configuration` with the configured text search configuration for the lexical indexes.
    func applyingRetrievalSettings(to configuration: Ingestor.Configuration) -> Ingestor.Configuration {
        var configuration = configuration
        if let name = routing.retrieval.textSearchConfiguration { configuration.chunker.textSearchConfiguration = name }
        return configuration
    }
}
