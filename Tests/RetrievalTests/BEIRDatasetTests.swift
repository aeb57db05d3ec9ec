import Foundation
import Testing

@testable import Retrieval

/// BEIR files as they come: with Unix or Windows line endings.
@Suite struct BEIRDatasetTests {
    /// Writes a two-document dataset with `ending` between lines into a new directory.
    static func dataset(lineEnding ending: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("beir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/qrels", withIntermediateDirectories: true)
        let files = [
            "corpus.jsonl": [
                #"{"_id": "d1", "title": "Cats", "text": "Cats chase mice."}"#,
                #"{"_id": "d2", "title": "Dogs", "text": "Dogs chase cats."}"#,
            ],
            "queries.jsonl": [#"{"_id": "q1", "text": "Who chases mice?"}"#, #"{"_id": "q2", "text": "Dogs?"}"#],
            "qrels/test.tsv": ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q2\td2\t2", "q2\td1\t0"],
        ]
        for (name, lines) in files {
            try Data((lines.joined(separator: ending) + ending).utf8).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        return directory
    }

    @Test(arguments: ["\n", "\r\n"]) func readsJudgementsWhateverTheLineEndings(ending: String) throws {
        let directory = try Self.dataset(lineEnding: ending)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try BEIRDataset.load(directory: directory, split: "test")
        #expect(data.judgements == ["q1": ["d1": 1], "q2": ["d2": 2, "d1": 0]])
        #expect(data.documents.map(\.id) == ["d1", "d2"])
        #expect(data.queries == ["q1": "Who chases mice?", "q2": "Dogs?"])
    }

    @Test func reciprocalRankIsThatOfTheFirstRelevantDocumentInTheTopK() {
        let judgements = ["a": 0, "b": 1, "c": 2]
        #expect(RankingMetrics.reciprocalRank(ranked: ["x", "a", "b", "c"], judgements: judgements, k: 10) == 1.0 / 3)
        #expect(RankingMetrics.reciprocalRank(ranked: ["x", "a", "b"], judgements: judgements, k: 2) == 0)
        #expect(RankingMetrics.reciprocalRank(ranked: [], judgements: judgements) == 0)
    }

    @Test func latencyPercentilesAreNearestRank() {
        let latency = RetrievalEvaluation.Latency(milliseconds: (1...200).map(Double.init).reversed())
        #expect(latency.p50 == 100 && latency.p99 == 198)
        #expect(RetrievalEvaluation.Latency(milliseconds: []) == .init(milliseconds: [0]))
    }
}
