import Testing

@testable import Providers

@Suite struct ExtractiveAnswererTests {
    let documents = [
        GroundingDocument(
            number: 1, source: "ops/backups.md", headingPath: ["Backups"],
            text: "Backups run every night at 02:00 UTC. Each backup is kept for 35 days before it is deleted."),
        GroundingDocument(
            number: 2, source: "ops/oncall.md", headingPath: ["On-call"],
            text: "The on-call engineer must acknowledge a page within 5 minutes. Escalation goes to the team lead."),
    ]

    @Test func quotesTheBestSentenceWithItsCitation() async throws {
        let response = try await ExtractiveAnswerer().chat(
            ChatRequest(messages: [.init(role: .user, content: "How long is a backup kept?")], documents: documents))
        #expect(response.text.hasPrefix("Each backup is kept for 35 days before it is deleted. [1]"))
        #expect(response.provider == "local")
        #expect(response.finishReason == .stop)
    }

    @Test func citesTheDocumentThatAnswersEvenWhenRankedLower() {
        let answer = ExtractiveAnswerer().answer(question: "Within how many minutes must a page be acknowledged?", documents: documents)
        #expect(answer.hasPrefix("The on-call engineer must acknowledge a page within 5 minutes. [2]"))
    }

    @Test func saysTheKnowledgeBaseDoesNotCoverUnrelatedQuestions() {
        let answer = ExtractiveAnswerer().answer(question: "What is the capital of France?", documents: documents)
        #expect(answer == ExtractiveAnswerer.notCoveredAnswer)
        #expect(ExtractiveAnswerer().answer(question: "backup", documents: []) == ExtractiveAnswerer.notCoveredAnswer)
    }

    @Test func requiresAUserMessage() async {
        await #expect(throws: ProviderError.self) {
            try await ExtractiveAnswerer().chat(ChatRequest(messages: [.init(role: .system, content: "x")]))
        }
    }
}
