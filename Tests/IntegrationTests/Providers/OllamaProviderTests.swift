import Foundation
import Providers
import Synchronization
import Testing

@Suite struct OllamaProviderTests {
    static let apiKey = "sk-test-SECRET-1234"
    static let expectedText =
        "The sky looks blue because air molecules scatter blue sunlight much more than red light (Rayleigh scattering)."

    let transport = ProviderTransport(connectTimeout: .seconds(10))

    func provider(
        _ baseURL: String, apiKey: String? = nil, keepAlive: String? = nil, defaultModel: String? = nil,
        timeouts: ProviderTimeouts = .init(firstByte: .seconds(60), total: .seconds(120))
    ) -> OllamaProvider {
        var configuration = OllamaProvider.Configuration(
            endpoint: ProviderEndpoint(baseURL: baseURL, apiKey: apiKey.map(Secret.init), timeouts: timeouts),
            defaultModel: defaultModel)
        configuration.keepAlive = keepAlive
        return OllamaProvider(configuration: configuration, transport: transport)
    }

    /// The request of `chat_request.json`.
    static let fixtureRequest = ChatRequest(
        messages: [
            ChatMessage(role: .system, content: "You are a concise assistant."),
            ChatMessage(role: .user, content: "Why is the sky blue? Answer in one sentence."),
        ],
        model: "llama3.2", temperature: 0.2, maximumTokens: 128)

    static let plainRequest = ChatRequest(
        messages: [ChatMessage(role: .user, content: "Why is the sky blue? Answer in one sentence.")], model: "llama3.2"
    )

    @Test func chatDecodesTheAnswerAndSendsTheRecordedRequest() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        let (response, baseURL) = try await fake.run { baseURL in
            (try await provider(baseURL, keepAlive: "5m").chat(Self.fixtureRequest), baseURL)
        }
        #expect(response.text == Self.expectedText)
        #expect(response.usage == TokenUsage(inputTokens: 32, outputTokens: 24))
        #expect(response.finishReason == .stop)
        #expect(response.model == "llama3.2")
        #expect(response.provider == "ollama")
        #expect(response.endpoint == baseURL)

        let request = try #require(fake.requests.first)
        #expect(request.method == "POST")
        #expect(request.uri == "/api/chat")
        #expect(request.headers["authorization"] == nil)
        #expect(
            try canonicalJSON(request.body) == canonicalJSON(FakeUpstream.fixtureData("ollama", "chat_request.json")))
    }

    @Test func streamFalseIsExplicitAndUnsetFieldsAreLeftOut() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        _ = try await fake.run { try await provider($0).chat(Self.plainRequest) }
        let json = try #require(fake.requests.first?.json)
        #expect(json["stream"] as? Bool == false)
        #expect(json["keep_alive"] == nil)
        #expect(json["options"] == nil)
    }

    @Test func aKeyIsSentAsABearerToken() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        _ = try await fake.run { try await provider($0, apiKey: Self.apiKey).chat(Self.plainRequest) }
        #expect(fake.requests.first?.headers["authorization"] == "Bearer \(Self.apiKey)")
    }

    @Test(arguments: [("5m", "\"5m\""), ("300", "300"), ("-1", "-1"), ("0", "0")])
    func keepAliveIsPassedThroughAsConfigured(configured: String, wire: String) async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        _ = try await fake.run { try await provider($0, keepAlive: configured).chat(Self.plainRequest) }
        let body = String(decoding: try #require(fake.requests.first).body, as: UTF8.self)
        #expect(body.contains("\"keep_alive\":\(wire)"))
    }

    @Test func contextLengthAndStopGoIntoOptions() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        var changed = Self.plainRequest
        changed.stop = ["\n\n"]
        let request = changed
        _ = try await fake.run { baseURL in
            var configuration = OllamaProvider.Configuration(endpoint: ProviderEndpoint(baseURL: baseURL))
            configuration.contextLength = 8192
            return try await OllamaProvider(configuration: configuration, transport: transport).chat(request)
        }
        let options = try #require(fake.requests.first?.json?["options"] as? [String: Any])
        #expect(options["num_ctx"] as? Int == 8192)
        #expect(options["stop"] as? [String] == ["\n\n"])
        #expect(options["temperature"] == nil)
        #expect(options["num_predict"] == nil)
    }

    @Test func aRequestWithoutAnyModelUsesTheDefaultOrFails() async throws {
        var changed = Self.plainRequest
        changed.model = nil
        let request = changed
        // Nothing listens on port 9: a call would fail with connectionFailed, not invalidRequest. (No fake here: a
        // fake stopped before its test client's connection is served can trap inside NIO.)
        let error = await #expect(throws: ProviderError.self) { try await provider("http://127.0.0.1:9").chat(request) }
        #expect(error?.code == .invalidRequest)

        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        _ = try await fake.run { try await provider($0, defaultModel: "llama3.2").chat(request) }
        #expect(fake.requests.first?.json?["model"] as? String == "llama3.2")
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(3), .pieces(7)])
    func streamChatYieldsTheSameTextInAnySplit(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_stream.ndjson")
        fake.configure { $0.delivery = delivery }
        let events = try await fake.run { try await collect(provider($0).streamChat(Self.plainRequest)) }
        #expect(text(of: events) == Self.expectedText)
        #expect(events.last == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 32, outputTokens: 24)))
        #expect(events.filter { if case .end = $0 { true } else { false } }.count == 1)
        let request = try #require(fake.requests.first)
        #expect(request.uri == "/api/chat")
        #expect(request.json?["stream"] as? Bool == true)
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(7)])
    func anErrorLineInsideTheStreamFailsTheStream(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("error_mid_stream.ndjson")
        fake.configure { $0.delivery = delivery }
        let received = Received()
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                for try await event in try await provider(baseURL).streamChat(Self.plainRequest) {
                    received.append(event)
                }
            }
        }
        #expect(error?.code == .upstreamServerError)
        #expect(error?.message.contains("unexpected EOF") == false)
        #expect(text(of: received.events) == "The sky looks blue")
    }

    @Test func generateUsesTheGenerateEndpoint() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("generate_response.json")
        let response = try await fake.run { baseURL in
            try await provider(baseURL).generate(
                GenerateRequest(
                    prompt: "Why is the sky blue? Answer in one sentence.", system: "You are a concise assistant.",
                    model: "llama3.2", temperature: 0.2))
        }
        #expect(response.text == Self.expectedText)
        #expect(response.usage == TokenUsage(inputTokens: 32, outputTokens: 24))
        let request = try #require(fake.requests.first)
        #expect(request.uri == "/api/generate")
        #expect(
            try canonicalJSON(request.body)
                == canonicalJSON(FakeUpstream.fixtureData("ollama", "generate_request.json")))
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(7)])
    func streamGenerateReadsTheResponseField(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("generate_stream.ndjson")
        fake.configure { $0.delivery = delivery }
        let events = try await fake.run { baseURL in
            try await collect(provider(baseURL).streamGenerate(GenerateRequest(prompt: "Why?", model: "llama3.2")))
        }
        #expect(text(of: events) == Self.expectedText)
        #expect(events.last == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 32, outputTokens: 24)))
        #expect(fake.requests.first?.json?["stream"] as? Bool == true)
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var file: String
        var code: ProviderError.Code
        var status: Int
        var testDescription: String { "\(file) → \(code)" }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(file: "error_model_not_found.json", code: .modelNotFound, status: 404),
        ErrorCase(file: "error_missing_model.json", code: .invalidRequest, status: 400),
        ErrorCase(file: "error_bad_json.json", code: .invalidRequest, status: 400),
    ]

    @Test(arguments: errorCases)
    func errorResponsesMapToTheirCode(errorCase: ErrorCase) async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve(errorCase.file)
        let (chatError, streamError) = try await fake.run { baseURL in
            let provider = provider(baseURL)
            let chatError = await #expect(throws: ProviderError.self) { try await provider.chat(Self.plainRequest) }
            // Errors before the first byte throw from `streamChat` itself, not from the stream.
            let streamError = await #expect(throws: ProviderError.self) {
                _ = try await provider.streamChat(Self.plainRequest)
            }
            return (chatError, streamError)
        }
        for error in [chatError, streamError] {
            #expect(error?.code == errorCase.code)
            #expect(error?.status == errorCase.status)
            #expect(error?.provider == "ollama")
        }
    }

    @Test func errorsNeverRepeatTheKeyTheURLOrTheUpstreamMessage() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        let (errors, baseURL) = try await fake.run { baseURL in
            let provider = provider(baseURL, apiKey: Self.apiKey)
            var errors: [ProviderError] = []
            for file in Self.errorCases.map(\.file) {
                fake.serve(file)
                do {
                    _ = try await provider.chat(Self.plainRequest)
                    Issue.record("\(file) did not fail the chat")
                } catch let error as ProviderError {
                    errors.append(error)
                }
                do {
                    _ = try await provider.streamChat(Self.plainRequest)
                    Issue.record("\(file) did not fail the stream")
                } catch let error as ProviderError {
                    errors.append(error)
                }
            }
            fake.serve("error_mid_stream.ndjson")
            do {
                for try await _ in try await provider.streamChat(Self.plainRequest) {}
                Issue.record("the error line did not fail the stream")
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
                #expect(!text.contains(baseURL))
                #expect(!text.contains("invalid character"))
                #expect(!text.contains("unexpected EOF"))
            }
        }
    }

    @Test func aSlowFirstByteIsATimeout() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("chat_response.json")
        fake.configure { $0.firstByteDelay = .seconds(2) }
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                _ = try await provider(baseURL, timeouts: .init(firstByte: .milliseconds(300))).chat(Self.plainRequest)
            }
        }
        #expect(error?.code == .timeout)
    }

    @Test func aCutStreamFails() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        let size = try FakeUpstream.fixtureData("ollama", "chat_stream.ndjson").count
        fake.serve("chat_stream.ndjson")
        fake.configure {
            $0.cutAfterBytes = size / 2
            $0.delivery = .pieces(64)
        }
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                for try await _ in try await provider(baseURL).streamChat(Self.plainRequest) {}
            }
        }
        // The upstream was reached and streaming: a cut is a truncated answer, not an unreachable provider.
        #expect(error?.code == .malformedResponse)
    }

    @Test func embedSendsAllTextsAndReturnsVectorsInOrder() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("embed_response.json")
        let vectors = try await fake.run { baseURL in
            try await provider(baseURL).embed(["Why is the sky blue?", "Why is the grass green?"], model: "all-minilm")
        }
        #expect(vectors.count == 2)
        #expect(vectors.allSatisfy { $0.count == 8 })
        #expect(vectors.first?.first == 0.010071029)
        #expect(vectors.last?.last == -0.051705178)
        let request = try #require(fake.requests.first)
        #expect(request.uri == "/api/embed")
        #expect(request.json?["model"] as? String == "all-minilm")
        #expect(request.json?["input"] as? [String] == ["Why is the sky blue?", "Why is the grass green?"])
    }

    @Test func capabilitiesAndLimitsAreDeclared() {
        let provider = provider("http://127.0.0.1:1")
        #expect(provider.name == "ollama")
        #expect(provider.embeddingBatchLimit == 512)
        #expect(
            provider.capabilities == ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: true))
    }

    @Test func modelListsDetailsAndVersion() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        let (models, running, details, version) = try await fake.run { baseURL in
            let provider = provider(baseURL)
            fake.serve("tags_response.json")
            let models = try await provider.listModels()
            fake.serve("ps_response.json")
            let running = try await provider.runningModels()
            fake.serve("show_response.json")
            let details = try await provider.showModel("llama3.2")
            fake.serve("version_response.json")
            let version = try await provider.version()
            try await provider.checkHealth()
            return (models, running, details, version)
        }
        #expect(models.map(\.id) == ["llama3.2:latest", "all-minilm:latest"])
        #expect(models.map(\.ownedBy) == ["llama", "bert"])
        #expect(running == [ModelInfo(id: "llama3.2:latest", ownedBy: "llama", contextWindow: 4096)])
        #expect(details.contextLength == 131072)
        #expect(details.embeddingLength == 3072)
        #expect(details.family == "llama")
        #expect(details.capabilities == ["completion", "tools"])
        #expect(version == "0.12.6")
        #expect(
            fake.requests.map { "\($0.method) \($0.uri)" }
                == ["GET /api/tags", "GET /api/ps", "POST /api/show", "GET /api/version", "GET /api/version"])
        #expect(fake.requests.dropFirst(2).first?.json?["model"] as? String == "llama3.2")
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
