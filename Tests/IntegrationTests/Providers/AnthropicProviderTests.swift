import Foundation
import NIOCore
import Testing

@testable import Providers

@Suite struct AnthropicProviderTests {
    static let apiKey = "sk-ant-SECRET-1234"

    let transport = ProviderTransport(connectTimeout: .seconds(10))

    func provider(_ baseURL: String, timeouts: ProviderTimeouts = .init(firstByte: .seconds(60), total: .seconds(120)))
        -> AnthropicProvider
    {
        AnthropicProvider(
            configuration: .init(
                endpoint: ProviderEndpoint(baseURL: baseURL, apiKey: Secret(Self.apiKey), timeouts: timeouts),
                defaultModel: "claude-sonnet-4-6"),
            transport: transport)
    }

    static let request = ChatRequest(messages: [
        ChatMessage(role: .system, content: "You are a concise assistant."),
        ChatMessage(role: .user, content: "Why is the sky blue?"),
        ChatMessage(role: .user, content: "Answer in one sentence."),
    ])

    static let fullText =
        "The sky looks blue because air molecules scatter blue sunlight much more than red light (Rayleigh scattering)."

    /// What `body` throws when run against `fake`. The error is caught inside the run: an error thrown out of
    /// `FakeUpstream.run` cancels the fake server in the middle of its shutdown, and NIO then traps
    /// ("Deinited NIOAsyncWriter without calling finish()").
    func thrownError(_ fake: FakeUpstream, _ body: @Sendable (String) async throws -> Void) async throws -> ProviderError? {
        let error: (any Error)? = try await fake.run { baseURL in
            do {
                try await body(baseURL)
                return nil
            } catch {
                return error
            }
        }
        #expect(error != nil, "expected a ProviderError")
        if let error, !(error is ProviderError) { Issue.record("expected a ProviderError, got \(error)") }
        return error as? ProviderError
    }

    func collect(_ stream: ChatStream) async throws -> (text: String, end: ChatStreamEvent?) {
        var text = ""
        var end: ChatStreamEvent?
        for try await event in stream {
            switch event {
            case .delta(let piece): text += piece
            case .end: end = event
            }
        }
        return (text, end)
    }

    // MARK: Chat

    @Test func chatDecodesTheAnswerAndSendsTheMessagesShape() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_response.json")
        let response = try await fake.run { try await provider($0).chat(Self.request) }

        #expect(response.text == Self.fullText)
        #expect(response.finishReason == .stop)
        #expect(response.usage == TokenUsage(inputTokens: 21, outputTokens: 27))
        #expect(response.provider == "anthropic")
        #expect(response.model == "claude-sonnet-4-6")
        #expect(response.endpoint.hasPrefix("http://127.0.0.1:"))

        let recorded = try #require(fake.requests.first)
        #expect(recorded.method == "POST")
        #expect(recorded.uri == "/v1/messages")
        #expect(recorded.headers["x-api-key"] == Self.apiKey)
        #expect(recorded.headers["anthropic-version"] == "2023-06-01")
        #expect(recorded.headers["content-type"] == "application/json")
        #expect(!recorded.uri.contains("SECRET"))
        let body = try #require(recorded.json)
        #expect(body["model"] as? String == "claude-sonnet-4-6")
        #expect(body["max_tokens"] as? Int == 1024)
        #expect(body["system"] as? String == "You are a concise assistant.")
        #expect(body["temperature"] == nil)
        #expect(body["stop_sequences"] == nil)
        #expect(body["stream"] == nil)
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.count == 1)  // the two user messages are merged; no system role
        #expect(messages.first?["role"] as? String == "user")
        #expect(messages.first?["content"] as? String == "Why is the sky blue?\n\nAnswer in one sentence.")
    }

    @Test func chatSendsTheSettingsTheRequestSets() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_response.json")
        let request = ChatRequest(
            messages: [
                ChatMessage(role: .user, content: "Hi"), ChatMessage(role: .assistant, content: "Hello!"),
                ChatMessage(role: .user, content: "Why is the sky blue?"),
            ],
            model: "claude-haiku-4-5", temperature: 0.2, maximumTokens: 256, stop: ["\n\nHuman:"])
        _ = try await fake.run { try await provider($0).chat(request) }

        let body = try #require(fake.requests.first?.json)
        #expect(body["model"] as? String == "claude-haiku-4-5")
        #expect(body["max_tokens"] as? Int == 256)
        #expect(body["temperature"] as? Double == 0.2)
        #expect(body["stop_sequences"] as? [String] == ["\n\nHuman:"])
        #expect(body["system"] == nil)
        let roles = (body["messages"] as? [[String: Any]])?.compactMap { $0["role"] as? String }
        #expect(roles == ["user", "assistant", "user"])
    }

    @Test func theVersionHeaderIsConfigurable() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_response.json")
        _ = try await fake.run { baseURL in
            var configuration = AnthropicProvider.Configuration(
                endpoint: ProviderEndpoint(baseURL: baseURL + "/", apiKey: Secret(Self.apiKey)), defaultModel: "m")
            configuration.apiVersion = "2026-10-21"
            configuration.defaultMaxTokens = 99
            return try await AnthropicProvider(configuration: configuration, transport: transport).chat(Self.request)
        }
        #expect(fake.requests.first?.headers["anthropic-version"] == "2026-10-21")
        #expect(fake.requests.first?.json?["max_tokens"] as? Int == 99)
    }

    @Test func aRequestWithoutAModelFailsBeforeCallingTheUpstream() async throws {
        let provider = AnthropicProvider(
            configuration: .init(endpoint: ProviderEndpoint(baseURL: "http://127.0.0.1:9")), transport: transport)
        let error = await #expect(throws: ProviderError.self) { try await provider.chat(Self.request) }
        #expect(error?.code == .invalidRequest)
    }

    @Test func anthropicOffersNoEmbeddings() {
        let provider = AnthropicProvider(
            configuration: .init(endpoint: ProviderEndpoint(baseURL: "http://127.0.0.1:9")), transport: transport)
        #expect(provider.capabilities == ProviderCapabilities(chat: true, streaming: true, embeddings: false, isLocal: false))
        #expect(!((provider as Any) is any EmbeddingsAPI))
    }

    // MARK: Streaming

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(3), .pieces(7)])
    func streamYieldsTheWholeTextThenTheEnd(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_stream.sse")
        fake.configure { $0.delivery = delivery }
        let (text, end) = try await fake.run { try await collect(try await provider($0).streamChat(Self.request)) }

        #expect(text == Self.fullText)
        #expect(end == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 21, outputTokens: 27)))
        let body = try #require(fake.requests.first?.json)
        #expect(body["stream"] as? Bool == true)
        #expect(body["max_tokens"] as? Int == 1024)
    }

    /// Delivered whole, the text and the error arrive in one chunk: the text still comes first.
    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(7)])
    func anErrorEventInTheStreamFailsItAsOverloaded(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_stream_error.sse")
        fake.configure { $0.delivery = delivery }
        let (text, error) = try await fake.run { baseURL -> (String, ProviderError?) in
            var text = ""
            do {
                for try await event in try await provider(baseURL).streamChat(Self.request) {
                    if case .delta(let piece) = event { text += piece }
                }
                return (text, nil)
            } catch let error as ProviderError {
                return (text, error)
            }
        }
        #expect(text == "The sky")
        #expect(error?.code == .overloaded)
        #expect(error?.isRetryable == true)
    }

    @Test func aCutStreamFails() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_stream.sse")
        let size = try FakeUpstream.fixtureData("anthropic", "messages_stream.sse").count
        fake.configure {
            $0.cutAfterBytes = size / 2
            $0.delivery = .pieces(64)
        }
        let error = try await thrownError(fake) { _ = try await collect(try await provider($0).streamChat(Self.request)) }
        // The upstream was reached and streaming: a cut is a truncated answer, not an unreachable provider.
        #expect(error?.code == .malformedResponse)
    }

    @Test func anErrorStatusIsThrownBeforeTheStreamStarts() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("error_429_rate_limit.json")
        let error = try await thrownError(fake) { _ = try await provider($0).streamChat(Self.request) }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == .seconds(12))
    }

    @Test func decoderSkipsPingsAndUnknownEventsAnywhere() throws {
        var decoder = AnthropicStreamDecoder(provider: "anthropic")
        let text = """
            event: ping\ndata: {"type":"ping"}\n\n\
            event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}\n\n\
            event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking"}}\n\n\
            event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}\n\n\
            event: something_new\ndata: not json at all\n\n\
            event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}\n\n\
            event: ping\ndata: {"type":"ping"}\n\n\
            event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}\n\n\
            event: message_stop\ndata: {"type":"message_stop"}
            """
        var events = try decoder.feed(ByteBuffer(string: text))
        events += try decoder.finish()
        #expect(events == [.delta("Hi"), .end(finishReason: .length, usage: TokenUsage(inputTokens: 5, outputTokens: 9))])
    }

    // MARK: Errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var file: String
        var code: ProviderError.Code
        var status: Int
        var testDescription: String { file }
    }

    static let errorCases = [
        ErrorCase(file: "error_400_invalid_request.json", code: .invalidRequest, status: 400),
        ErrorCase(file: "error_400_missing_version.json", code: .invalidRequest, status: 400),
        ErrorCase(file: "error_401_authentication.json", code: .unauthorized, status: 401),
        ErrorCase(file: "error_404_model.json", code: .modelNotFound, status: 404),
        ErrorCase(file: "error_429_rate_limit.json", code: .rateLimited, status: 429),
        ErrorCase(file: "error_500_api_error.json", code: .upstreamServerError, status: 500),
        ErrorCase(file: "error_529_overloaded.json", code: .overloaded, status: 529),
    ]

    @Test(arguments: errorCases)
    func errorBodiesMapToProviderErrors(_ errorCase: ErrorCase) async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve(errorCase.file)
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.code == errorCase.code)
        #expect(error?.status == errorCase.status)
        #expect(error?.provider == "anthropic")
        // The message says what to do, names the bounded error type, and never echoes the upstream text.
        let message = error?.message ?? ""
        #expect(message.contains("'anthropic'"))
        #expect(message.contains(String(errorCase.status)))
        for upstreamText in ["Field required", "invalid x-api-key", "claude-9-opus", "rate limit for your organization",
            "Internal server error", "Overloaded"]
        {
            #expect(!message.contains(upstreamText))
        }
    }

    @Test func theUnauthorizedMessageSaysWhichKeyToCheck() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("error_401_authentication.json")
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.message.contains("401 authentication_error") == true)
        #expect(error?.message.contains("ANTHROPIC_API_KEY") == true)
    }

    /// The fixture's own `retry-after: 12`, then values the fake sends instead.
    static let retryAfterCases: [(header: String?, expected: Duration)] = [
        (nil, .seconds(12)), ("7", .seconds(7)), ("0.5", .milliseconds(500)),
    ]

    @Test(arguments: retryAfterCases)
    func rateLimitsCarryTheRetryAfterHeader(header: String?, expected: Duration) async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("error_429_rate_limit.json")
        if let header { fake.configure { $0.extraHeaders = ["retry-after": header] } }
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == expected)
    }

    @Test func promptTooLongIsAContextLengthError() {
        // No fixture has this body, so the mapping is checked directly.
        let error = AnthropicWire.error(
            type: "invalid_request_error", upstreamMessage: "prompt is too long: 208310 tokens > 200000 maximum",
            status: 400, retryAfter: nil, provider: "anthropic", model: "claude-sonnet-4-6")
        #expect(error.code == .contextLengthExceeded)
        #expect(error.status == 400)
        #expect(!error.message.contains("208310"))
    }

    @Test func aSlowFirstByteIsATimeout() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("messages_response.json")
        fake.configure { $0.firstByteDelay = .seconds(2) }
        let error = try await thrownError(fake) { baseURL in
            _ = try await provider(baseURL, timeouts: .init(firstByte: .milliseconds(300))).chat(Self.request)
        }
        #expect(error?.code == .timeout)
    }

    @Test func noErrorRevealsTheAPIKey() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        var errors: [ProviderError] = []
        for errorCase in Self.errorCases {
            fake.serve(errorCase.file)
            errors.append(contentsOf: [
                try await thrownError(fake) { _ = try await provider($0).chat(Self.request) },
                try await thrownError(fake) { _ = try await provider($0).streamChat(Self.request) },
            ].compactMap { $0 })
        }
        fake.serve("messages_stream_error.sse")
        if let error = try await thrownError(fake, { _ = try await collect(try await provider($0).streamChat(Self.request)) }) {
            errors.append(error)
        }
        #expect(errors.count == Self.errorCases.count * 2 + 1)
        for error in errors {
            for text in [error.message, error.description, String(describing: error), String(reflecting: error)] {
                #expect(!text.contains(Self.apiKey))
                #expect(!text.contains("SECRET"))
            }
        }
    }

    // MARK: Models

    @Test func listModelsReadsTheModelList() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("models_response.json")
        let models = try await fake.run { try await provider($0).listModels() }
        #expect(models.map(\.id) == ["claude-sonnet-4-6", "claude-haiku-4-5-20251001"])
        #expect(fake.requests.count == 1)  // has_more is false
        let recorded = try #require(fake.requests.first)
        #expect(recorded.method == "GET")
        #expect(recorded.uri.hasPrefix("/v1/models?"))
        #expect(recorded.headers["x-api-key"] == Self.apiKey)
        #expect(recorded.headers["anthropic-version"] == "2023-06-01")
    }

    @Test func checkHealthListsOneModel() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        fake.serve("models_response.json")
        try await fake.run { try await provider($0).checkHealth() }
        #expect(fake.requests.first?.uri == "/v1/models?limit=1")
    }

    @Test func aNotFoundWithoutAnErrorBodyPointsAtTheBaseURL() async throws {
        let fake = try FakeUpstream(provider: "anthropic")
        // The fixture answers POST /v1/messages, so the fake answers the health check's GET with a plain-text 404,
        // as a wrong base URL would.
        fake.serve("error_401_authentication.json")
        let error = try await thrownError(fake) { try await provider($0).checkHealth() }
        #expect(error?.code == .modelNotFound)
        #expect(error?.status == 404)
        #expect(error?.message.contains("base URL") == true)
    }

    @Test func stopReasonsMapToFinishReasons() {
        #expect(AnthropicWire.finishReason("end_turn") == .stop)
        #expect(AnthropicWire.finishReason("stop_sequence") == .stop)
        #expect(AnthropicWire.finishReason("max_tokens") == .length)
        #expect(AnthropicWire.finishReason("model_context_window_exceeded") == .length)
        #expect(AnthropicWire.finishReason("refusal") == .contentFilter)
        #expect(AnthropicWire.finishReason("tool_use") == .toolCalls)
    }
}
