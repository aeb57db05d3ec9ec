import AsyncHTTPClient
import Foundation
import NIOCore

extension ProviderTransport {
    /// Sends a request to `endpoint` (its base URL followed by `path`, within its timeouts) and returns the response
    /// once its status is a success (2xx). Any other status throws the error `failure` makes of the response; it
    /// may read the (small) body with ``errorBody(of:provider:)``.
    /// - Parameters:
    ///   - method: `GET`, `POST`, …
    ///   - path: the path and query after the endpoint's base URL, e.g. `/v1/models?limit=1`.
    func send(
        _ method: String, _ path: String, to endpoint: ProviderEndpoint, headers: [(String, String)], body: Data?,
        provider: String, failure: (UpstreamResponse) async throws -> ProviderError
    ) async throws -> UpstreamResponse {
        var headers = headers
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("content-type", "application/json"))
        }
        return try await send(
            method, path, to: endpoint, headers: headers, streaming: body.map { .bytes(ByteBuffer(bytes: $0)) },
            provider: provider, failure: failure)
    }

    /// ``send(_:_:to:headers:body:provider:failure:)`` with a streamed body, sent as it is (headers included).
    func send(
        _ method: String, _ path: String, to endpoint: ProviderEndpoint, headers: [(String, String)],
        streaming body: HTTPClientRequest.Body?, provider: String,
        failure: (UpstreamResponse) async throws -> ProviderError
    ) async throws -> UpstreamResponse {
        let response = try await send(
            method: method, url: endpoint.baseURL + path, headers: headers, streaming: body, timeouts: endpoint.timeouts,
            provider: provider)
        guard (200..<300).contains(response.status) else { throw try await failure(response) }
        return response
    }

    /// The body of a failed response, read to classify the error: at most 1 MiB, and empty when it is longer (too
    /// long to be an error body, so the status alone decides).
    func errorBody(of response: UpstreamResponse, provider: String) async throws -> Data {
        do {
            return try await collect(response, limit: 1 << 20, provider: provider)
        } catch let error as ProviderError where error.code == .malformedResponse {
            return Data()
        }
    }
}
