import AsyncHTTPClient
import Foundation
import NIOCore

extension OllamaAdminClient {
    /// Whether the server holds the blob `digest` (`HEAD /api/blobs/sha256:<hex>`).
    public func hasBlob(_ digest: String) async throws -> Bool {
        let response = try await transport.send(
            method: "HEAD", url: configuration.endpoint.baseURL + "/api/blobs/" + digest, headers: authorization,
            body: nil, timeouts: configuration.endpoint.timeouts, provider: name)
        _ = try? await transport.collect(response, limit: 1 << 16, provider: name)
        switch response.status {
        case 200: return true
        case 404: return false
        default:
            throw errors.failure(
                status: response.status, retryAfter: nil, text: nil, model: nil, operation: .blob, path: "/api/blobs")
        }
    }

    /// Uploads a blob (`POST /api/blobs/sha256:<hex>`), streamed; Ollama hashes what arrives and refuses bytes that
    /// do not match `digest`. A blob the server already has is not sent again by Ollama's rules (it answers 200).
    /// - Parameters:
    ///   - digest: `sha256:<64 hex digits>`.
    ///   - size: The blob's bytes, sent as its length.
    ///   - body: The bytes.
    public func pushBlob<Body: AsyncSequence & Sendable>(_ digest: String, size: Int, body: Body) async throws
    where Body.Element == ByteBuffer {
        var timeouts = configuration.pullTimeouts ?? configuration.endpoint.timeouts
        // The head comes only once the whole body is sent: the upload's time is the first byte's.
        timeouts.firstByte = timeouts.total
        do {
            let response = try await send(
                "POST", "/api/blobs/" + digest, streaming: .stream(body, length: .known(Int64(size))),
                contentType: "application/octet-stream", model: nil, operation: .blob, timeouts: timeouts)
            _ = try? await transport.collect(response, limit: 1 << 16, provider: name)
        } catch let error as ProviderError where error.status == 400 {
            throw ProviderError(
                code: .invalidRequest,
                message: "Ollama '\(name)' at \(configuration.endpoint.displayName) refused blob \(digest) (HTTP 400): "
                    + "the bytes sent do not hash to it. The copy it came from is damaged; verify it.",
                provider: name, status: 400)
        }
    }

    /// Creates the model `name` from blobs the server holds (`POST /api/create` with `files`), as `ollama create`
    /// does: Ollama reads the GGUF files, adds the template, system prompt, licenses, parameters and messages given
    /// here as layers, writes the config and the manifest.
    ///
    /// - Parameters:
    ///   - files: File name (`model.gguf`) → `sha256:<hex>` of GGUF weights (and projectors).
    ///   - adapters: File name → digest of LoRA adapters.
    ///   - parameters: A JSON object (the params layer), such as `{"stop": ["<|eot_id|>"]}`.
    ///   - messages: A JSON array of messages (the messages layer).
    /// - Throws: `invalidRequest` when Ollama refuses the request (an unknown file type, a missing blob), another
    ///   ``ProviderError`` when it fails.
    public func create(
        _ name: String, files: [String: String], adapters: [String: String] = [:], template: String? = nil,
        system: String? = nil, license: [String] = [], parameters: Data? = nil, messages: Data? = nil
    ) async throws {
        var object: [String: Any] = ["model": name, "files": files, "stream": false]
        if !adapters.isEmpty { object["adapters"] = adapters }
        if let template { object["template"] = template }
        if let system { object["system"] = system }
        if !license.isEmpty { object["license"] = license }
        if let parameters {
            guard let value = (try? JSONSerialization.jsonObject(with: parameters)) as? [String: Any] else {
                throw ProviderError(
                    code: .invalidRequest, message: "The parameters of '\(name)' are not a JSON object.", provider: self.name)
            }
            object["parameters"] = value
        }
        if let messages {
            guard let value = (try? JSONSerialization.jsonObject(with: messages)) as? [Any] else {
                throw ProviderError(
                    code: .invalidRequest, message: "The messages of '\(name)' are not a JSON array.", provider: self.name)
            }
            object["messages"] = value
        }
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var timeouts = configuration.pullTimeouts ?? configuration.endpoint.timeouts
        // Ollama answers a create without streaming only when it is done (it reads every GGUF file first).
        timeouts.firstByte = timeouts.total
        let response = try await send("POST", "/api/create", body: body, model: name, operation: .create, timeouts: timeouts)
        struct Outcome: Decodable {
            var status: String?
            var error: String?
        }
        let outcome = try await decode(Outcome.self, from: response, what: "the create outcome")
        guard outcome.error == nil, outcome.status == "success" else {
            throw ProviderError(
                code: .upstreamServerError,
                message: "Ollama '\(self.name)' did not finish creating '\(name)'. Check the Ollama server log (free disk "
                    + "space), then restore again.",
                provider: self.name)
        }
    }

    /// The `authorization` header when the endpoint has a key.
    var authorization: [(String, String)] {
        guard let key = configuration.endpoint.apiKey, !key.value.isEmpty else { return [] }
        return [("authorization", "Bearer \(key.value)")]
    }
}
