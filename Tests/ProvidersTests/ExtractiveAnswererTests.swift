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

    /// The quickstart's question used to get the SEV1 response time plus who picks the severity and when
    /// postmortems are reviewed: sentences that share its words but answer another question.
    @Test func anAnswerSaysWhatWasAskedAndStops() {
        let incident = [
            GroundingDocument(
                number: 1, source: "incident-response.md", headingPath: ["Severity levels", "SEV1 - Critical"],
                text: "Response time for a SEV1: A SEV1 incident must be acknowledged by the on-call engineer within 5 minutes of the page."),
            GroundingDocument(
                number: 2, source: "incident-response.md", headingPath: ["Declaring an incident"],
                text: "The person declaring the incident picks an initial severity; the Incident Commander may change it at any time."),
            GroundingDocument(
                number: 3, source: "incident-response.md", headingPath: ["Postmortems"],
                text: "Postmortems are reviewed at the weekly Incident Review meeting, held every Thursday at 14:00 Eastern Time."),
        ]
        let answer = ExtractiveAnswerer().answer(question: "What is the response time for a SEV1 incident?", documents: incident)
        #expect(answer == "Response time for a SEV1: A SEV1 incident must be acknowledged by the on-call engineer within 5 minutes of the page. [1]")
        // A question about two things still gets both.
        let both = ExtractiveAnswerer().answer(
            question: "Who picks the incident severity and when are postmortems reviewed?", documents: incident)
        #expect(both.contains("[2]") && both.contains("[3]"), "\(both)")
    }

    @Test func requiresAUserMessage() async {
        await #expect(throws: ProviderError.self) {
            try await ExtractiveAnswerer().chat(ChatRequest(messages: [.init(role: .system, content: "x")]))
        }
    }
}
