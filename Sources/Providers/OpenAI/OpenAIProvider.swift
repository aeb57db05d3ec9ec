import Foundation
import NIOHTTP1

/// Chat and embeddings over the OpenAI API or any server that speaks it (vLLM, llama.cpp, LM Studio, Ollama's
/// `/v1`): each such server is its own named provider with its own ``Configuration``.
public struct OpenAIProvider: ChatProvider, EmbeddingsAPI {
    /// Where the upstream is and how to call it.
    public struct Configuration: Sendable {
        /// The provider's name in routes, logs, metrics and errors. Defaults to `openai`.
        public var name: String
        /// The base URL including the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`;
        /// the key, if any, and the timeouts.
        public var endpoint: ProviderEndpoint
        /// The model used when a request names none. Defaults to none: such requests fail.
        public var defaultModel: String?
        /// Where the API key is configured, named in errors ("Check OPENAI_API_KEY."). Defaults to `OPENAI_API_KEY`
        /// for `openai`, else to a description naming the provider.
        public var apiKeySource: String
        /// Which body field carries ``ChatRequest/maximumTokens``. Defaults to `max_tokens`, which compatible
        /// servers understand; OpenAI's reasoning models need `max_completion_tokens`.
        public var maximumTokensField: MaximumTokensField = .maxTokens
        /// The most texts one embeddings call carries. Defaults to 2048, OpenAI's limit.
        public var embeddingBatchLimit: Int = 2048
        /// Headers sent with every request besides `Authorization`, e.g. `OpenAI-Organization`. Defaults to none.
        public var additionalHeaders: [String: String] = [:]

        /// - Parameters:
        ///   - endpoint: the base URL (ending in `/v1`), key and timeouts.
        ///   - defaultModel: the model for requests that name none.
        ///   - name: the provider's name; give OpenAI-compatible servers their own (`vllm`, `lmstudio`).
        public init(endpoint: ProviderEndpoint, defaultModel: String? = nil, name: String = "openai") {
            self.name = name
            self.endpoint = endpoint
            self.defaultModel = defaultModel
            self.apiKeySource = name == "openai" ? "OPENAI_API_KEY" : "the API key configured for provider '\(name)'"
        }
    }

    /// The body field for the maximum number of tokens to generate.
    public enum MaximumTokensField: String, Sendable, Hashable {
        /// `max_tokens`: the original field, understood by every compatible server.
        case maxTokens = "max_tokens"
        /// `max_completion_tokens`: required by OpenAI's reasoning models.
        case maxCompletionTokens = "max_completion_tokens"
    }

    /// The configuration this provider was made with.
    public let configuration: Configuration
    /// A remote provider that chats, streams and embeds.
    public let capabilities = ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: false)
    private let transport: ProviderTransport

    /// A provider sending its requests over `transport`, which may be shared with other providers.
    public init(configuration: Configuration, transport: ProviderTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// The provider's name, e.g. `openai` or `vllm`.
    public var name: String { configuration.name }

    /// The most texts one ``embed(_:model:)`` call carries.
    public var embeddingBatchLimit: Int { configuration.embeddingBatchLimit }

    /// Answers one request with `POST /chat/completions`.
    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let clock = ContinuousClock()
        let start = clock.now
        let model = try model(for: request.model)
        let response = try await send(
            "POST", "/chat/completions", body: try chatBody(request, model: model, stream: false), model: model)
        let completion = try await decode(OpenAIWire.ChatCompletion.self, from: response, what: "the chat completion")
        guard let choice = completion.choices.first(where: { ($0.index ?? 0) == 0 }) ?? completion.choices.first else {
            throw ProviderError.malformedResponse(provider: name, reason: "the chat completion has no choices")
        }
        return ChatResponse(
            text: choice.message?.content ?? "",
            finishReason: choice.finishReason.map(Self.finishReason) ?? .stop,
            usage: completion.usage?.tokenUsage ?? TokenUsage(inputTokens: 0, outputTokens: 0),
            provider: name,
            model: completion.model ?? model,
            endpoint: configuration.endpoint.displayName,
            latency: clock.now - start)
    }

    /// Streams one answer from `POST /chat/completions` with `stream: true`, asking for the usage at the end.
    /// Errors the upstream reports before the stream begins throw here; later ones end the stream.
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        let model = try model(for: request.model)
        let response = try await send(
            "POST", "/chat/completions", body: try chatBody(request, model: model, stream: true), model: model,
            accept: "text/event-stream")
        return ProviderTransport.chatStream(
            from: response, provider: name, decoder: OpenAIStreamDecoder(errors: errors, model: model))
    }

    /// Embeds `texts` with `POST /embeddings`; one vector per text, in order.
    public func embed(_ texts: [String], model: String) async throws -> [[Float]] {
        try await embed(EmbeddingsRequest(texts: texts, model: model)).vectors
    }

    /// OpenAI's text-embedding-3 models (and some compatible servers) shorten their vectors to `dimensions`.
    public var acceptsDimensions: Bool { true }

    /// Embeds with `POST /embeddings`, passing `dimensions` when the request sets it; the input tokens are the
    /// upstream's `usage.prompt_tokens`.
    public func embed(_ request: EmbeddingsRequest) async throws -> EmbeddingsResult {
        let texts = request.texts
        if texts.isEmpty { return EmbeddingsResult(vectors: [], inputTokens: 0) }
        let model = request.model
        let body = try OpenAIWire.makeEncoder().encode(
            OpenAIWire.EmbeddingsRequest(model: model, input: texts, encodingFormat: "float", dimensions: request.dimensions))
        let response = try await send("POST", "/embeddings", body: body, model: model)
        let embeddings = try await decode(OpenAIWire.EmbeddingsResponse.self, from: response, what: "the embeddings")
        let ordered = embeddings.data.sorted { $0.index < $1.index }
        guard ordered.count == texts.count, ordered.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
            throw ProviderError.malformedResponse(
                provider: name, reason: "it returned \(ordered.count) embeddings for \(texts.count) texts")
        }
        let vectors = try ordered.map { item in
            guard let values = item.embedding.values else {
                throw ProviderError.malformedResponse(
                    provider: name, reason: "embedding \(item.index) is not base64 of float32 values")
            }
            return values
        }
        return EmbeddingsResult(vectors: vectors, inputTokens: embeddings.usage?.promptTokens.map { max(0, $0) })
    }

    /// The models the upstream offers (`GET /models`).
    public func listModels() async throws -> [ModelInfo] {
        let response = try await send("GET", "/models", body: nil, model: nil)
        let list = try await decode(OpenAIWire.ModelList.self, from: response, what: "the model list")
        return list.data.map { ModelInfo(id: $0.id, ownedBy: $0.ownedBy) }
    }

    /// Checks that the upstream answers and accepts the key, with `GET /models` (costs no tokens).
    public func checkHealth() async throws {
        _ = try await listModels()
    }

    /// The finish reason for OpenAI's `finish_reason`; unknown values count as a normal stop.
    static func finishReason(_ value: String) -> FinishReason {
        switch value {
        case "length": .length
        case "content_filter": .contentFilter
        case "tool_calls", "function_call": .toolCalls
        default: .stop
        }
    }

    var errors: OpenAIWire.ErrorTranslator {
        OpenAIWire.ErrorTranslator(
            provider: name, apiKey: configuration.endpoint.apiKey, apiKeySource: configuration.apiKeySource)
    }

    private func model(for requested: String?) throws -> String {
        try RequestedModel.resolve(requested, defaultModel: configuration.defaultModel, provider: name)
    }

    private func chatBody(_ request: ChatRequest, model: String, stream: Bool) throws -> Data {
        var body = OpenAIWire.ChatCompletionRequest(
            model: model,
            messages: request.messages.map { OpenAIWire.Message(role: $0.role.rawValue, content: $0.content) },
            temperature: request.temperature,
            stop: request.stop.isEmpty ? nil : request.stop)
        switch configuration.maximumTokensField {
        case .maxTokens: body.maxTokens = request.maximumTokens
        case .maxCompletionTokens: body.maxCompletionTokens = request.maximumTokens
        }
        if stream {
            body.stream = true
            body.streamOptions = OpenAIWire.StreamOptions(includeUsage: true)
        }
        return try OpenAIWire.makeEncoder().encode(body)
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
        for (field, value) in configuration.additionalHeaders.sorted(by: { $0.key < $1.key }) {
            headers.append((field, value))
        }
        return try await transport.send(
            method, path, to: configuration.endpoint, headers: headers, body: body, provider: name
        ) { response in
            let errorBody = try await transport.errorBody(of: response, provider: name)
            let detail = (try? OpenAIWire.makeDecoder().decode(OpenAIWire.ErrorBody.self, from: errorBody))?.error
            return errors.error(status: response.status, headers: response.headers, detail: detail, model: model)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from response: UpstreamResponse, what: String)
        async throws -> Value
    {
        let data = try await transport.collect(response, provider: name)
        return try WireDecoding.decode(type, from: data, decoder: OpenAIWire.makeDecoder(), what: what, provider: name)
    }
}
