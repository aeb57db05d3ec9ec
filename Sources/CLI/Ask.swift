import ArgumentParser
import Logging
import Foundation
import Prometheus
import Retrieval
import Routing
import Retrieval
import Routing
import Server

/// `unity-ai ask QUESTION`: a grounded answer with citations.
struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer a question from the knowledge base, with citations.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "The question.")
    var question: String

    @Option(help: "The tenant whose knowledge answers.")
    var tenant = "default"

    @Option(help: "Passages to retrieve.")
    var topK = 5

    @Flag(help: "Print the answer as JSON, as POST /api/rag/ask returns it.")
    var json = false

    func validate() throws {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("The question is empty.")
        }
        guard TenantName.isValid(tenant) else {
            throw ValidationError("'\(tenant)' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'.")
        }
        guard (1...50).contains(topK) else { throw ValidationError("--top-k must be between 1 and 50.") }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai.ask", defaultLevel: .notice)
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        let question = self.question
        let tenant = self.tenant
        let topK = self.topK
        let answerModel = options.resolvedAnswerModel
        let answer = try await runtime.withDatabase { runtime in
            // Through the router, as the server answers: the tenant's limits, budget, cache and usage apply.
            let router = runtime.makeRouter(metrics: PrometheusCollectorRegistry())
            let result: Result<GroundedAnswer, any Error>
            do {
                result = .success(
                    try await runtime.askService(router: router, answerModel: answerModel).ask(question: question, tenant: tenant, topK: topK))
            } catch {
                result = .failure(error)
            }
            try? await router.usage.flush()
            return try result.get()
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            print(String(decoding: try encoder.encode(answer), as: UTF8.self))
            return
        }
        print(answer.answer)
        if !answer.citations.isEmpty {
            print("\nSources:")
            for citation in answer.citations {
                let heading = citation.heading.isEmpty ? "" : " — \(citation.heading)"
                print("  [\(citation.n)] \(citation.source)\(heading)")
            }
        }
    }
}
