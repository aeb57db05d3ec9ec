import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Providers
import Routing
import Storage

/// Turns every error into a JSON error body with a fitting status: domain errors know nothing of HTTP, and
/// unexpected errors become a 500 whose details go to the log, not to the client. The body is
/// `{"error": {"code", "message", "type"}}`, which OpenAI's SDKs also read.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, request: request)
            if apiError.status == .internalServerError {
                context.logger.error(
                    "Request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            } else if apiError.status.code >= 500 {
                context.logger.warning(
                    "Request failed upstream", metadata: ["http.path": "\(request.uri.path)", "error.code": "\(apiError.code)"])
            }
            return Self.response(apiError)
        }
    }

    /// The status, code and message a client sees for `error`.
    static func apiError(for error: any Error, request: Request? = nil) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as StorageError where error.code == .tenantNotFound:
            return APIError(status: .notFound, code: "tenant_not_found", message: error.message)
        case let error as StorageError:
            return APIError(status: .serviceUnavailable, code: "storage_unavailable", message: error.message)
        case let error as ProviderError:
            var apiError = APIError(status: status(for: error), code: code(for: error), message: error.message)
            apiError.retryAfter = error.retryAfter
            return apiError
        case let error as RoutingError:
            let status: HTTPResponse.Status =
                switch error.code {
                case .unknownModel: .notFound
                case .noProviderAvailable: .serviceUnavailable
                case .unknownProvider, .modelRequired, .unknownEmbeddingModel, .unknownStrategy, .unknownTask: .badRequest
                case .requirementsUnmet: .unprocessableContent
                case .rateLimited, .budgetExceeded: .tooManyRequests
                // Every attempt was refused for rate limits: the client should slow down, not report an outage.
                case .allCandidatesFailed where error.attempts.allSatisfy { $0.error == "rate_limited" || $0.error == "rateLimited" }:
                    .tooManyRequests
                case .allCandidatesFailed, .budgetUnavailable: .serviceUnavailable
                }
            var apiError = APIError(status: status, code: error.code.rawValue, message: error.message)
            apiError.retryAfter = error.retryAfter
            apiError.rateLimit = error.rateLimit
            apiError.excluded = error.exclusions
            apiError.attempts = error.attempts
            return apiError
        case is NIOTooManyBytesError:
            return APIError(status: .contentTooLarge, code: "body_too_large", message: "The request body is too large.")
        case let error as any HTTPResponseError:
            let status = error.status
            let code = status == .notFound ? "not_found" : status == .methodNotAllowed ? "method_not_allowed" : "http_error"
            let message =
                status == .notFound
                ? "No route for \(request.map { "\($0.method) \($0.uri.path)" } ?? "this request")." : status.reasonPhrase
            return APIError(status: status, code: code, message: message)
        default:
            return APIError(
                status: .internalServerError, code: "internal_error",
                message: "The request failed on the server; see the server log.")
        }
    }

    /// Upstream failures are the gateway's (502/503/504) unless the client's request caused them.
    static func status(for error: ProviderError) -> HTTPResponse.Status {
        switch error.code {
        case .invalidRequest, .contextLengthExceeded, .contentFiltered, .unsupported: .badRequest
        case .modelNotFound: .notFound
        case .rateLimited, .quotaExceeded: .tooManyRequests
        case .overloaded, .disabled: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .cancelled: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")
        default: .badGateway  // unauthorized (the appliance's key), upstream 5xx, connection, malformed
        }
    }

    static func code(for error: ProviderError) -> String {
        switch error.code {
        case .disabled: "provider_disabled"
        case .unauthorized: "upstream_unauthorized"
        case .modelNotFound: "model_not_found"
        case .contextLengthExceeded: "context_length_exceeded"
        case .contentFiltered: "content_filter"
        case .rateLimited: "rate_limit_exceeded"
        case .quotaExceeded: "insufficient_quota"
        case .overloaded: "upstream_overloaded"
        case .timeout: "upstream_timeout"
        case .upstreamServerError: "upstream_error"
        case .connectionFailed: "upstream_unreachable"
        case .malformedResponse: "upstream_malformed_response"
        case .cancelled: "cancelled"
        case .unsupported: "unsupported"
        default: "invalid_request"
        }
    }

    static func errorJSON(_ error: APIError) -> String {
        let body = ErrorBody(
            error: .init(
                code: error.code, message: error.message, type: error.type, excluded: error.excluded.isEmpty ? nil : error.excluded,
                attempts: error.attempts.isEmpty ? nil : error.attempts))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(body)) ?? Data(), as: UTF8.self)
    }

    static func response(_ error: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter = error.retryAfter {
            let seconds = max(1, Int((Double(retryAfter.components.seconds) + Double(retryAfter.components.attoseconds) / 1e18).rounded(.up)))
            headers[.retryAfter] = "\(seconds)"
        }
        if let rateLimit = error.rateLimit { RouteHeaders.apply(rateLimit, to: &headers) }
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: errorJSON(error))))
    }
}

/// The JSON shape of every error response.
struct ErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
        /// OpenAI's error category: `invalid_request_error` for 4xx, `api_error` for 5xx.
        var type: String
        /// Why each candidate was left out (`requirements_unmet`).
        var excluded: [RouteExclusion]?
        /// What was tried (`all_candidates_failed`).
        var attempts: [RoutingError.Attempt]?
    }
    var error: Detail
}
