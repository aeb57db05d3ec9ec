import Foundation
import Providers
import Synchronization
import Testing

@Suite struct OpenAIProviderTests {
    static let apiKey = "sk-test-SECRET-1234"
    static let expectedText =
        "The sky looks blue because air molecules scatter blue sunlight much more than red light (Rayleigh scattering)."

    let transport = ProviderTransport(connectTimeout: .seconds(10))

    func provider(
        _ baseURL: String, apiKey: String? = OpenAIProviderTests.apiKey, defaultModel: String? = nil,
        timeouts: ProviderTimeouts = .init(firstByte: .seconds(60), total: .seconds(120))
    ) -> OpenAIProvider {
        OpenAIProvider(
            configuration: .init(
                endpoint: ProviderEndpoint(
                    baseURL: baseURL + "/v1", apiKey: apiKey.map(Secret.init), timeouts: timeouts),
                defaultModel: defaultModel),
            transport: transport)
    }

    /// The request of `chat_completions_request.json`.
    static let fixtureRequest = ChatRequest(
        messages: [
            ChatMessage(role: .system, content: "You are a concise assistant."),
            ChatMessage(role: .user, content: "Why is the sky blue? Answer in one sentence."),
        ],
        model: "gpt-4o-mini", temperature: 0.2, maximumTokens: 128)

    /// The request of `chat_completions_stream_request.json`.
    static let fixtureStreamRequest = ChatRequest(
        messages: [ChatMessage(role: .user, content: "Why is the sky blue? Answer in one sentence.")],
        model: "gpt-4o-mini")

    @Test func chatDecodesTheAnswerAndSendsTheRecordedRequest() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        let (response, baseURL) = try await fake.run { baseURL in
            (try await provider(baseURL).chat(Self.fixtureRequest), baseURL)
        }
        #expect(response.text == Self.expectedText)
        #expect(response.usage == TokenUsage(inputTokens: 27, outputTokens: 24))
        #expect(response.finishReason == .stop)
        #expect(response.model == "gpt-4o-mini-2024-07-18")
        #expect(response.provider == "openai")
        #expect(response.endpoint == baseURL + "/v1")

        let request = try #require(fake.requests.first)
        #expect(request.method == "POST")
        #expect(request.uri == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer \(Self.apiKey)")
        #expect(
            try canonicalJSON(request.body)
                == canonicalJSON(FakeUpstream.fixtureData("openai", "chat_completions_request.json")))
    }

    @Test func noAuthorizationHeaderIsSentWithoutAKey() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        _ = try await fake.run { try await provider($0, apiKey: nil).chat(Self.fixtureRequest) }
        let request = try #require(fake.requests.first)
        #expect(request.headers["authorization"] == nil)
    }

    @Test func theDefaultModelStandsInForAMissingOne() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        var changed = Self.fixtureRequest
        changed.model = nil
        let request = changed
        _ = try await fake.run { try await provider($0, defaultModel: "gpt-4o-mini").chat(request) }
        #expect(try #require(fake.requests.first).json?["model"] as? String == "gpt-4o-mini")
    }

    @Test func aRequestWithoutAnyModelFailsWithoutACall() async throws {
        // Nothing listens on port 9: a call would fail with connectionFailed, not invalidRequest. (No fake here: a
        // fake stopped before its test client's connection is served can trap inside NIO.)
        var changed = Self.fixtureRequest
        changed.model = nil
        let request = changed
        let provider = provider("http://127.0.0.1:9")
        let chatError = await #expect(throws: ProviderError.self) { try await provider.chat(request) }
        let streamError = await #expect(throws: ProviderError.self) { try await provider.streamChat(request) }
        #expect(chatError?.code == .invalidRequest)
        #expect(streamError?.code == .invalidRequest)
    }

    @Test func stopSequencesAndMaxCompletionTokensAreSentWhenAsked() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        var changed = Self.fixtureRequest
        changed.stop = ["\n\n"]
        let request = changed
        _ = try await fake.run { baseURL in
            var configuration = OpenAIProvider.Configuration(
                endpoint: ProviderEndpoint(baseURL: baseURL + "/v1", apiKey: Secret(Self.apiKey)))
            configuration.maximumTokensField = .maxCompletionTokens
            return try await OpenAIProvider(configuration: configuration, transport: transport).chat(request)
        }
        let json = try #require(fake.requests.first?.json)
        #expect(json["stop"] as? [String] == ["\n\n"])
        #expect(json["max_completion_tokens"] as? Int == 128)
        #expect(json["max_tokens"] == nil)
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(3), .pieces(7)])
    func streamChatYieldsTheSameTextInAnySplit(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_stream.sse")
        fake.configure { $0.delivery = delivery }
        let events = try await fake.run { try await collect(provider($0).streamChat(Self.fixtureStreamRequest)) }
        #expect(text(of: events) == Self.expectedText)
        #expect(events.last == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 27, outputTokens: 24)))
        #expect(events.filter { if case .end = $0 { true } else { false } }.count == 1)

        let request = try #require(fake.requests.first)
        #expect(request.uri == "/v1/chat/completions")
        #expect(
            try canonicalJSON(request.body)
                == canonicalJSON(FakeUpstream.fixtureData("openai", "chat_completions_stream_request.json")))
        let options = try #require(request.json?["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true)
    }

    @Test func aStreamWithoutUsageEndsWithoutUsage() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_stream_no_usage.sse")
        let events = try await fake.run { try await collect(provider($0).streamChat(Self.fixtureStreamRequest)) }
        #expect(text(of: events) == Self.expectedText)
        #expect(events.last == .end(finishReason: .stop, usage: nil))
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(7)])
    func anErrorInsideTheStreamFailsTheStream(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_stream_error.sse")
        fake.configure { $0.delivery = delivery }
        let received = Received()
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                for try await event in try await provider(baseURL).streamChat(Self.fixtureStreamRequest) {
                    received.append(event)
                }
            }
        }
        #expect(error?.code == .upstreamServerError)
        #expect(text(of: received.events) == "The sky looks blue")
        #expect(error?.message.contains("Sorry") == false)
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var file: String
        var code: ProviderError.Code
        var status: Int
        var testDescription: String { "\(file) → \(code)" }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(file: "error_400_bad_request.json", code: .invalidRequest, status: 400),
        ErrorCase(file: "error_401_invalid_api_key.json", code: .unauthorized, status: 401),
        ErrorCase(file: "error_401_missing_key.json", code: .unauthorized, status: 401),
        ErrorCase(file: "error_404_model_not_found.json", code: .modelNotFound, status: 404),
        ErrorCase(file: "error_429_rate_limit.json", code: .rateLimited, status: 429),
        ErrorCase(file: "error_429_insufficient_quota.json", code: .quotaExceeded, status: 429),
        ErrorCase(file: "error_500_server_error.json", code: .upstreamServerError, status: 500),
        ErrorCase(file: "error_503_overloaded.json", code: .overloaded, status: 503),
    ]

    @Test(arguments: errorCases)
    func errorResponsesMapToTheirCode(errorCase: ErrorCase) async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve(errorCase.file)
        let (chatError, streamError) = try await fake.run { baseURL in
            let provider = provider(baseURL)
            let chatError = await #expect(throws: ProviderError.self) { try await provider.chat(Self.fixtureRequest) }
            // Errors before the first byte throw from `streamChat` itself, not from the stream.
            let streamError = await #expect(throws: ProviderError.self) {
                _ = try await provider.streamChat(Self.fixtureStreamRequest)
            }
            return (chatError, streamError)
        }
        for error in [chatError, streamError] {
            #expect(error?.code == errorCase.code)
            #expect(error?.status == errorCase.status)
            #expect(error?.provider == "openai")
        }
    }

    @Test func aBadRequestNamesTheUpstreamCodeAndParameter() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("error_400_bad_request.json")
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { _ = try await provider($0).chat(Self.fixtureRequest) }
        }
        #expect(error?.code == .invalidRequest)
        #expect(error?.message.contains("invalid_type") == true)
        #expect(error?.message.contains("messages[0].content") == true)
    }

    @Test func aRateLimitCarriesRetryAfter() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("error_429_rate_limit.json")
        fake.configure { $0.extraHeaders = ["retry-after": "2"] }
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { _ = try await provider($0).chat(Self.fixtureRequest) }
        }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == .seconds(2))
        #expect(error?.isRetryable == true)
    }

    @Test func insufficientQuotaIsNotARateLimit() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("error_429_insufficient_quota.json")
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { _ = try await provider($0).chat(Self.fixtureRequest) }
        }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.message.contains("insufficient_quota") == true)
    }

    @Test func aMissingKeyIsReportedAsMissing() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("error_401_missing_key.json")
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { _ = try await provider($0, apiKey: nil).chat(Self.fixtureRequest) }
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("OPENAI_API_KEY") == true)
    }

    @Test func errorsNeverRepeatTheKeyTheURLOrTheUpstreamMessage() async throws {
        let fake = try FakeUpstream(provider: "openai")
        let (errors, baseURL) = try await fake.run { baseURL in
            let provider = provider(baseURL)
            var errors: [ProviderError] = []
            for file in Self.errorCases.map(\.file) {
                fake.serve(file)
                do {
                    _ = try await provider.chat(Self.fixtureRequest)
                    Issue.record("\(file) did not fail the chat")
                } catch let error as ProviderError {
                    errors.append(error)
                }
                do {
                    _ = try await provider.streamChat(Self.fixtureStreamRequest)
                    Issue.record("\(file) did not fail the stream")
                } catch let error as ProviderError {
                    errors.append(error)
                }
            }
            fake.serve("chat_completions_stream_error.sse")
            do {
                for try await _ in try await provider.streamChat(Self.fixtureStreamRequest) {}
                Issue.record("the stream error did not fail the stream")
            } catch let error as ProviderError {
                errors.append(error)
            }
            return (errors, baseURL)
        }
        #expect(errors.count == Self.errorCases.count * 2 + 1)
        for error in errors {
            for text in [error.message, error.description, String(describing: error), String(reflecting: error)] {
                #expect(!text.contains(Self.apiKey))
                #expect(!text.contains("SECRET"))
                #expect(!text.contains("sk-fake"))
                #expect(!text.contains(baseURL))
                #expect(!text.contains("platform.openai.com"))
            }
        }
    }

    @Test func aSlowFirstByteIsATimeout() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        fake.configure { $0.firstByteDelay = .seconds(2) }
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                _ = try await provider(baseURL, timeouts: .init(firstByte: .milliseconds(300))).chat(
                    Self.fixtureRequest)
            }
        }
        #expect(error?.code == .timeout)
    }

    @Test func aCutStreamFails() async throws {
        let fake = try FakeUpstream(provider: "openai")
        let size = try FakeUpstream.fixtureData("openai", "chat_completions_stream.sse").count
        fake.serve("chat_completions_stream.sse")
        fake.configure {
            $0.cutAfterBytes = size / 2
            $0.delivery = .pieces(64)
        }
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                for try await _ in try await provider(baseURL).streamChat(Self.fixtureStreamRequest) {}
            }
        }
        // The upstream was reached and streaming: a cut is a truncated answer, not an unreachable provider.
        #expect(error?.code == .malformedResponse)
    }

    static let fixtureVectors: [[Float]] = [
        [0.010071029, -0.0017594862, 0.05007221, 0.04692972, 0.054916814, 0.008599704, 0.105441414, -0.025878139],
        [-0.0098027075, 0.06042469, 0.025257962, -0.006364387, 0.07272725, 0.017194884, 0.09032035, -0.051705178],
    ]

    @Test(arguments: ["embeddings_response.json", "embeddings_response_base64.json"])
    func embedDecodesFloatAndBase64Vectors(file: String) async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve(file)
        let vectors = try await fake.run { baseURL in
            try await provider(baseURL).embed(
                ["Why is the sky blue?", "Why is the grass green?"], model: "text-embedding-3-small")
        }
        try #require(vectors.count == 2)
        for (vector, expected) in zip(vectors, Self.fixtureVectors) {
            try #require(vector.count == expected.count)
            for (value, wanted) in zip(vector, expected) { #expect(abs(value - wanted) < 1e-6) }
        }
        let request = try #require(fake.requests.first)
        #expect(request.uri == "/v1/embeddings")
        #expect(
            try canonicalJSON(request.body)
                == canonicalJSON(FakeUpstream.fixtureData("openai", "embeddings_request.json")))
    }

    @Test func embeddingCapabilitiesAreDeclared() {
        let provider = OpenAIProvider(
            configuration: .init(endpoint: ProviderEndpoint(baseURL: "http://127.0.0.1:1/v1"), name: "vllm"),
            transport: transport)
        #expect(provider.name == "vllm")
        #expect(provider.embeddingBatchLimit == 2048)
        #expect(
            provider.capabilities == ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: false)
        )
    }

    @Test func listModelsAndHealthUseTheModelList() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("models_response.json")
        let models = try await fake.run { baseURL in
            let provider = provider(baseURL)
            try await provider.checkHealth()
            return try await provider.listModels()
        }
        #expect(models.map(\.id) == ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "text-embedding-3-small"])
        #expect(models.allSatisfy { $0.ownedBy == "system" })
        #expect(fake.requests.map(\.uri) == ["/v1/models", "/v1/models"])
        #expect(fake.requests.allSatisfy { $0.method == "GET" })
    }

    /// Events collected from inside a `@Sendable` closure.
    final class Received: Sendable {
        private let storage = Mutex<[ChatStreamEvent]>([])
        func append(_ event: ChatStreamEvent) { storage.withLock { $0.append(event) } }
        var events: [ChatStreamEvent] { storage.withLock { $0 } }
    }

    /// Every event of a stream.
    func collect(_ stream: ChatStream) async throws -> [ChatStreamEvent] {
        var events: [ChatStreamEvent] = []
        for try await event in stream { events.append(event) }
        return events
    }

    /// The deltas joined.
    func text(of events: [ChatStreamEvent]) -> String {
        events.map { if case .delta(let text) = $0 { text } else { "" } }.joined()
    }

    /// JSON re-serialised with sorted keys, so bodies compare regardless of key order and whitespace.
    func canonicalJSON(_ data: Data) throws -> String {
        let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
