import Foundation
import Hummingbird
import Retrieval
import Routing

/// `POST /api/rag/ask`: a grounded answer with citations.
struct AskController<Context: RequestContext>: Sendable {
    let ask: AskService
    let limits: ServerConfiguration.Limits

    struct AskRequest: Decodable {
        var question: String
        var tenant: String?
        var topK: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case question, tenant, topK = "top_k"
        }
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/rag/ask") { request, _ in try await handle(request) }
    }

    func handle(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(AskRequest.self, from: request, limits: limits)
        let question = body.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw APIError.invalidRequest("The field 'question' must not be empty.") }
        // Counted in Unicode scalars: "a" with 150,000 combining marks is one grapheme but 150,001 scalars.
        let length = question.unicodeScalars.count
        guard length <= limits.maximumQuestionCharacters else {
            throw APIError.invalidRequest(
                "The question is \(length) characters long; the limit is \(limits.maximumQuestionCharacters).")
        }
        guard !question.unicodeScalars.contains("\u{0}") else {
            throw APIError.invalidRequest("The field 'question' must not contain NUL (U+0000) characters.")
        }
        let tenant = try RequestTenant.resolve(bodyTenant: body.tenant, headers: request.headers)
        let topK = body.topK ?? limits.defaultTopK
        guard (1...limits.maximumTopK).contains(topK) else {
            throw APIError.invalidRequest("The field 'top_k' must be between 1 and \(limits.maximumTopK).")
        }
        let answer = try await ask.ask(question: question, tenant: tenant, topK: topK)
        return try JSONBody.response(answer)
    }
}

