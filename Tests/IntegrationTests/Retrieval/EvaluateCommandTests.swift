import Foundation
import Storage
import Testing

/// `unity-ai evaluate` as an operator runs it: the real binary on a real database, on a BEIR dataset written with
/// Windows line endings.
@Suite struct EvaluateCommandTests {
    @Test func evaluatesACRLFDatasetPrintsJSONAndCleansUpItsTenant() async throws {
        let binary = TwoProcessRateLimitTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let crlf = "\r\n"
        try directory.write(
            [
                #"{"_id": "d1", "title": "Cats", "text": "Cats chase mice in the barn."}"#,
                #"{"_id": "d2", "title": "Dogs", "text": "Dogs chase cats around the garden."}"#,
                #"{"_id": "d3", "title": "Birds", "text": "Birds sing at dawn."}"#,
            ].joined(separator: crlf) + crlf, to: "tiny/corpus.jsonl")
        try directory.write(
            [#"{"_id": "q1", "text": "Who chases mice?"}"#, #"{"_id": "q2", "text": "Dogs in gardens"}"#]
                .joined(separator: crlf) + crlf, to: "tiny/queries.jsonl")
        for split in ["train", "test"] {
            try directory.write(
                ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q2\td2\t1"].joined(separator: crlf) + crlf,
                to: "tiny/qrels/\(split).tsv")
        }
        try await TestDatabase.withFreshDatabase { database, settings in
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = ModelLifecycleCommandTests.url(settings)
            environment["UNITY_AI_EMBEDDING_MODEL"] = "local"
            func run(_ arguments: [String]) async throws -> [String: Any] {
                let result = try await CommandResult.run(binary, ["evaluate", directory.path + "/tiny"] + arguments, environment: environment)
                #expect(result.status == 0, "\(result.output)")
                return try ModelLifecycleCommandTests.json(result.output)
            }

            let bm25 = try await run(["--mode", "bm25", "--json", "--tenant", "tiny-eval"])
            #expect(bm25["queries"] as? Int == 2 && bm25["mode"] as? String == "bm25" && bm25["split"] as? String == "test")
            // Both questions name words only their document holds.
            #expect(bm25["ndcg_at_10"] as? Double == 1 && bm25["mrr_at_10"] as? Double == 1)
            #expect(bm25["recall_at_100"] as? Double == 1 && bm25["chunks_stored"] as? Int == 3)
            let latency = try #require(bm25["latency_ms"] as? [String: Any])
            #expect((latency["p50"] as? Double).map { $0 > 0 } == true && (latency["p99"] as? Double) != nil)
            let parameters = try #require(bm25["bm25"] as? [String: Any])
            #expect(parameters["k1"] as? Double == 0.9 && parameters["b"] as? Double == 0.4)
            #expect(bm25["tenant_deleted"] as? Bool == false && bm25["sweep"] == nil && bm25["fusion"] == nil)

            // A sweep on train: every fusion scored, the best reported; then the tenant is deleted.
            let swept = try await run(["--split", "train", "--sweep", "--json", "--tenant", "tiny-eval", "--cleanup"])
            let variants = try #require(swept["sweep"] as? [[String: Any]])
            // 21 dense weights (0, 0.05, …, 1) for convex and for rrf at each of its 5 k (10, 20, 30, 60, 100).
            #expect(variants.count == 126)
            let constants = Set(variants.filter { $0["fusion_method"] as? String == "rrf" }.compactMap { $0["rank_constant"] as? Double })
            #expect(constants == [10, 20, 30, 60, 100])
            #expect(variants.allSatisfy { ($0["scores"] as? [String: Any])?["ndcg_at_10"] is Double })
            let best = try #require(swept["fusion"] as? [String: Any])
            let bestScore = try #require((best["scores"] as? [String: Any])?["ndcg_at_10"] as? Double)
            #expect(variants.allSatisfy { (($0["scores"] as? [String: Any])?["ndcg_at_10"] as? Double ?? 2) <= bestScore })
            #expect(swept["tenant_deleted"] as? Bool == true)
            let left = try await KnowledgeStore(client: database).tenantID(named: "tiny-eval", logger: TestDatabase.logger)
            #expect(left == nil)

            // Mistakes: a message and a non-zero exit.
            let wrong = try await CommandResult.run(binary, ["evaluate", directory.path + "/tiny", "--mode", "words"], environment: environment)
            #expect(wrong.status != 0 && wrong.output.contains("--mode must be"))
            let constant = try await CommandResult.run(
                binary, ["evaluate", directory.path + "/tiny", "--fusion", "rrf", "--rank-constant", "20000"], environment: environment)
            #expect(constant.status != 0 && constant.output.contains("--rank-constant must be between 0 and 10000"))
        }
    }
}
