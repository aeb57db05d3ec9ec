import Foundation
import Hummingbird
import Lifecycle

/// Model lifecycle for operators: `GET /api/models` (the inventory of every Ollama endpoint), `GET
/// /api/models/usage` (disk use, traffic, what pins each model) and `POST /api/models/cleanup` with
/// `{"dry_run": true|false}` (the plan, and with `false` its execution through Ollama's API).
struct ModelsController<Context: RequestContext>: Sendable {
    let lifecycle: ServerDependencies.ModelLifecycle?
    let limits: ServerConfiguration.Limits

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/models") { _, _ in try await inventory() }
        router.get("/api/models/usage") { _, _ in try JSONBody.response(try await available().manager.usage(), dates: true) }
        router.post("/api/models/cleanup") { request, _ in try await cleanup(request) }
    }

    struct InventoryReply: Encodable {
        var models: [InventoryModel]
        var refreshed: String?
    }

    struct CleanupBody: Decodable {
        var dryRun: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case dryRun = "dry_run" }
    }

    func available() throws -> ServerDependencies.ModelLifecycle {
        guard let lifecycle else {
            throw APIError(
                status: .notImplemented, code: "lifecycle_unavailable",
                message: "No Ollama endpoint is configured: model lifecycle needs OLLAMA_HOST or an ollama provider.")
        }
        return lifecycle
    }

    /// Refreshed first (the endpoints are asked now); what the database holds when they do not answer.
    func inventory() async throws -> Response {
        let lifecycle = try available()
        let refreshed = try? await lifecycle.manager.refresh()
        return try JSONBody.response(InventoryReply(models: try await lifecycle.inventory.models(), refreshed: refreshed), dates: true)
    }

    func cleanup(_ request: Request) async throws -> Response {
        let lifecycle = try available()
        let body = try await JSONBody.decode(CleanupBody.self, from: request, limits: limits)
        // A real cleanup deletes models: it must be asked for in so many words.
        guard let dryRun = body.dryRun else {
            throw APIError.invalidRequest("Say whether to delete: {\"dry_run\": true} plans only, {\"dry_run\": false} carries the plan out.")
        }
        do {
            return try JSONBody.response(try await lifecycle.manager.cleanup(dryRun: dryRun))
        } catch let error as LifecycleError {
            throw APIError(status: .conflict, code: "cleanup_unavailable", message: error.message)
        }
    }
}
