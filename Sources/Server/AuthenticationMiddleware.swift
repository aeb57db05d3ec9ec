import Foundation
import HTTPTypes
import Hummingbird

/// How requests prove who they are.
public enum AuthenticationMode: String, Sendable, CaseIterable {
    /// No keys: every request may act for any tenant (single-user, local use; the quickstart).
    case none
    /// `Authorization: Bearer KEY` on every request but `/health`, `/ready` and `/openapi.yaml`; the key decides
    /// the tenant, and only admin keys reach the operator endpoints.
    case keys
}

/// Checks a request's API key and runs the rest of the request as its ``Caller``.
struct AuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The identity of a key, `nil` when the key is unknown or revoked.
    let authenticate: @Sendable (String) async throws -> Caller?

    /// Paths that answer without a key: probes and the API description.
    static func isOpen(_ path: String) -> Bool {
        path == "/health" || path == "/ready" || path == "/openapi.yaml"
    }

    /// Paths for operators: admin keys only.
    static func isOperatorOnly(_ path: String) -> Bool {
        path == "/metrics" || path == "/api/providers"
            || ["/api/models", "/api/jobs", "/api/backups"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let path = request.uri.path
        if Self.isOpen(path) { return try await next(request, context) }
        guard let key = Self.bearerToken(in: request.headers) else {
            throw Self.unauthorized(
                "This server requires an API key: send `Authorization: Bearer <key>`. An operator makes one with "
                    + "`unity-ai keys create --tenant NAME`.")
        }
        guard let caller = try await authenticate(key) else {
            throw Self.unauthorized("The API key is not valid or has been revoked.")
        }
        if Self.isOperatorOnly(path), !caller.isAdmin {
            throw APIError(
                status: .forbidden, code: "forbidden",
                message: "\(path) is for operators: it needs an admin key (`unity-ai keys create --admin`).")
        }
        return try await Caller.$current.withValue(caller) { try await next(request, context) }
    }

    /// The token of `Authorization: Bearer …` (the scheme in any case, as RFC 9110 says).
    static func bearerToken(in headers: HTTPFields) -> String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty || token.utf8.count > 256 ? nil : String(token)
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(status: .unauthorized, code: "unauthorized", message: message)
        error.wwwAuthenticate = #"Bearer realm="unity-ai""#
        return error
    }
}
