import Foundation
import NIOHTTP1

/// Answers chats and embeds texts with Google's Gemini API (the Generative Language API).
///
/// The key goes in the `x-goog-api-key` header, never in the URL. System messages become `systemInstruction`,
/// assistant turns are `model` turns, and only the generation settings a request sets are sent. Note that Gemini
/// answers a wrong key with 400, which maps to ``ProviderError/Code/unauthorized`` like a 401 elsewhere.
public struct GeminiProvider: ChatProvider, EmbeddingsAPI {
    /// Where the API is and how to call it.
    public struct Configuration: Sendable {
        /// The API's base URL without a version (e.g. `https://generativelanguage.googleapis.com`), its key and
        /// timeouts.
        public var endpoint: ProviderEndpoint
        /// The model used when a request names none, e.g. `gemini-2.5-flash`. Defaults to none: requests must name one.
        public var defaultModel: String?
        /// The provider's name in routes, errors and metrics. Defaults to `google`.
        public var name: String = "google"
        /// The API version in every path. Defaults to `v1beta` (which has `systemInstruction` and every model).
        public var apiVersion: String = "v1beta"
        /// The most texts one `batchEmbedContents` call carries. Defaults to 100, the API's limit.
        public var embeddingBatchLimit: Int = 100
        /// The most pages of `GET /{apiVersion}/models` that ``GeminiProvider/listModels()`` reads. Defaults to 20.
        public var maximumModelPages: Int = 20

        /// A configuration for `endpoint`; the other settings keep their defaults.
        public init(endpoint: ProviderEndpoint, defaultModel: String? = nil) {
            self.endpoint = endpoint
            self.defaultModel = defaultModel
        }
    }

    /// The settings this provider was made with.
    public let configuration: Configuration
    /// Chat, streaming and embeddings on a remote service.
    public let capabilities = ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: false)
    private let transport: ProviderTransport

    /// The configured name, `google` by default.
    public var name: String { configuration.name }
    /// The most texts one ``embed(_:model:)`` call should carry (``Configuration/embeddingBatchLimit``).
    public var embeddingBatchLimit: Int { max(1, configuration.embeddingBatchLimit) }

    /// A provider that sends its requests through `transport` (shared by all providers).
    public init(configuration: Configuration, transport: ProviderTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// Answers one request with `models/{model}:generateContent`. A prompt the upstream blocks (HTTP 200 with
    /// `promptFeedback.blockReason`) throws ``ProviderError/Code/contentFiltered``.
    public func chat(_ request: ChatRequest) async throws -> ChatResponse {
        let started = ContinuousClock.now
        let model = try model(for: request)
        let response = try await send(
            "POST", path: modelPath(model, method: "generateContent"), body: try generateBody(request), model: model)
        let answer = try await decode(
            GeminiWire.GenerateContentResponse.self, from: response, what: "a GenerateContentResponse")
        guard let candidate = answer.candidates?.first else {
            if let reason = answer.promptFeedback?.blockReason { throw GeminiWire.blocked(reason: reason, provider: name) }
            throw ProviderError.malformedResponse(provider: name, reason: "the answer has no candidates")
        }
        return ChatResponse(
            text: GeminiWire.text(of: candidate),
            finishReason: GeminiWire.finishReason(candidate.finishReason),
            usage: GeminiWire.usage(answer.usageMetadata) ?? TokenUsage(inputTokens: 0, outputTokens: 0),
            provider: name,
            model: answer.modelVersion ?? model,
            endpoint: configuration.endpoint.displayName,
            latency: ContinuousClock.now - started)
    }

    /// Answers one request as a stream (`models/{model}:streamGenerateContent?alt=sse`). An error status is thrown
    /// here, before any event; a blocked prompt or an error in the stream fails the stream.
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        let model = try model(for: request)
        let response = try await send(
            "POST", path: modelPath(model, method: "streamGenerateContent") + "?alt=sse",
            body: try generateBody(request), model: model, accept: "text/event-stream")
        return ProviderTransport.chatStream(
            from: response, provider: name, decoder: GeminiStreamDecoder(provider: name, model: model))
    }

    /// Embeds `texts` with `models/{model}:batchEmbedContents`, in calls of at most ``embeddingBatchLimit`` texts;
    /// one vector per text, in order.
    public func embed(_ texts: [String], model: String) async throws -> [[Float]] {
        let model = Self.bareModel(model)
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var start = texts.startIndex
        while start < texts.endIndex {
            let end = min(start + embeddingBatchLimit, texts.endIndex)
            let batch = texts[start..<end]
            let request = GeminiWire.BatchEmbedRequest(
                requests: batch.map {
                    GeminiWire.EmbedRequest(
                        model: "models/\(model)", content: GeminiWire.Content(role: nil, parts: [.init(text: $0)]))
                })
            let response = try await send(
                "POST", path: modelPath(model, method: "batchEmbedContents"),
                body: try GeminiWire.encoder.encode(request), model: model)
            let answer = try await decode(
                GeminiWire.BatchEmbedResponse.self, from: response, what: "a batchEmbedContents response")
            guard answer.embeddings.count == batch.count else {
                throw ProviderError.malformedResponse(
                    provider: name, reason: "\(model) returned \(answer.embeddings.count) vectors for \(batch.count) texts")
            }
            vectors += answer.embeddings.map(\.values)
            start = end
        }
        return vectors
    }

    /// The models the key may use, from `GET /{apiVersion}/models`, following `nextPageToken` for at most
    /// ``Configuration/maximumModelPages`` pages. The pager also stops when a page repeats a token it already
    /// followed (a broken or fake upstream), and lists each model once.
    public func listModels() async throws -> [ModelInfo] {
        try await PagedModelList.models(maximumPages: configuration.maximumModelPages) { pageToken in
            var path = "/\(configuration.apiVersion)/models?pageSize=1000"
            if let pageToken { path += "&pageToken=" + PagedModelList.queryEscaped(pageToken) }
            let page = try await modelPage(path: path)
            return (
                (page.models ?? []).map { ModelInfo(id: Self.bareModel($0.name), contextWindow: $0.inputTokenLimit) },
                page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
            )
        }
    }

    /// Lists one model (`GET /{apiVersion}/models?pageSize=1`): checks the URL and the key without spending tokens.
    public func checkHealth() async throws {
        _ = try await modelPage(path: "/\(configuration.apiVersion)/models?pageSize=1")
    }

    // MARK: Requests

    private func model(for request: ChatRequest) throws -> String {
        try RequestedModel.resolve(
            request.model.map(Self.bareModel), defaultModel: configuration.defaultModel.map(Self.bareModel),
            provider: name)
    }

    private func generateBody(_ request: ChatRequest) throws -> Data {
        let body = GeminiWire.generateContentRequest(request)
        guard !body.contents.isEmpty else {
            throw ProviderError.invalidRequest(
                provider: name,
                reason: "The request has no user or assistant message; the provider '\(name)' needs at least one.")
        }
        return try GeminiWire.encoder.encode(body)
    }

    /// `/{apiVersion}/models/{model}:{method}`.
    private func modelPath(_ model: String, method: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#:")
        let escaped = model.addingPercentEncoding(withAllowedCharacters: allowed) ?? model
        return "/\(configuration.apiVersion)/models/\(escaped):\(method)"
    }

    /// Sends a request and returns the response once its status is a success; any other status throws the
    /// mapped error, classified from the (small) error body if it can be read.
    private func send(
        _ method: String, path: String, body: Data? = nil, model: String?, accept: String = "application/json"
    ) async throws -> UpstreamResponse {
        var headers = [("accept", accept)]
        if let key = configuration.endpoint.apiKey { headers.append(("x-goog-api-key", key.value)) }
        return try await transport.send(
            method, path, to: configuration.endpoint, headers: headers, body: body, provider: name
        ) { response in
            let body = (try? await transport.errorBody(of: response, provider: name)) ?? Data()
            return GeminiWire.error(
                status: response.status, headers: response.headers, body: body, provider: name, model: model)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from response: UpstreamResponse, what: String)
        async throws -> Value
    {
        let body = try await transport.collect(response, provider: name)
        return try GeminiWire.decode(type, from: body, what: what, provider: name)
    }

    private func modelPage(path: String) async throws -> GeminiWire.ModelPage {
        let response = try await send("GET", path: path, model: nil)
        return try await decode(GeminiWire.ModelPage.self, from: response, what: "a model list")
    }

    /// `gemini-2.5-flash` for `models/gemini-2.5-flash` or `gemini-2.5-flash`.
    private static func bareModel(_ model: String) -> String {
        model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
    }
}
