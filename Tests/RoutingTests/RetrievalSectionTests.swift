import Testing

@testable import Routing

/// The `retrieval:` section: the text search configuration, BM25's parameters and the fusion.
@Suite struct RetrievalSectionTests {
    @Test func parsesEveryKey() throws {
        let yaml = """
            retrieval:
              text_search_config: pg_catalog.simple
              bm25: {k1: 1.2, b: 0.75, heading_weight: 0}
              fusion: {method: rrf, dense_weight: 0.3, rank_constant: 20}
            """
        let retrieval = try RoutingConfiguration.parse(yaml: yaml, environment: [:]).retrieval
        #expect(retrieval.textSearchConfiguration == "pg_catalog.simple")
        #expect(retrieval.bm25K1 == 1.2 && retrieval.bm25B == 0.75 && retrieval.bm25HeadingWeight == 0)
        #expect(retrieval.fusionMethod == "rrf" && retrieval.fusionDenseWeight == 0.3 && retrieval.fusionRankConstant == 20)
        #expect(try RoutingConfiguration.parse(yaml: "routing: {}\n", environment: [:]).retrieval == .init())
    }

    @Test(arguments: [
        ("retrieval:\n  text_search_config: \"english; DROP TABLE chunks\"\n", "retrieval.text_search_config", 2),
        ("retrieval:\n  bm25:\n    b: 1.5\n", "retrieval.bm25.b", 3),
        ("retrieval:\n  bm25:\n    k1: -1\n", "retrieval.bm25.k1", 3),
        ("retrieval:\n  fusion:\n    method: borda\n", "retrieval.fusion.method", 3),
        ("retrieval:\n  fusion:\n    dense_weight: 2\n", "retrieval.fusion.dense_weight", 3),
        ("retrieval:\n  bm25_k1: 1\n", "retrieval.bm25_k1", 2),
    ])
    func mistakesNameTheKeyAndLine(yaml: String, keyPath: String, line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.keyPath == keyPath)
        #expect(error?.line == line)
    }

    @Test(arguments: ["english", "simple", "pg_catalog.german", "unity_english2"])
    func acceptsConfigurationNames(name: String) {
        #expect(RoutingConfiguration.isTextSearchConfigurationName(name))
    }

    @Test(arguments: ["", "English", "a.b.c", "english;", "1english", ".english", String(repeating: "a", count: 200)])
    func refusesWhatCannotNameAConfiguration(name: String) {
        #expect(!RoutingConfiguration.isTextSearchConfigurationName(name))
    }
}
