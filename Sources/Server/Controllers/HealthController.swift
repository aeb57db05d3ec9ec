import Hummingbird

/// `GET /health` (the process is alive) and `GET /ready` (the database answers and its schema is current).
struct HealthController<Context: RequestContext>: Sendable {
    let isReady: @Sendable () async -> Bool

    struct Status: Encodable {
        var status: String
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/health") { _, _ in try JSONBody.response(Status(status: "ok")) }
        router.get("/ready") { _, _ in
            if await isReady() { return try JSONBody.response(Status(status: "ready")) }
            throw APIError(
                status: .serviceUnavailable, code: "not_ready",
                message: "The database is unreachable or its migrations are not applied.")
        }
    }
}
