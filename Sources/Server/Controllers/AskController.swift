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

        enum CodingKeys: String, CodingKey {
            case question, tenant, topK = "top_k"
        }
    }

    func addRoutes(to router: Router<Context>) {
        router.post("/api/rag/ask") { request, _ in try await handle(request) }
    }

    func handle(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(AskRequest.self, from: request, limit: limits.maximumBodyBytes)
        let question = body.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw APIError.invalidRequest("The field 'question' must not be empty.") }
        guard question.count <= limits.maximumQuestionCharacters else {
            throw APIError.invalidRequest(
                "The question is \(question.count) characters long; the limit is \(limits.maximumQuestionCharacters).")
        }
        let tenant = body.tenant ?? "default"
        guard TenantName.isValid(tenant) else {
            throw APIError.invalidRequest(
                "The tenant '\(tenant.prefix(80))' is not a valid name: use 1-63 letters, digits, '.', '_' or '-'.")
        }
        let topK = body.topK ?? limits.defaultTopK
        guard (1...limits.maximumTopK).contains(topK) else {
            throw APIError.invalidRequest("The field 'top_k' must be between 1 and \(limits.maximumTopK).")
        }
        let answer = try await ask.ask(question: question, tenant: tenant, topK: topK)
        return try JSONBody.response(answer)
    }
}

