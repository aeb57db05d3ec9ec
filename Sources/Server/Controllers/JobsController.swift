import Foundation
import Hummingbird
import Lifecycle
import Storage

/// The scheduler's jobs: `GET /api/jobs` (each schedule, its next slot and last run) and `GET /api/jobs/{name}/runs`
/// (its history, newest first; `?limit=` 1-1000, default 50).
struct JobsController<Context: RequestContext>: Sendable {
    let jobs: ServerDependencies.Jobs?

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/jobs") { _, _ in try await list() }
        router.get("/api/jobs/{name}/runs") { request, context in try await runs(request, name: context.parameters.get("name") ?? "") }
    }

    struct ListReply: Encodable {
        var jobs: [JobStatus]
    }

    struct RunsReply: Encodable {
        var job: String
        var runs: [JobRun]
    }

    func available() throws -> ServerDependencies.Jobs {
        guard let jobs else {
            throw APIError(status: .notImplemented, code: "jobs_unavailable", message: "This server runs no scheduler.")
        }
        return jobs
    }

    func list() async throws -> Response {
        let jobs = try available()
        return try JSONBody.response(ListReply(jobs: try await JobStatus.all(scheduler: jobs.scheduler, ledger: jobs.ledger)), dates: true)
    }

    func runs(_ request: Request, name: String) async throws -> Response {
        let jobs = try available()
        guard jobs.scheduler.schedules.contains(where: { $0.name == name }) else {
            throw APIError(
                status: .notFound, code: "job_not_found",
                message: "No schedule named '\(ErrorMiddleware<Context>.bounded(name, 80))'; GET /api/jobs lists them.")
        }
        let limitText = request.uri.queryParameters["limit"].map(String.init)
        let limit = limitText.flatMap(Int.init) ?? 50
        guard (1...1000).contains(limit), limitText == nil || Int(limitText ?? "") != nil else {
            throw APIError.invalidRequest("limit must be a whole number between 1 and 1000.")
        }
        return try JSONBody.response(RunsReply(job: name, runs: try await jobs.ledger.history(job: name, limit: limit)), dates: true)
    }
}
