import ArgumentParser
import Foundation
import Ingest
import Logging
import Providers
import Retrieval
import Storage

/// `unity-ai evaluate DATASET`: retrieval quality on a BEIR dataset (nDCG@10, recall@100), through the real
/// ingest and retrieval path.
struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure retrieval quality on a BEIR dataset (e.g. SciFact): nDCG@10 and recall@100.",
        discussion: """
            Ingests the corpus into its own tenant (re-runs reuse it: unchanged documents cost nothing), then runs \
            every query of the split through the retriever and scores the ranked documents against the judgements. \
            Tune on the train split, report on test.
            """)

    @OptionGroup var options: CommonOptions

    @Argument(help: "The dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
    var dataset: String

    @Option(help: "The judgements to score against: train or test.")
    var split = "test"

    @Option(help: "Rankings to use: hybrid, dense or lexical.")
    var mode = "hybrid"

    @Option(help: "Weight of the dense ranking in hybrid fusion (0-1).")
    var denseWeight = 0.5

    @Option(help: "The tenant that holds the corpus (default: eval-<dataset name>-<embedding model>).")
    var tenant: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard HybridRetriever.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be hybrid, dense or lexical.")
        }
        guard (0...1).contains(denseWeight) else { throw ValidationError("--dense-weight must be between 0 and 1.") }
    }

    struct Result: Encodable {
        var dataset: String
        var split: String
        var mode: String
        var embeddingModel: String
        var queries: Int
        var ndcgAt10: Double
        var recallAt100: Double
        var ingestSeconds: Double
        var querySeconds: Double

        enum CodingKeys: String, CodingKey {
            case dataset, split, mode, queries
            case embeddingModel = "embedding_model", ndcgAt10 = "ndcg_at_10", recallAt100 = "recall_at_100"
            case ingestSeconds = "ingest_seconds", querySeconds = "query_seconds"
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.evaluate", defaultLevel: .notice)
        let data = try BEIRDataset.load(directory: dataset, split: split)
        let name = URL(fileURLWithPath: dataset).standardizedFileURL.lastPathComponent
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let tenant =
            self.tenant
            ?? "eval-\(name)-\(runtime.embedder.model.name)".replacingOccurrences(of: "/", with: "-")
            .filter { $0.isLetter || $0.isNumber || "._-".contains($0) }
        var configuration = HybridRetriever.Configuration()
        configuration.mode = HybridRetriever.Mode(rawValue: mode)!
        configuration.denseWeight = denseWeight
        configuration.candidateCount = 100
        let retrieverConfiguration = configuration
        let split = self.split
        let mode = self.mode
        let showProgress = !json && isatty(STDERR_FILENO) == 1

        let result = try await runtime.withDatabase { runtime in
            let store = KnowledgeStore(client: runtime.client)
            let documents = data.documents.map { document in
                Ingestor.SourceDocument(
                    uri: "beir://\(name)/\(document.id)", displayPath: document.id, format: .markdown,
                    content: Data("# \(document.title)\n\n\(document.text)\n".utf8))
            }
            let summary = try await runtime.makeIngestor()
                .ingest(documents: documents, sourcePrefix: "beir://\(name)/", tenant: tenant) { progress in
                    guard showProgress, progress.filesDone % 50 == 0 || progress.filesDone == progress.filesTotal else { return }
                    FileHandle.standardError.write(Data("\r\u{1B}[Kingest \(progress.filesDone)/\(progress.filesTotal)".utf8))
                }
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            guard summary.failed == 0 else {
                throw EvaluationError(message: "\(summary.failed) corpus documents failed to ingest: \(summary.failures.prefix(3))")
            }
            guard let tenantID = try await store.tenantID(named: tenant, logger: logger) else {
                throw StorageError.tenantNotFound(tenant)
            }
            let retriever = HybridRetriever(
                configuration: retrieverConfiguration, search: ChunkSearch(client: runtime.client),
                embedder: runtime.embedder, models: EmbeddingModelRegistry(store: store),
                embedderNamed: runtime.embedderNamed, logger: logger)
            let clock = ContinuousClock()
            let start = clock.now
            var ndcg = 0.0
            var recall = 0.0
            let queryIDs = data.judgements.keys.sorted()
            for queryID in queryIDs {
                guard let text = data.queries[queryID] else {
                    throw EvaluationError(message: "Query \(queryID) of the judgements is not in queries.jsonl.")
                }
                let passages = try await retriever.retrieve(question: text, tenantID: tenantID, limit: 100)
                var seen: Set<String> = []
                let ranked = passages.map(\.source).filter { seen.insert($0).inserted }
                ndcg += RankingMetrics.ndcg(ranked: ranked, judgements: data.judgements[queryID]!, k: 10)
                recall += RankingMetrics.recall(ranked: ranked, judgements: data.judgements[queryID]!, k: 100)
            }
            let elapsed = (clock.now - start).components
            return Result(
                dataset: name, split: split, mode: mode, embeddingModel: runtime.embedder.model.name,
                queries: queryIDs.count, ndcgAt10: ndcg / Double(queryIDs.count), recallAt100: recall / Double(queryIDs.count),
                ingestSeconds: summary.seconds,
                querySeconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%@ (%@, %ld queries), %@ retrieval with %@: nDCG@10 %.3f, recall@100 %.3f "
                        + "(ingest %.1f s, queries %.1f s)",
                    result.dataset, result.split, result.queries, result.mode, result.embeddingModel, result.ndcgAt10,
                    result.recallAt100, result.ingestSeconds, result.querySeconds))
        }
    }
}
