import AsyncHTTPClient
import Foundation
import NIOCore

/// Manages the models of one Ollama server through its API: what is pulled (`GET /api/tags`), what is loaded now
/// (`GET /api/ps`), what one model is (`POST /api/show`), deleting (`DELETE /api/delete`) and pulling
/// (`POST /api/pull`).
///
/// ``OllamaProvider`` answers requests; this client serves the model lifecycle (inventory, cleanup, `models pull`).
/// It sends over a shared ``ProviderTransport`` with the endpoint's key and timeouts, reads bounded bodies and lines,
/// and throws ``ProviderError``s whose messages say what to check, never repeating upstream text.
public struct OllamaAdminClient: Sendable {
    /// Where the Ollama server is and the bounds of what is read from it.
    public struct Configuration: Sendable {
        /// The server's name in errors and logs. Defaults to `ollama`.
        public var name: String
        /// The server root, e.g. `http://127.0.0.1:11434` (without `/api`); a key only if a proxy asks for one; the
        /// timeouts of every call but pulls.
        public var endpoint: ProviderEndpoint
        /// The longest body read from `/api/tags`, `/api/ps` or `/api/show`. Defaults to 16 MiB; a server with a
        /// thousand models lists them in about 500 KB.
        public var maximumBodyBytes: Int = 16 << 20
        /// The longest line of a pull's progress. Defaults to 64 KiB; Ollama's lines are under 300 bytes.
        public var maximumLineBytes: Int = 64 << 10
        /// The timeouts of a pull. Defaults to `nil`: the endpoint's. A pull lasts as long as the download, so a
        /// model of many gigabytes needs a `total` far above the endpoint's 10 minutes.
        public var pullTimeouts: ProviderTimeouts?

        /// - Parameters:
        ///   - endpoint: the server root (no `/api`), optional key, and timeouts.
        ///   - name: the server's name in errors; give a second Ollama server its own.
        public init(endpoint: ProviderEndpoint, name: String = "ollama") {
            self.endpoint = endpoint
            self.name = name
        }
    }

    /// The configuration this client was made with.
    public let configuration: Configuration
    let transport: ProviderTransport

    /// A client sending its requests over `transport`, which may be shared with the providers.
    public init(configuration: Configuration, transport: ProviderTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// The server's name, e.g. `ollama`.
    public var name: String { configuration.name }

    /// The models pulled on the server (`GET /api/tags`), newest first as Ollama orders them.
    public func tags() async throws -> [OllamaTag] {
        let response = try await send("GET", "/api/tags", body: nil, model: nil, operation: .list)
        let list = try await decode(OllamaAdminWire.ModelList.self, from: response, what: "the model list")
        return list.models.map {
            OllamaTag(
                name: $0.name, model: $0.model, digest: $0.digest, size: $0.size, modifiedAt: $0.modifiedAt,
                details: $0.details.attributes)
        }
    }

    /// The models loaded in memory now (`GET /api/ps`).
    public func ps() async throws -> [OllamaRunningModel] {
        let response = try await send("GET", "/api/ps", body: nil, model: nil, operation: .running)
        let list = try await decode(OllamaAdminWire.ModelList.self, from: response, what: "the running models")
        return list.models.map {
            OllamaRunningModel(
                name: $0.name, model: $0.model, digest: $0.digest, size: $0.size, sizeVRAM: $0.sizeVRAM ?? 0,
                expiresAt: $0.expiresAt, contextLength: $0.contextLength, details: $0.details.attributes)
        }
    }

    /// What the server knows of the model `name` (`POST /api/show`): attributes, trained context window, capabilities.
    /// - Throws: `modelNotFound` when the server has no such model.
    public func show(_ name: String) async throws -> OllamaModelDetails {
        let body = try OllamaWire.makeEncoder().encode(OllamaAdminWire.ModelRequest(model: name))
        let response = try await send("POST", "/api/show", body: body, model: name, operation: .show)
        let shown = try await decode(OllamaAdminWire.ShowResponse.self, from: response, what: "the model details")
        return OllamaModelDetails(
            name: name, details: shown.details.attributes,
            architecture: shown.modelInfo["general.architecture"]?.string,
            contextLength: shown.architectureValue("context_length").map { Int(clamping: $0) },
            embeddingLength: shown.architectureValue("embedding_length").map { Int(clamping: $0) },
            parameterCount: shown.modelInfo["general.parameter_count"]?.integer.flatMap { $0 > 0 ? Int64($0) : nil },
            capabilities: shown.capabilities, modifiedAt: shown.modifiedAt)
    }

    /// Deletes the model `name` (`DELETE /api/delete`). Ollama removes its manifest, then the blobs of that model that
    /// no remaining manifest lists; blobs that were orphaned before stay.
    /// - Throws: `modelNotFound` when the server has no such model.
    public func delete(_ name: String) async throws {
        let body = try OllamaWire.makeEncoder().encode(OllamaAdminWire.ModelRequest(model: name))
        let response = try await send("DELETE", "/api/delete", body: body, model: name, operation: .delete)
        // The model is gone once the 200 arrived; the (empty) body is read only so the connection can be reused.
        _ = try? await transport.collect(response, limit: 1 << 16, provider: self.name)
    }

    /// Pulls the model `name` (`POST /api/pull`, streamed), yielding each progress step; the last one is `success`.
    ///
    /// The request starts at once and is cancelled when the stream is dropped. The stream fails with the mapped
    /// ``ProviderError`` when Ollama reports an error (an `{"error": …}` line: unknown model, registry unreachable,
    /// disk full), when the body ends before `success`, or at the pull's total timeout. Progress steps are state, not
    /// events: a consumer that falls more than 256 steps behind misses the oldest, never the last.
    /// - Parameters:
    ///   - name: the model, e.g. `llama3.2:3b` or `hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M`.
    ///   - insecure: allow a registry over plain HTTP or with an unverified certificate (your own registry only).
    public func pull(_ name: String, insecure: Bool = false) -> AsyncThrowingStream<OllamaPullProgress, any Error> {
        let (stream, continuation) = AsyncThrowingStream<OllamaPullProgress, any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(256))
        let provider = self.name
        let decoder = OllamaPullDecoder(errors: errors, model: name, maximumLineBytes: configuration.maximumLineBytes)
        let task = Task {
            do {
                let body = try OllamaWire.makeEncoder().encode(
                    OllamaAdminWire.PullRequest(model: name, insecure: insecure, stream: true))
                let response = try await send(
                    "POST", "/api/pull", body: body, model: name, operation: .pull, accept: "application/x-ndjson",
                    timeouts: configuration.pullTimeouts)
                try await ProviderTransport.withDeadline(response.deadline, provider: provider, phase: .body) {
                    var decoder = decoder
                    /// Yields the steps `decode` appends, then rethrows its error if any.
                    func deliver(_ decode: (inout [OllamaPullProgress]) throws -> Void) throws {
                        var steps: [OllamaPullProgress] = []
                        defer { for step in steps { continuation.yield(step) } }
                        try decode(&steps)
                    }
                    for try await chunk in response.body {
                        try deliver { try decoder.feed(chunk, into: &$0) }
                        if decoder.isDone { return }
                    }
                    try deliver { try decoder.finish(into: &$0) }
                }
                continuation.finish()
            } catch {
                continuation.finish(
                    throwing: ProviderTransport.map(error, provider: provider, phase: .body, timeouts: nil))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The server's version (`GET /api/version`), e.g. `0.12.6`; a cheap check that it answers.
    public func version() async throws -> String {
        let response = try await send("GET", "/api/version", body: nil, model: nil, operation: .version)
        struct Version: Decodable { var version: String }
        return String(try await decode(Version.self, from: response, what: "the version").version.prefix(64))
    }

    var errors: Errors {
        Errors(
            provider: name, endpoint: configuration.endpoint.displayName,
            hasAPIKey: configuration.endpoint.apiKey != nil)
    }

    /// Sends a request and returns the response once its status is a success; any other status throws the error
    /// `errors` makes of it, read from the (small) error body.
    func send(
        _ method: String, _ path: String, body: Data?, model: String?, operation: Errors.Operation,
        accept: String = "application/json", timeouts: ProviderTimeouts? = nil
    ) async throws -> UpstreamResponse {
        try await send(
            method, path, streaming: body.map { .bytes(ByteBuffer(bytes: $0)) },
            contentType: body == nil ? nil : "application/json", model: model, operation: operation, accept: accept,
            timeouts: timeouts)
    }

    /// Sends a request with a streamed body; see ``send(_:_:body:model:operation:accept:timeouts:)``.
    func send(
        _ method: String, _ path: String, streaming body: HTTPClientRequest.Body?, contentType: String?, model: String?,
        operation: Errors.Operation, accept: String = "application/json", timeouts: ProviderTimeouts? = nil
    ) async throws -> UpstreamResponse {
        var headers: [(String, String)] = [("accept", accept)]
        if let contentType { headers.append(("content-type", contentType)) }
        headers += authorization
        var endpoint = configuration.endpoint
        if let timeouts { endpoint.timeouts = timeouts }
        let errors = self.errors
        return try await transport.send(method, path, to: endpoint, headers: headers, streaming: body, provider: name) {
            response in
            let errorBody = try await transport.errorBody(of: response, provider: errors.provider)
            // Ollama sends `{"error": "text"}`; its router's own 404 is plain text.
            let text =
                (try? JSONDecoder().decode(OllamaWire.ErrorBody.self, from: errorBody))?.error
                ?? String(decoding: errorBody.prefix(256), as: UTF8.self)
            return errors.failure(
                status: response.status, retryAfter: RetryAfter.parse(response.headers), text: text, model: model,
                operation: operation, path: path)
        }
    }

    func decode<Value: Decodable>(_ type: Value.Type, from response: UpstreamResponse, what: String)
        async throws -> Value
    {
        let data = try await transport.collect(response, limit: configuration.maximumBodyBytes, provider: name)
        return try WireDecoding.decode(type, from: data, decoder: JSONDecoder(), what: what, provider: name)
    }
}

extension OllamaAdminClient {
    /// Turns the errors of Ollama's model-management API into ``ProviderError``s whose messages say what to check.
    /// The upstream text is read to classify the error but never repeated: it can hold paths or registry URLs.
    struct Errors: Sendable {
        /// What the client was doing, for the message.
        enum Operation: Sendable {
            case list, running, show, delete, pull, version, blob, create
        }

        var provider: String
        /// The endpoint without credentials.
        var endpoint: String
        var hasAPIKey: Bool

        private var server: String { "Ollama '\(provider)' at \(endpoint)" }

        /// The error for a failed HTTP status.
        func failure(
            status: Int, retryAfter: Duration?, text: String?, model: String?, operation: Operation, path: String
        ) -> ProviderError {
            let upstream = text?.lowercased() ?? ""
            let label = " (HTTP \(status))"
            func make(_ code: ProviderError.Code, _ message: String) -> ProviderError {
                ProviderError(code: code, message: message, provider: provider, status: status, retryAfter: retryAfter)
            }

            if let model, status == 404 || (status == 400 && upstream.contains("not found")) {
                switch operation {
                case .delete:
                    return make(
                        .modelNotFound,
                        "Cannot delete '\(model)': \(server) has no such model\(label). It may be deleted already; "
                            + "check the name and tag against its model list (GET /api/tags).")
                case .pull:
                    return make(
                        .modelNotFound,
                        "\(server) found no model '\(model)' in its registry\(label). Check the name and tag "
                            + "(https://ollama.com/library lists the public registry's models).")
                default:
                    return make(
                        .modelNotFound,
                        "\(server) has no model '\(model)'\(label). Check the name and tag against its model list "
                            + "(GET /api/tags), or pull it.")
                }
            }
            if status == 404 {
                return make(
                    .malformedResponse,
                    "\(server) has no \(path)\(label). Check that its baseURL is the Ollama server's root (without "
                        + "/api) and that Ollama, not another service, answers there.")
            }
            if let model, status == 400 {
                if upstream.contains("insecure") {
                    return make(
                        .invalidRequest,
                        "\(server) refused to pull '\(model)' from a registry over plain HTTP\(label). Pull with "
                            + "insecure only from your own registry, or use https.")
                }
                return make(
                    .invalidRequest,
                    "\(server) refused '\(model)'\(label). Write the name as [host/][namespace/]model[:tag], e.g. "
                        + "llama3.2:3b, with letters, digits, '_', '-' and '.' only.")
            }
            if (500..<600).contains(status), status != 503 {
                let action =
                    switch operation {
                    case .list: "list its models"
                    case .running: "list its loaded models"
                    case .show: "describe '\(model ?? "")'"
                    case .delete: "delete '\(model ?? "")'"
                    case .pull: "start pulling '\(model ?? "")'"
                    case .version: "report its version"
                    case .blob: "store a blob"
                    case .create: "create '\(model ?? "")'"
                    }
                return make(
                    .upstreamServerError,
                    "\(server) failed to \(action)\(label). Check the Ollama server log (free disk space, "
                        + "permissions on OLLAMA_MODELS), then retry.")
            }
            return OllamaWire.ErrorTranslator(provider: provider, hasAPIKey: hasAPIKey).error(
                status: status, retryAfter: retryAfter, text: text, model: model)
        }

        /// The error for an `{"error": "…"}` line in a pull's progress: the pull began and then failed.
        func pullFailed(text: String, model: String) -> ProviderError {
            let upstream = text.lowercased()
            func make(_ code: ProviderError.Code, _ message: String) -> ProviderError {
                ProviderError(code: code, message: message, provider: provider)
            }
            if ["file does not exist", "not found", "manifest unknown"].contains(where: upstream.contains) {
                return make(
                    .modelNotFound,
                    "The registry has no model '\(model)': \(server) could not fetch its manifest. Check the name and "
                        + "tag (https://ollama.com/library lists the public registry's models).")
            }
            if upstream.contains("no space left") {
                return make(
                    .upstreamServerError,
                    "\(server) ran out of disk space pulling '\(model)'. Free space (delete unused models) or move "
                        + "OLLAMA_MODELS to a larger disk; pulling again resumes the download.")
            }
            if ["unauthorized", "forbidden", "401", "403"].contains(where: upstream.contains) {
                return make(
                    .unauthorized,
                    "The registry refused \(server) access to '\(model)'. For a private model, sign the Ollama server "
                        + "in to its registry (ollama signin) or check the registry's credentials.")
            }
            if upstream.contains("digest mismatch") {
                return make(
                    .upstreamServerError,
                    "A blob of '\(model)' arrived corrupted at \(server) (digest mismatch). Pull it again.")
            }
            if upstream.contains("insecure") {
                return make(
                    .invalidRequest,
                    "\(server) refused to pull '\(model)' from a registry over plain HTTP. Pull with insecure only "
                        + "from your own registry, or use https.")
            }
            if ["dial tcp", "connection", "timeout", "no such host", "tls", "eof", "max retries", "i/o", "network"]
                .contains(where: upstream.contains)
            {
                return make(
                    .upstreamServerError,
                    "\(server) could not download '\(model)' from its registry (network). Check the Ollama host's "
                        + "internet access and proxy (HTTPS_PROXY), then pull again; the download resumes.")
            }
            return make(
                .upstreamServerError,
                "\(server) failed to pull '\(model)'. Check the Ollama server log, then pull again; the download "
                    + "resumes where it stopped.")
        }
    }
}
