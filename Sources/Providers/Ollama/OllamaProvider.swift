import Foundation
import NIOHTTP1

/// Chat, generation and embeddings over Ollama's native API (`/api/chat`, `/api/generate`, `/api/embed`), plus the
/// model management reads the appliance needs (`/api/tags`, `/api/ps`, `/api/show`, `/api/version`).
public struct OllamaProvider: ChatProvider, EmbeddingsAPI {
    /// Where the Ollama server is and how to call it.
    public struct Configuration: Sendable {
        /// The provider's name in routes, logs, metrics and errors. Defaults to `ollama`.
        public var name: String
        /// The server root, e.g. `http://127.0.0.1:11434` (without `/api`); a key only if a proxy or Ollama's
        /// cloud asks for one; the timeouts.
        public var endpoint: ProviderEndpoint
        /// The model used when a request names none. Defaults to none: such requests fail.
        public var defaultModel: String?
        /// How long Ollama keeps the model loaded after a request (`keep_alive`): a Go duration such as `"5m"`, or
        /// seconds (`"300"`; `"-1"` keeps it loaded, `"0"` unloads at once). Defaults to `nil`: not sent, so the
        /// server's own default (`OLLAMA_KEEP_ALIVE`, 5 minutes) applies.
        public var keepAlive: String?
        /// The context window to ask for (`options.num_ctx`). Defaults to `nil`: the server's default, which is
        /// often smaller than the model's and silently truncates long prompts.
        public var contextLength: Int?
        /// The most texts one embeddings call carries. Defaults to 512.
        public var embeddingBatchLimit: Int = 512

        /// - Parameters:
        ///   - endpoint: the server root (no `/api`), optional key, and timeouts.
        ///   - defaultModel: the model for requests that name none.
        ///   - name: the provider's name; give a second Ollama server its own.
        public init(endpoint: ProviderEndpoint, defaultModel: String? = nil, name: String = "ollama") {
            self.name = name
            self.endpoint = endpoint
            self.defaultModel = defaultModel
        }
    }

    /// What `/api/show` says about one model.
    public struct ModelDetails: Hashable, Sendable {
        /// The model as it was asked for.
        public var id: String
        /// The context window the model was trained for (`model_info["<architecture>.context_length"]`), if given.
        public var contextLength: Int?
        /// The vector length, for embedding models (`<architecture>.embedding_length`), if given.
        public var embeddingLength: Int?
        /// The model family, e.g. `llama`.
        public var family: String?
        /// The parameter count as Ollama writes it, e.g. `3.2B`.
        public var parameterSize: String?
        /// The quantisation, e.g. `Q4_K_M`.
        public var quantizationLevel: String?
        /// What the model can do, e.g. `completion`, `tools`, `embedding`.
        public var capabilities: [String]

        /// Details of `id`; what the server did not say stays `nil` (or empty).
        public init(
            id: String, contextLength: Int? = nil, embeddingLength: Int? = nil, family: String? = nil,
            parameterSize: String? = nil, quantizationLevel: String? = nil, capabilities: [String] = []
        ) {
            self.id = id
            self.contextLength = contextLength
            self.embeddingLength = embeddingLength
            self.family = family
            self.parameterSize = parameterSize
            self.quantizationLevel = quantizationLevel
            self.capabilities = capabilities
        }
    }

    /// The configuration this provider was made with.
    public let configuration: Configuration
    /// A local provider that chats, streams and embeds.
    public let capabilities = ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: true)
    private let transport: ProviderTransport

    /// A provider sending its requests over `transport`, which may be shared with other providers.
    public init(configuration: Configuration, transport: ProviderTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// The provider's name, e.g. `ollama`.
    public var name: String { configuration.name }

    /// The most texts one ``embed(_:model:)`` call carries.
    public var embeddingBatchLimit: Int { configuration.embeddingBatchLimit }

    /// Answers one request with `POST /api/chat` and `stream: false`.
    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let model = try model(for: request.model)
        return try await answer(
            "/api/chat", body: chatBody(request, model: model, stream: false), model: model, what: "the chat answer")
    }

    /// Streams one answer from `POST /api/chat` with `stream: true`. Errors before the stream begins throw here;
    /// later ones end the stream.
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        let model = try model(for: request.model)
        return try await stream("/api/chat", body: chatBody(request, model: model, stream: true), model: model)
    }

    /// Completes a bare prompt with `POST /api/generate` and `stream: false`.
    public func generate(_ request: GenerateRequest) async throws -> ChatResponse {
        let model = try model(for: request.model)
        return try await answer(
            "/api/generate", body: generateBody(request, model: model, stream: false), model: model,
            what: "the generated answer")
    }

    /// Streams a bare prompt's completion from `POST /api/generate` with `stream: true`.
    public func streamGenerate(_ request: GenerateRequest) async throws -> ChatStream {
        let model = try model(for: request.model)
        return try await stream("/api/generate", body: generateBody(request, model: model, stream: true), model: model)
    }

    /// Embeds `texts` with `POST /api/embed`; one vector per text, in order.
    public func embed(_ texts: [String], model: String) async throws -> [[Float]] {
        try await embed(EmbeddingsRequest(texts: texts, model: model)).vectors
    }

    /// Embeds with `POST /api/embed`; the input tokens are the server's `prompt_eval_count`. Ollama's models have a
    /// fixed vector length: a request for other dimensions is refused.
    public func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult {
        if request.dimensions != nil {
            throw ProviderError.unsupported(provider: name, what: "choosing the embedding dimensions")
        }
        let texts = request.texts
        if texts.isEmpty { return EmbeddingsResult(vectors: [], inputTokens: 0) }
        let model = request.model
        let body = try OllamaWire.makeEncoder().encode(
            OllamaWire.EmbedRequest(
                model: model, input: texts, keepAlive: configuration.keepAlive.map(OllamaWire.KeepAlive.init)))
        let response = try await send("POST", "/api/embed", body: body, model: model)
        let decoded = try await decode(OllamaWire.EmbedResponse.self, from: response, what: "the embeddings")
        guard decoded.embeddings.count == texts.count else {
            throw ProviderError.malformedResponse(
                provider: name, reason: "it returned \(decoded.embeddings.count) embeddings for \(texts.count) texts")
        }
        return EmbeddingsResult(vectors: decoded.embeddings, inputTokens: decoded.promptEvalCount.map { max(0, $0) })
    }

    /// The models pulled on the server (`GET /api/tags`); `ownedBy` is the model family.
    public func listModels() async throws -> [ModelInfo] {
        let response = try await send("GET", "/api/tags", body: nil, model: nil)
        let list = try await decode(OllamaWire.ModelList.self, from: response, what: "the model list")
        return list.models.map { ModelInfo(id: $0.name, ownedBy: $0.details?.family, contextWindow: $0.contextLength) }
    }

    /// Checks that the server answers, with `GET /api/version` (loads no model).
    public func checkHealth() async throws {
        _ = try await version()
    }

    /// The models loaded in memory now (`GET /api/ps`), with the context window they were loaded with.
    public func runningModels() async throws -> [ModelInfo] {
        let response = try await send("GET", "/api/ps", body: nil, model: nil)
        let list = try await decode(OllamaWire.ModelList.self, from: response, what: "the running models")
        return list.models.map { ModelInfo(id: $0.name, ownedBy: $0.details?.family, contextWindow: $0.contextLength) }
    }

    /// What the server knows of `model` (`POST /api/show`): its trained context window, family and capabilities.
    public func showModel(_ model: String) async throws -> ModelDetails {
        let body = try OllamaWire.makeEncoder().encode(OllamaWire.ShowRequest(model: model))
        let response = try await send("POST", "/api/show", body: body, model: model)
        let shown = try await decode(
            OllamaWire.ShowResponse.self, from: response, what: "the model details", decoder: JSONDecoder())
        let info = shown.modelInfo ?? [:]
        // Keys are prefixed with the architecture (`llama.context_length`); prefer the declared architecture's.
        func value(_ suffix: String) -> Int? {
            if let architecture = info["general.architecture"]?.string,
                let exact = info["\(architecture).\(suffix)"]?.integer
            {
                return exact
            }
            return info.keys.sorted().lazy.filter { $0.hasSuffix(".\(suffix)") }.compactMap { info[$0]?.integer }.first
        }
        return ModelDetails(
            id: model, contextLength: value("context_length"), embeddingLength: value("embedding_length"),
            family: shown.details?.family, parameterSize: shown.details?.parameterSize,
            quantizationLevel: shown.details?.quantizationLevel, capabilities: shown.capabilities ?? [])
    }

    /// The server's version (`GET /api/version`), e.g. `0.12.6`.
    public func version() async throws -> String {
        let response = try await send("GET", "/api/version", body: nil, model: nil)
        return try await decode(OllamaWire.Version.self, from: response, what: "the version").version
    }

    /// The finish reason for Ollama's `done_reason`: `length` when the token limit cut the answer, else a stop
    /// (`stop`, and `load`/`unload`, which carry no text).
    static func finishReason(_ value: String?) -> FinishReason {
        value == "length" ? .length : .stop
    }

    var errors: OllamaWire.ErrorTranslator {
        OllamaWire.ErrorTranslator(provider: name, hasAPIKey: configuration.endpoint.apiKey != nil)
    }

    private func model(for requested: String?) throws -> String {
        try RequestedModel.resolve(requested, defaultModel: configuration.defaultModel, provider: name)
    }

    private func options(temperature: Double?, maximumTokens: Int?, stop: [String]) -> OllamaWire.Options? {
        let options = OllamaWire.Options(
            temperature: temperature, numPredict: maximumTokens, numCtx: configuration.contextLength,
            stop: stop.isEmpty ? nil : stop)
        return options.isEmpty ? nil : options
    }

    private func chatBody(_ request: ChatRequest, model: String, stream: Bool) -> OllamaWire.ChatRequest {
        OllamaWire.ChatRequest(
            model: model,
            messages: request.messages.map { OllamaWire.Message(role: $0.role.rawValue, content: $0.content) },
            stream: stream,
            options: options(
                temperature: request.temperature, maximumTokens: request.maximumTokens, stop: request.stop),
            keepAlive: configuration.keepAlive.map(OllamaWire.KeepAlive.init))
    }

    private func generateBody(_ request: GenerateRequest, model: String, stream: Bool) -> OllamaWire.GenerateRequest {
        OllamaWire.GenerateRequest(
            model: model, prompt: request.prompt, system: request.system, stream: stream,
            options: options(
                temperature: request.temperature, maximumTokens: request.maximumTokens, stop: request.stop),
            keepAlive: configuration.keepAlive.map(OllamaWire.KeepAlive.init))
    }

    /// Posts `body` to `path` (`/api/chat` or `/api/generate`, not streamed) and reads the whole answer.
    private func answer(_ path: String, body: some Encodable, model: String, what: String)
        async throws -> ChatResponse
    {
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await send("POST", path, body: try OllamaWire.makeEncoder().encode(body), model: model)
        let answer = try await decode(OllamaWire.Answer.self, from: response, what: what)
        if let error = answer.error {
            throw errors.error(status: nil, retryAfter: nil, text: error, model: model)
        }
        return ChatResponse(
            text: answer.text,
            finishReason: Self.finishReason(answer.doneReason),
            usage: answer.usage,
            provider: name,
            model: answer.model ?? model,
            endpoint: configuration.endpoint.displayName,
            latency: clock.now - start)
    }

    /// Posts `body` to `path` (`/api/chat` or `/api/generate`, streamed) and decodes the NDJSON answer.
    private func stream(_ path: String, body: some Encodable, model: String) async throws -> ChatStream {
        let response = try await send(
            "POST", path, body: try OllamaWire.makeEncoder().encode(body), model: model, accept: "application/x-ndjson")
        return ProviderTransport.chatStream(
            from: response, provider: name, decoder: OllamaStreamDecoder(errors: errors, model: model))
    }

    /// Sends a request and returns the response once its status is a success; any other status throws the
    /// mapped error, read from the (small) error body.
    private func send(
        _ method: String, _ path: String, body: Data?, model: String?, accept: String = "application/json"
    ) async throws -> UpstreamResponse {
        var headers: [(String, String)] = [("accept", accept)]
        if let key = configuration.endpoint.apiKey, !key.value.isEmpty {
            headers.append(("authorization", "Bearer \(key.value)"))
        }
        return try await transport.send(
            method, path, to: configuration.endpoint, headers: headers, body: body, provider: name
        ) { response in
            let errorBody = try await transport.errorBody(of: response, provider: name)
            // Ollama sends `{"error": "text"}`; its router's own 404 is plain text.
            let text =
                (try? OllamaWire.makeDecoder().decode(OllamaWire.ErrorBody.self, from: errorBody))?.error
                ?? String(decoding: errorBody.prefix(256), as: UTF8.self)
            return errors.error(
                status: response.status, retryAfter: RetryAfter.parse(response.headers), text: text, model: model)
        }
    }

    private func decode<Value: Decodable>(
        _ type: Value.Type, from response: UpstreamResponse, what: String,
        decoder: JSONDecoder = OllamaWire.makeDecoder()
    ) async throws -> Value {
        let data = try await transport.collect(response, provider: name)
        return try WireDecoding.decode(type, from: data, decoder: decoder, what: what, provider: name)
    }
}
