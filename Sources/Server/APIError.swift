import HTTPTypes
import Routing

/// An error the HTTP API returns as `{"error": {"code", "message"}}` with its status.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code, e.g. `invalid_request`.
    public var code: String
    public var message: String
    /// How long the client should wait before retrying (sent as `Retry-After`).
    public var retryAfter: Duration?
    /// The rate limit that refused the request (sent as `X-RateLimit-*`).
    public var rateLimit: RateLimitStatus?
    /// Why each routing candidate was left out (422 `requirements_unmet`).
    public var excluded: [RouteExclusion] = []
    /// What was tried before giving up (503 `all_candidates_failed`).
    public var attempts: [RoutingError.Attempt] = []
    /// The methods a path accepts (405, sent as `Allow`).
    public var allow: [String] = []
    /// For 401: the `WWW-Authenticate` challenge.
    public var wwwAuthenticate: String?

    /// OpenAI's error category, for SDKs that read it.
    var type: String { status.code >= 500 ? "api_error" : status.code == 429 ? "rate_limit_error" : "invalid_request_error" }

    public init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func invalidRequest(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_request", message: message)
    }

    static func requestTimeout(_ message: String) -> APIError {
        APIError(status: .requestTimeout, code: "request_timeout", message: message)
    }
}
