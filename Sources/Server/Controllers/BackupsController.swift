import Backup
import Foundation
import Hummingbird

/// Backup sets for operators: `GET /api/backups` (the complete sets; `?all=true` adds incomplete ones),
/// `POST /api/backups` (starts a run in the background: 202 with the new set's id), `GET /api/backups/{id}` (a set, or
/// the run writing it) and `POST /api/backups/{id}/verify` (re-downloads and re-hashes the set; 200 with the report,
/// `"ok": false` and the failures when it is damaged).
struct BackupsController<Context: RequestContext>: Sendable {
    let backups: ServerDependencies.Backups?

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/backups") { request, _ in try await list(request) }
        router.post("/api/backups") { _, _ in try start() }
        router.get("/api/backups/{id}") { _, context in try await show(try Self.id(context)) }
        router.post("/api/backups/{id}/verify") { _, context in try await verify(try Self.id(context)) }
    }

    struct ListReply: Encodable {
        var sets: [BackupSetSummary]
    }

    /// A set or a run, as `GET /api/backups/{id}` and `POST /api/backups` answer.
    struct SetReply: Encodable {
        var id: String
        /// `running`, `failed` (a run started here) or `complete`.
        var status: String
        var started: Date?
        var set: BackupSetSummary?
        var error: ErrorBody?

        struct ErrorBody: Encodable {
            var code: String
            var message: String
        }
    }

    func available() throws -> ServerDependencies.Backups {
        guard let backups else {
            throw APIError(status: .notImplemented, code: "backups_unavailable", message: "This server offers no backups.")
        }
        return backups
    }

    /// The id in the path: a set id (`20261129T233000Z-1a2b3c`), nothing else, so no path character ever reaches a
    /// key.
    static func id(_ context: Context) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard BackupSetID.date(of: id) != nil else {
            throw APIError.invalidRequest(
                "'\(ErrorMiddleware<Context>.bounded(id, 80))' is not a backup set id such as 20261129T233000Z-1a2b3c; "
                    + "GET /api/backups lists them.")
        }
        return id
    }

    func list(_ request: Request) async throws -> Response {
        let service = try available().service()
        let all = request.uri.queryParameters["all"].map(String.init)
        guard all == nil || all == "true" || all == "false" else {
            throw APIError.invalidRequest("all is true or false.")
        }
        return try JSONBody.response(ListReply(sets: try await service.list(includeIncomplete: all == "true")), dates: true)
    }

    func start() throws -> Response {
        let backups = try available()
        _ = try backups.service()  // A target that cannot be set up is refused now, not found out by the run.
        let id = try backups.runner.start()
        var response = try JSONBody.response(SetReply(id: id, status: "running", started: BackupSetID.date(of: id)), status: .accepted, dates: true)
        response.headers[.location] = "/api/backups/\(id)"
        return response
    }

    func show(_ id: String) async throws -> Response {
        let backups = try available()
        switch backups.runner.status(of: id) {
        case .running(let started):
            return try JSONBody.response(SetReply(id: id, status: "running", started: started), dates: true)
        case .failed(let started, let error):
            let apiError = ErrorMiddleware<Context>.backupError(error)
            return try JSONBody.response(
                SetReply(id: id, status: "failed", started: started, error: .init(code: apiError.code, message: error.message)),
                dates: true)
        case .succeeded, nil:
            let set = try await backups.service().summary(of: id)
            return try JSONBody.response(
                SetReply(id: id, status: set.complete ? "complete" : "incomplete", started: set.created, set: set), dates: true)
        }
    }

    func verify(_ id: String) async throws -> Response {
        try JSONBody.response(try await available().service().verify(id: id))
    }
}
