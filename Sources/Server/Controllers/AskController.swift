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
        let question = try JSONBody.question(body.question, field: "question", limits: limits)
        let tenant = try RequestTenant.resolve(bodyTenant: body.tenant, headers: request.headers)
        let topK = try JSONBody.topK(body.topK, limits: limits)
        let answer = try await ask.ask(question: question, tenant: tenant, topK: topK)
        return try JSONBody.response(answer)
    }
}

