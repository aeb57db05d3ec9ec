import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Storage

/// Turns every error into a JSON error body with a fitting status: domain errors know nothing of HTTP, and
/// unexpected errors become a 500 whose details go to the log, not to the client.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Self.response(error)
        } catch let error as StorageError where error.code == .tenantNotFound {
            return Self.response(APIError(status: .notFound, code: "tenant_not_found", message: error.message))
        } catch is NIOTooManyBytesError {
            return Self.response(
                APIError(status: .contentTooLarge, code: "body_too_large", message: "The request body is too large."))
        } catch let error as any HTTPResponseError {
            let status = error.status
            let code = status == .notFound ? "not_found" : status == .methodNotAllowed ? "method_not_allowed" : "http_error"
            let message = status == .notFound ? "No route for \(request.method) \(request.uri.path)." : status.reasonPhrase
            return Self.response(APIError(status: status, code: code, message: message))
        } catch {
            context.logger.error(
                "Request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            let message: String
            if let storage = error as? StorageError {
                message = storage.message
            } else {
                message = "The request failed on the server; see the server log."
            }
            return Self.response(
                APIError(
                    status: error is StorageError ? .serviceUnavailable : .internalServerError,
                    code: error is StorageError ? "storage_unavailable" : "internal_error", message: message))
        }
    }

    static func response(_ error: APIError) -> Response {
        let body = ErrorBody(error: .init(code: error.code, message: error.message))
        let data = (try? JSONEncoder().encode(body)) ?? Data()
        return Response(
            status: error.status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The JSON shape of every error response.
struct ErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
    }
    var error: Detail
}
