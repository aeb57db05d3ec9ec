import Foundation
import Ingest
import MiniLM
import Providers
import Retrieval
import Storage
import Testing

/// Questions that paraphrase the handbook ("What is the wireless internet called?" for "The network name is
/// LumenPublic"), and questions it does not answer, through the built-in answerer with `minilm`: it must answer
/// about as often as retrieval ranks the right document first, state the fact, and still refuse the rest.
@Suite struct ParaphraseAnswerTests {
    struct Fixture: Decodable {
        struct Item: Decodable {
            var question: String
            var source: String
            var fact: String
        }
        var answerable: [Item]
        var unanswerable: [String]
    }

    struct Tally: CustomStringConvertible {
        var retrievalFirst = 0
        var citedFirst = 0
        var statedFact = 0
        var refusedAnswerable = 0
        var refusedUnanswerable = 0
        var misses: [String] = []
        var description: String {
            "retrieval first \(retrievalFirst), answer cites it first \(citedFirst), states the fact \(statedFact), "
                + "refused answerable \(refusedAnswerable), refused unanswerable \(refusedUnanswerable)"
        }
    }

    @Test(arguments: ChunkSizing.allCases)
    func paraphrasesAreAnsweredAndUnansweredQuestionsRefused(sizing: ChunkSizing) async throws {
        let embedder: MiniLMEmbedder
        do {
            embedder = try MiniLMEmbedder(modelDirectory: MiniLMEmbedder.defaultModelDirectory())
        } catch {
            throw TestSetupError("\(error) (./deploy/test.sh installs the model)")
        }
        let fixture = try JSONDecoder().decode(
            Fixture.self, from: Data(contentsOf: TestDatabase.fixtures.appendingPathComponent("handbook-paraphrases.json")))
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            let logger = TestDatabase.logger
            let summary = try await Ingestor(
                configuration: try sizing.ingestConfiguration(), store: store, embedder: embedder, logger: logger)
                .ingest(paths: [TestDatabase.fixtures.appendingPathComponent("handbook").path], tenant: "library")
            #expect(summary.failed == 0)
            let retriever = HybridRetriever(
                search: ChunkSearch(client: client), embedder: embedder, models: EmbeddingModelRegistry(store: store),
                logger: logger)
            let tenantID = try #require(try await store.tenantID(named: "library", logger: logger))

            func tally(_ answerer: ExtractiveAnswerer) async throws -> Tally {
                let ask = AskService(store: store, retriever: retriever, answerer: answerer, logger: logger)
                var tally = Tally()
                for item in fixture.answerable {
                    let passages = try await retriever.retrieve(question: item.question, tenantID: tenantID, limit: 5)
                    let expected = "handbook/" + item.source
                    if passages.first?.source == expected { tally.retrievalFirst += 1 }
                    let answer = try await ask.ask(question: item.question, tenant: "library", topK: 5)
                    if answer.answer == ExtractiveAnswerer.notCoveredAnswer {
                        tally.refusedAnswerable += 1
                        tally.misses.append("refused: \(item.question)")
                        continue
                    }
                    if answer.citations.first?.source == expected { tally.citedFirst += 1 }
                    if answer.answer.contains(item.fact) {
                        tally.statedFact += 1
                    } else {
                        tally.misses.append("\(item.question) → \(answer.answer.prefix(160))")
                    }
                }
                for question in fixture.unanswerable {
                    let answer = try await ask.ask(question: question, tenant: "library", topK: 5)
                    if answer.answer == ExtractiveAnswerer.notCoveredAnswer {
                        tally.refusedUnanswerable += 1
                    } else {
                        tally.misses.append("answered \(question) → \(answer.answer.prefix(120))")
                    }
                }
                return tally
            }

            let termsOnly = try await tally(ExtractiveAnswerer())
            let semantic = try await tally(ExtractiveAnswerer(sentenceEmbedder: embedder))
            let count = fixture.answerable.count
            print("paraphrases (\(count)) and unanswerable (\(fixture.unanswerable.count)), \(sizing) chunks, terms only: \(termsOnly)")
            print("paraphrases (\(count)) and unanswerable (\(fixture.unanswerable.count)), \(sizing) chunks, with minilm: \(semantic); misses: \(semantic.misses)")
            // About as often as retrieval ranks the right document first, and stating the fact.
            #expect(semantic.citedFirst >= semantic.retrievalFirst - 2, "\(semantic)")
            // Measured 2026-11-30: the fact stated for 13 of 20 (terms only: 2), first citation right for 17 where
            // retrieval ranked it first for 17. Re-measured later that day, one run after the other: with rrf 0.5,
            // retrieval first 18, cited first 17, fact stated 12; with minilm's fusion chosen on SciFact's train split
            // (convex 0.4, the default since) retrieval first 16, cited first 17, fact stated 12. The sentence chosen
            // within the right passage is still sometimes a neighbour of the answer (issue 14 item 0 is not
            // finished); this guards what is reached.
            #expect(Double(semantic.statedFact) >= 0.6 * Double(semantic.retrievalFirst), "\(semantic): \(semantic.misses)")
            // The unanswerable stay refused (at least 7 of 8, as before).
            #expect(semantic.refusedUnanswerable >= fixture.unanswerable.count - 1, "\(semantic): \(semantic.misses)")
            #expect(semantic.statedFact > termsOnly.statedFact)
        }
    }
}
