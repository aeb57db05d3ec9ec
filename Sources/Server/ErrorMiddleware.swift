import Backup
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ObjectStore
import Providers
import Retrieval
import Routing
import Storage

/// Turns every error into a JSON error body with a fitting status: domain errors know nothing of HTTP, and
/// unexpected errors become a 500 whose details go to the log, not to the client. The body is
/// `{"error": {"code", "message", "type"}}`, which OpenAI's SDKs also read.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes, to tell a wrong method (405) from an unknown path (404).
    var routes: RouteTable?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPParserError {
            // A malformed request (a bad chunk size, say): the server answers 400 and closes the connection, which
            // only it can do.
            throw error
        } catch let error as any HTTPResponseError where error.status == .notFound {
            let allowed = routes?.methods(forPath: request.uri.path) ?? []
            guard !allowed.isEmpty else { return Self.response(Self.apiError(for: error, request: request)) }
            var apiError = APIError(
                status: .methodNotAllowed, code: "method_not_allowed",
                message: "\(Self.bounded(request.method.rawValue, 16)) is not allowed on this path; use \(allowed.joined(separator: " or ")).")
            apiError.allow = allowed
            return Self.response(apiError)
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
        case let error as ChatError:
            return error.code == .conversationNotFound
                ? APIError(status: .notFound, code: "conversation_not_found", message: error.message)
                : APIError.invalidRequest(error.message)
        case let error as StorageError where error.code == .tenantNotFound:
            return APIError(status: .notFound, code: "tenant_not_found", message: error.message)
        case let error as StorageError where error.code == .invalidInput:
            return APIError(status: .badRequest, code: "invalid_request", message: error.message)
        case let error as StorageError where error.code == .notFound:
            return APIError(status: .notFound, code: "not_found", message: error.message)
        case let error as StorageError:
            var apiError = APIError(status: .serviceUnavailable, code: "storage_unavailable", message: error.message)
            apiError.retryAfter = error.retryAfter ?? .seconds(5)
            return apiError
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
        case let error as BackupError:
            return backupError(error)
        case let error as ObjectStoreError:
            // The bucket's server failed or refused us: the gateway's problem, said in the client's words (the
            // message names the bucket and access key, never a secret).
            return APIError(status: .badGateway, code: "object_store_" + snakeCase("\(error.code)"), message: error.message)
        case is NIOTooManyBytesError:
            return APIError(status: .contentTooLarge, code: "body_too_large", message: "The request body is too large.")
        case let error as any HTTPResponseError:
            let status = error.status
            let code = status == .notFound ? "not_found" : status == .methodNotAllowed ? "method_not_allowed" : "http_error"
            let message =
                status == .notFound
                ? "No route for \(request.map { "\(bounded($0.method.rawValue, 16)) \(bounded($0.uri.path, 200))" } ?? "this request")."
                : status.reasonPhrase
            return APIError(status: status, code: code, message: message)
        default:
            return APIError(
                status: .internalServerError, code: "internal_error",
                message: "The request failed on the server; see the server log.")
        }
    }

    /// `signatureMismatch` as `signature_mismatch`.
    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
    }

    /// Backup failures: a set that is not there (404), in a state that forbids the request (409), damaged (422), or a
    /// failure on the server (500).
    static func backupError(_ error: BackupError) -> APIError {
        let (status, code): (HTTPResponse.Status, String) =
            switch error.code {
            case .notFound: (.notFound, "backup_not_found")
            case .incomplete: (.conflict, "backup_incomplete")
            case .busy: (.conflict, "backup_busy")
            case .encryptionKey: (.conflict, "backup_encryption_key")
            case .retention: (.conflict, "backup_retention_unconfigured")
            case .schemaTooNew: (.conflict, "backup_schema_too_new")
            case .conflict: (.conflict, "backup_conflict")
            case .corrupt, .unsafeEntry, .verifyFailed: (.unprocessableContent, "backup_corrupt")
            case .invalidTarget: (.internalServerError, "backup_target_invalid")
            case .modelRestore: (.badGateway, "backup_model_restore_failed")
            default: (.internalServerError, "backup_failed")
            }
        return APIError(status: status, code: code, message: error.message)
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

    /// `text`, cut to `limit` characters: an error body never echoes unbounded input.
    static func bounded(_ text: some StringProtocol, _ limit: Int) -> String {
        text.count <= limit ? String(text) : String(text.prefix(limit)) + "…"
    }

    /// The most characters of a message, and the most entries of a list, an error body carries.
    static var maximumMessageCharacters: Int { 2_000 }
    static var maximumListEntries: Int { 50 }

    static func errorJSON(_ error: APIError) -> String {
        let body = ErrorBody(
            error: .init(
                code: error.code, message: bounded(error.message, maximumMessageCharacters), type: error.type,
                excluded: error.excluded.isEmpty ? nil : Array(error.excluded.prefix(maximumListEntries)),
                attempts: error.attempts.isEmpty ? nil : Array(error.attempts.prefix(maximumListEntries))))
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
        if !error.allow.isEmpty { headers[.allow] = error.allow.joined(separator: ", ") }
        if let challenge = error.wwwAuthenticate { headers[.wwwAuthenticate] = challenge }
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
