import Foundation
import NIOHTTP1

/// Answers chats with Anthropic's Messages API (`POST /v1/messages`), streamed or not.
///
/// Sends `x-api-key` and `anthropic-version` (2023-06-01 unless configured otherwise). System messages become the
/// top-level `system` prompt, consecutive turns of one role are merged, and `max_tokens` (which the API requires)
/// falls back to ``Configuration/defaultMaxTokens``. Anthropic has no embeddings API, so this provider offers none.
public struct AnthropicProvider: ChatProvider {
    /// Where the API is and how to call it.
    public struct Configuration: Sendable {
        /// The API's base URL without `/v1` (e.g. `https://api.anthropic.com`), its key and timeouts.
        public var endpoint: ProviderEndpoint
        /// The model used when a request names none, e.g. `claude-sonnet-4-6`. Defaults to none: requests must name one.
        public var defaultModel: String?
        /// The provider's name in routes, errors and metrics. Defaults to `anthropic`.
        public var name: String = "anthropic"
        /// The `anthropic-version` header. Defaults to `2023-06-01`, the version whose request shape this provider
        /// sends (later versions reject `temperature`).
        public var apiVersion: String = "2023-06-01"
        /// `max_tokens` for requests that set no ``ChatRequest/maximumTokens``. Defaults to 1024.
        public var defaultMaxTokens: Int = 1024
        /// The most pages of `GET /v1/models` that ``AnthropicProvider/listModels()`` reads. Defaults to 20.
        public var maximumModelPages: Int = 20

        /// A configuration for `endpoint`; the other settings keep their defaults.
        public init(endpoint: ProviderEndpoint, defaultModel: String? = nil) {
            self.endpoint = endpoint
            self.defaultModel = defaultModel
        }
    }

    /// The settings this provider was made with.
    public let configuration: Configuration
    /// Chat and streaming on a remote service; no embeddings.
    public let capabilities = ProviderCapabilities(chat: true, streaming: true, embeddings: false, isLocal: false)
    private let transport: ProviderTransport

    /// The configured name, `anthropic` by default.
    public var name: String { configuration.name }

    /// A provider that sends its requests through `transport` (shared by all providers).
    public init(configuration: Configuration, transport: ProviderTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// Answers one request with `POST /v1/messages`; the text blocks of the answer are joined.
    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let started = ContinuousClock.now
        let model = try model(for: request)
        let response = try await send(
            "POST", path: "/v1/messages", body: try messagesBody(request, model: model, stream: false), model: model)
        let answer = try await decode(AnthropicWire.MessagesResponse.self, from: response, what: "a Messages response")
        guard let content = answer.content else {
            throw ProviderError.malformedResponse(provider: name, reason: "the Messages response has no content")
        }
        let text = content.filter { $0.type == "text" }.compactMap(\.text).joined()
        return ChatResponse(
            text: text,
            finishReason: AnthropicWire.finishReason(answer.stopReason),
            usage: TokenUsage(
                inputTokens: answer.usage?.inputTokens ?? 0, outputTokens: answer.usage?.outputTokens ?? 0),
            provider: name,
            model: answer.model ?? model,
            endpoint: configuration.endpoint.displayName,
            latency: ContinuousClock.now - started)
    }

    /// Answers one request as a stream (`"stream": true`). An error status is thrown here, before any event; an
    /// `event: error` in the stream fails the stream.
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        let model = try model(for: request)
        let response = try await send(
            "POST", path: "/v1/messages", body: try messagesBody(request, model: model, stream: true), model: model,
            accept: "text/event-stream")
        return ProviderTransport.chatStream(
            from: response, provider: name, decoder: AnthropicStreamDecoder(provider: name, model: model))
    }

    /// The models the key may use, from `GET /v1/models`, following `has_more`/`last_id` for at most
    /// ``Configuration/maximumModelPages`` pages (and stopping if a page repeats its `last_id`).
    public func listModels() async throws -> [ModelInfo] {
        try await PagedModelList.models(maximumPages: configuration.maximumModelPages) { after in
            var path = "/v1/models?limit=1000"
            if let after { path += "&after_id=" + PagedModelList.queryEscaped(after) }
            let page = try await modelPage(path: path)
            return (
                page.data.map { ModelInfo(id: $0.id, contextWindow: $0.maxInputTokens) },
                page.hasMore == true ? page.lastId : nil
            )
        }
    }

    /// Lists one model (`GET /v1/models?limit=1`): checks the URL and the key without spending tokens.
    public func checkHealth() async throws {
        _ = try await modelPage(path: "/v1/models?limit=1")
    }

    // MARK: Requests

    private func model(for request: ChatRequest) throws -> String {
        try RequestedModel.resolve(request.model, defaultModel: configuration.defaultModel, provider: name)
    }

    private func messagesBody(_ request: ChatRequest, model: String, stream: Bool) throws -> Data {
        let (system, messages) = AnthropicWire.conversation(request.messages)
        guard !messages.isEmpty else {
            throw ProviderError.invalidRequest(
                provider: name,
                reason: "The request has no user or assistant message; the provider '\(name)' needs at least one.")
        }
        let body = AnthropicWire.MessagesRequest(
            model: model,
            maxTokens: request.maximumTokens ?? configuration.defaultMaxTokens,
            system: system,
            messages: messages,
            stopSequences: request.stop.isEmpty ? nil : request.stop,
            temperature: request.temperature,
            stream: stream ? true : nil)
        return try AnthropicWire.encoder.encode(body)
    }

    /// Sends a request and returns the response once its status is a success; any other status throws the
    /// mapped error, classified from the (small) error body if it can be read.
    private func send(
        _ method: String, path: String, body: Data? = nil, model: String?, accept: String = "application/json"
    ) async throws -> UpstreamResponse {
        var headers = [("anthropic-version", configuration.apiVersion), ("accept", accept)]
        if let key = configuration.endpoint.apiKey { headers.append(("x-api-key", key.value)) }
        return try await transport.send(
            method, path, to: configuration.endpoint, headers: headers, body: body, provider: name
        ) { response in
            let body = (try? await transport.errorBody(of: response, provider: name)) ?? Data()
            return AnthropicWire.error(
                status: response.status, headers: response.headers, body: body, provider: name, model: model)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from response: UpstreamResponse, what: String)
        async throws -> Value
    {
        let body = try await transport.collect(response, provider: name)
        return try AnthropicWire.decode(type, from: body, what: what, provider: name)
    }

    private func modelPage(path: String) async throws -> AnthropicWire.ModelPage {
        let response = try await send("GET", path: path, model: nil)
        return try await decode(AnthropicWire.ModelPage.self, from: response, what: "a model list")
    }
}
