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
            "POST", path: "/v1/messages", body: try messagesBody(request, model: model, stream: false))
        guard (200..<300).contains(response.status) else { throw await error(from: response, model: model) }
        let body = try await transport.collect(response, provider: name)
        let answer = try AnthropicWire.decode(
            AnthropicWire.MessagesResponse.self, from: body, what: "a Messages response", provider: name)
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
            "POST", path: "/v1/messages", body: try messagesBody(request, model: model, stream: true),
            accept: "text/event-stream")
        guard (200..<300).contains(response.status) else { throw await error(from: response, model: model) }
        return ProviderTransport.chatStream(
            from: response, provider: name, decoder: AnthropicStreamDecoder(provider: name, model: model))
    }

    /// The models the key may use, from `GET /v1/models`, following `has_more`/`last_id` for at most
    /// ``Configuration/maximumModelPages`` pages (and stopping if a page repeats its `last_id`).
    public func listModels() async throws -> [ModelInfo] {
        var models: [ModelInfo] = []
        var seen: Set<String> = []
        var after: String?
        var cursors: Set<String> = []
        for _ in 0..<max(1, configuration.maximumModelPages) {
            var path = "/v1/models?limit=1000"
            if let after { path += "&after_id=" + Self.queryEscaped(after) }
            let page = try await modelPage(path: path)
            for model in page.data where seen.insert(model.id).inserted {
                models.append(ModelInfo(id: model.id, contextWindow: model.maxInputTokens))
            }
            guard page.hasMore == true, let last = page.lastId, cursors.insert(last).inserted else { break }
            after = last
        }
        return models
    }

    /// Lists one model (`GET /v1/models?limit=1`): checks the URL and the key without spending tokens.
    public func checkHealth() async throws {
        _ = try await modelPage(path: "/v1/models?limit=1")
    }

    // MARK: Requests

    private func model(for request: ChatRequest) throws -> String {
        guard let model = request.model ?? configuration.defaultModel, !model.isEmpty else {
            throw ProviderError.invalidRequest(
                provider: name,
                reason: "The request names no model and the provider '\(name)' has no default model. "
                    + "Name a model in the request or set the provider's defaultModel.")
        }
        return model
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

    private func send(_ method: String, path: String, body: Data? = nil, accept: String = "application/json")
        async throws -> UpstreamResponse
    {
        var headers = [("anthropic-version", configuration.apiVersion), ("accept", accept)]
        if let key = configuration.endpoint.apiKey { headers.append(("x-api-key", key.value)) }
        return try await transport.send(
            method: method, url: configuration.endpoint.baseURL + path, headers: headers, body: body,
            timeouts: configuration.endpoint.timeouts, provider: name)
    }

    private func modelPage(path: String) async throws -> AnthropicWire.ModelPage {
        let response = try await send("GET", path: path)
        guard (200..<300).contains(response.status) else { throw await error(from: response, model: nil) }
        let body = try await transport.collect(response, provider: name)
        return try AnthropicWire.decode(AnthropicWire.ModelPage.self, from: body, what: "a model list", provider: name)
    }

    /// The error a non-2xx response stands for; its (small) body is read to classify it.
    private func error(from response: UpstreamResponse, model: String?) async -> ProviderError {
        let body = (try? await transport.collect(response, limit: 1 << 20, provider: name)) ?? Data()
        return AnthropicWire.error(
            status: response.status, headers: response.headers, body: body, provider: name, model: model)
    }

    private static func queryEscaped(_ value: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
