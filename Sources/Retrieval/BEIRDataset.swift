import Foundation

/// A retrieval benchmark in BEIR's format: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`,
/// `text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`, with a header line).
public struct BEIRDataset: Sendable {
    public struct Document: Sendable {
        public var id: String
        public var title: String
        public var text: String
    }

    public var documents: [Document]
    /// Query text by id.
    public var queries: [String: String]
    /// Graded relevance: query id → document id → grade.
    public var judgements: [String: [String: Int]]

    /// The non-blank lines of `text`, whatever their endings: `\n`, `\r\n` (one `Character` in Swift, so splitting
    /// on `"\n"` alone would keep a CRLF file in one line) or `\r`.
    static func nonBlankLines(of text: String) -> [Substring] {
        text.split(whereSeparator: \.isNewline).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// Loads the corpus, the queries and the `split` judgements from `directory`.
    public static func load(directory: String, split: String) throws -> BEIRDataset {
        func lines(_ name: String) throws -> [Substring] {
            let path = directory + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw EvaluationError(message: "Cannot read \(path); a BEIR dataset has corpus.jsonl, queries.jsonl and qrels/<split>.tsv.")
            }
            return Self.nonBlankLines(of: text)
        }
        func object(_ line: Substring, in file: String) throws -> [String: Any] {
            guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw EvaluationError(message: "\(file) has a line that is not a JSON object.")
            }
            return value
        }
        var documents: [Document] = []
        for line in try lines("corpus.jsonl") {
            let value = try object(line, in: "corpus.jsonl")
            guard let id = value["_id"] as? String else { throw EvaluationError(message: "corpus.jsonl has a document without _id.") }
            documents.append(Document(id: id, title: value["title"] as? String ?? "", text: value["text"] as? String ?? ""))
        }
        var queries: [String: String] = [:]
        for line in try lines("queries.jsonl") {
            let value = try object(line, in: "queries.jsonl")
            if let id = value["_id"] as? String, let text = value["text"] as? String { queries[id] = text }
        }
        var judgements: [String: [String: Int]] = [:]
        for line in try lines("qrels/\(split).tsv").dropFirst() {
            let fields = line.split(separator: "\t")
            guard fields.count >= 3, let grade = Int(fields[2].trimmingCharacters(in: .whitespaces)) else { continue }
            judgements[String(fields[0]), default: [:]][String(fields[1])] = grade
        }
        guard !judgements.isEmpty else { throw EvaluationError(message: "qrels/\(split).tsv holds no judgements.") }
        return BEIRDataset(documents: documents, queries: queries, judgements: judgements)
    }
}

/// Why an evaluation could not run.
public struct EvaluationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Ranking metrics.
public enum RankingMetrics {
    /// nDCG@k with graded relevance (gain = grade, log2 discount), as BEIR's pytrec_eval computes it.
    public static func ndcg(ranked: [String], judgements: [String: Int], k: Int = 10) -> Double {
        func dcg(_ grades: [Int]) -> Double {
            grades.prefix(k).enumerated().reduce(0) { $0 + Double($1.element) / log2(Double($1.offset + 2)) }
        }
        let ideal = dcg(judgements.values.filter { $0 > 0 }.sorted(by: >))
        guard ideal > 0 else { return 0 }
        return dcg(ranked.map { judgements[$0] ?? 0 }) / ideal
    }

    /// The reciprocal of the rank of the first relevant document in the first `k`, 0 when there is none (MRR@k
    /// averages it over queries).
    public static func reciprocalRank(ranked: [String], judgements: [String: Int], k: Int = 10) -> Double {
        guard let position = ranked.prefix(k).firstIndex(where: { (judgements[$0] ?? 0) > 0 }) else { return 0 }
        return 1 / Double(position + 1)
    }

    /// The share of relevant documents found in the first `k`.
    public static func recall(ranked: [String], judgements: [String: Int], k: Int = 100) -> Double {
        let relevant = Set(judgements.filter { $0.value > 0 }.keys)
        guard !relevant.isEmpty else { return 0 }
        return Double(Set(ranked.prefix(k)).intersection(relevant).count) / Double(relevant.count)
    }
}
