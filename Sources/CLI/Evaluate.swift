import ArgumentParser
import Foundation
import Ingest
import Logging
import Providers
import Retrieval
import Routing
import Storage

/// `unity-ai evaluate DATASET`: retrieval quality on a BEIR dataset (nDCG@10, MRR@10, recall@100) and query latency,
/// through the real ingest and retrieval path; `--sweep` scores fusions or BM25 heading weights to tune on train.
struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure retrieval quality on a BEIR dataset (e.g. SciFact): nDCG@10, MRR@10, recall@100, latency.",
        discussion: """
            Ingests the corpus into its own tenant (re-runs reuse it: unchanged documents cost nothing), then runs \
            every query of the split through the retriever and scores the ranked documents against the judgements. \
            Tune on the train split (--sweep: in hybrid mode both fusion methods at dense weights 0-1 and rrf at \
            several k, in bm25 mode the heading weight), report on test. --cleanup deletes the tenant afterwards.
            """)

    @OptionGroup var options: CommonOptions

    @Argument(help: "The dataset directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
    var dataset: String

    @Option(help: "The judgements to score against: train or test.")
    var split = "test"

    @Option(help: "Rankings to use: hybrid, dense, bm25 or ts_rank (the full-text baseline).")
    var mode = "hybrid"

    @Option(help: "Fusion method in hybrid mode: rrf or convex (default: the embedding model's tuned default).")
    var fusion: String?

    @Option(help: "Weight of the dense ranking in hybrid fusion, 0-1 (default: the embedding model's tuned default).")
    var denseWeight: Double?

    @Option(help: "Reciprocal-rank fusion's k, 0-10000 (default: the embedding model's tuned default).")
    var rankConstant: Double?

    @Option(help: "BM25 k1 (default: the configuration's, else 0.9).")
    var k1: Double?

    @Option(help: "BM25 b (default: the configuration's, else 0.4).")
    var b: Double?

    @Option(help: "BM25 weight of title and heading words (default: the configuration's, else the tuned one).")
    var headingWeight: Double?

    @Flag(help: "Score a grid instead of one setting: fusions in hybrid mode, heading weights in bm25 mode.")
    var sweep = false

    @Option(help: "The tenant that holds the corpus (default: eval-<dataset name>-<embedding model>).")
    var tenant: String?

    @Flag(help: "Delete the tenant (and everything ingested into it) when the evaluation ends.")
    var cleanup = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard let chosenMode = HybridRetriever.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be hybrid, dense, bm25 or ts_rank.")
        }
        if let fusion, Fusion.Method(rawValue: fusion) == nil { throw ValidationError("--fusion must be rrf or convex.") }
        if let denseWeight, !(denseWeight.isFinite && (0...1).contains(denseWeight)) {
            throw ValidationError("--dense-weight must be between 0 and 1.")
        }
        if let rankConstant, !(rankConstant.isFinite && (0...10_000).contains(rankConstant)) {
            throw ValidationError("--rank-constant must be between 0 and 10000.")
        }
        var parameters = LexicalIndex.Parameters()
        if let k1 { parameters.k1 = k1 }
        if let b { parameters.b = b }
        if let headingWeight { parameters.headingWeight = headingWeight }
        if let problem = parameters.problem { throw ValidationError("BM25: \(problem).") }
        if sweep && !(chosenMode == .hybrid || chosenMode == .bm25) {
            throw ValidationError("--sweep needs --mode hybrid (fusions) or --mode bm25 (heading weights).")
        }
        if let tenant, !TenantName.isValid(tenant) {
            throw ValidationError("--tenant: use 1-63 letters, digits, '.', '_' or '-'.")
        }
    }

    /// What `--json` prints.
    struct Report: Encodable {
        struct BM25: Encodable {
            var k1: Double
            var b: Double
            var headingWeight: Double
            enum CodingKeys: String, CodingKey { case k1, b, headingWeight = "heading_weight" }
        }
        var dataset: String
        var split: String
        var mode: String
        var embeddingModel: String
        var queries: Int
        var ndcgAt10: Double
        var mrrAt10: Double
        var recallAt100: Double
        var latencyMilliseconds: RetrievalEvaluation.Latency
        /// The fusion scored (hybrid), or the best of the sweep.
        var fusion: RetrievalEvaluation.Variant?
        var bm25: BM25?
        var ingestSeconds: Double
        /// Chunks the tenant holds (BM25's N).
        var chunksStored: Int
        var querySeconds: Double
        var tenant: String
        var tenantDeleted: Bool
        /// Every variant of a sweep, in order.
        var sweep: [RetrievalEvaluation.Variant]?

        enum CodingKeys: String, CodingKey {
            case dataset, split, mode, queries, fusion, bm25, tenant, sweep
            case embeddingModel = "embedding_model", ndcgAt10 = "ndcg_at_10", mrrAt10 = "mrr_at_10"
            case recallAt100 = "recall_at_100", latencyMilliseconds = "latency_ms", ingestSeconds = "ingest_seconds"
            case chunksStored = "chunks_stored", querySeconds = "query_seconds", tenantDeleted = "tenant_deleted"
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.evaluate", defaultLevel: .notice)
        let data = try BEIRDataset.load(directory: dataset, split: split)
        let name = URL(fileURLWithPath: dataset).standardizedFileURL.lastPathComponent
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let tenant =
            self.tenant
            ?? String(
                "eval-\(name)-\(runtime.embedder.model.name)".replacingOccurrences(of: "/", with: "-")
                    .filter { $0.isLetter || $0.isNumber || "._-".contains($0) }.prefix(63))
        let mode = HybridRetriever.Mode(rawValue: self.mode) ?? .hybrid
        var configuration = runtime.retrieverConfiguration()
        configuration.mode = mode
        configuration.candidateCount = 100
        if let k1 { configuration.bm25.k1 = k1 }
        if let b { configuration.bm25.b = b }
        if let headingWeight { configuration.bm25.headingWeight = headingWeight }
        if fusion != nil || denseWeight != nil || rankConstant != nil {
            var chosen = configuration.fusion ?? Fusion.defaults(forEmbeddingModel: runtime.embedder.model.name)
            if let method = fusion.flatMap(Fusion.Method.init(rawValue:)) { chosen.method = method }
            if let denseWeight { chosen.denseWeight = denseWeight }
            if let rankConstant { chosen.rankConstant = rankConstant }
            configuration.fusion = chosen
        }
        let retrieverConfiguration = configuration
        let (split, sweep, cleanup) = (self.split, self.sweep, self.cleanup)
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let progress: @Sendable (String, Int, Int) -> Void = { what, done, total in
            guard showProgress, done % 50 == 0 || done == total else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K\(what) \(done)/\(total)".utf8))
        }

        let report = try await runtime.withDatabase { runtime in
            let store = KnowledgeStore(client: runtime.client)
            let documents = data.documents.map { document in
                Ingestor.SourceDocument(
                    uri: "beir://\(name)/\(document.id)", displayPath: document.id, format: .markdown,
                    content: Data("# \(document.title)\n\n\(document.text)\n".utf8))
            }
            let summary = try await runtime.makeIngestor()
                .ingest(documents: documents, sourcePrefix: "beir://\(name)/", tenant: tenant) {
                    progress("ingest", $0.filesDone, $0.filesTotal)
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
            let indexed = try await ChunkSearch(client: runtime.client).lexicalStatistics(tenantID: tenantID, logger: logger)
            let start = ContinuousClock.now
            let evaluation = RetrievalEvaluation(dataset: data, retriever: retriever, tenantID: tenantID)
            let (variants, latency) = try await evaluation.run(
                fusions: sweep && mode == .hybrid ? RetrievalEvaluation.sweptFusions : [],
                headingWeights: sweep && mode == .bm25 ? RetrievalEvaluation.sweptHeadingWeights : []
            ) { progress("queries", $0, $1) }
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let querySeconds = (ContinuousClock.now - start).seconds
            guard let chosen = RetrievalEvaluation.best(of: variants) else {
                throw EvaluationError(message: "The evaluation scored nothing.")
            }
            var deleted = false
            if cleanup { deleted = try await TenantStore(client: runtime.client, logger: logger).delete(tenant) }
            let parameters = retrieverConfiguration.bm25
            return Report(
                dataset: name, split: split, mode: mode.rawValue, embeddingModel: runtime.embedder.model.name,
                queries: data.judgements.count, ndcgAt10: chosen.scores.ndcgAt10, mrrAt10: chosen.scores.mrrAt10,
                recallAt100: chosen.scores.recallAt100, latencyMilliseconds: latency,
                fusion: mode == .hybrid ? chosen : nil,
                bm25: mode == .dense
                    ? nil
                    : .init(k1: parameters.k1, b: parameters.b, headingWeight: chosen.headingWeight ?? parameters.headingWeight),
                ingestSeconds: summary.seconds, chunksStored: indexed.chunkCount, querySeconds: querySeconds,
                tenant: tenant, tenantDeleted: deleted, sweep: sweep ? variants : nil)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        if let variants = report.sweep {
            for variant in variants { print(Self.describe(variant)) }
            print("best on \(report.split): ", terminator: "")
        }
        print(
            String(
                format: "%@ (%@, %ld queries), %@ retrieval with %@%@: nDCG@10 %.3f, MRR@10 %.3f, recall@100 %.3f, "
                    + "latency p50 %.1f ms, p99 %.1f ms (ingest %.1f s, queries %.1f s)%@",
                report.dataset, report.split, report.queries, report.mode, report.embeddingModel,
                report.fusion.map { " (\(Self.describe(setting: $0)))" } ?? "", report.ndcgAt10, report.mrrAt10,
                report.recallAt100, report.latencyMilliseconds.p50, report.latencyMilliseconds.p99,
                report.ingestSeconds, report.querySeconds, report.tenantDeleted ? "; tenant deleted" : ""))
    }

    /// A sweep line: the setting and its scores.
    static func describe(_ variant: RetrievalEvaluation.Variant) -> String {
        String(
            format: "%@: nDCG@10 %.4f, MRR@10 %.4f, recall@100 %.4f", describe(setting: variant),
            variant.scores.ndcgAt10, variant.scores.mrrAt10, variant.scores.recallAt100)
    }

    /// A variant's setting: fusion method and weight, heading weight.
    static func describe(setting variant: RetrievalEvaluation.Variant) -> String {
        var parts: [String] = []
        if let method = variant.fusionMethod {
            let constant = variant.rankConstant.map { " k \($0)" } ?? ""
            parts.append("\(method)\(constant) dense weight \(variant.denseWeight ?? 0)")
        }
        if let weight = variant.headingWeight { parts.append("heading weight \(weight)") }
        return parts.joined(separator: ", ")
    }
}
