import Foundation
import NIOCore
import Testing

@testable import Providers

@Suite struct GeminiProviderTests {
    static let apiKey = "AIza-SECRET-1234"

    let transport = ProviderTransport(connectTimeout: .seconds(10))

    func provider(
        _ baseURL: String, model: String = "gemini-2.5-flash",
        timeouts: ProviderTimeouts = .init(firstByte: .seconds(60), total: .seconds(120)),
        change: (inout GeminiProvider.Configuration) -> Void = { _ in }
    ) -> GeminiProvider {
        var configuration = GeminiProvider.Configuration(
            endpoint: ProviderEndpoint(baseURL: baseURL, apiKey: Secret(Self.apiKey), timeouts: timeouts),
            defaultModel: model)
        change(&configuration)
        return GeminiProvider(configuration: configuration, transport: transport)
    }

    static let request = ChatRequest(messages: [
        ChatMessage(role: .system, content: "You are a concise assistant."),
        ChatMessage(role: .user, content: "Hi"),
        ChatMessage(role: .assistant, content: "Hello! How can I help?"),
        ChatMessage(role: .user, content: "Why is the sky blue? Answer in one sentence."),
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

    func expectNoKey(in uri: String) {
        #expect(!uri.contains("SECRET"))
        #expect(!uri.contains("key="))
    }

    // MARK: Chat

    @Test func chatDecodesTheAnswerAndSendsTheGeminiShape() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("generate_content_response.json")
        let response = try await fake.run { try await provider($0).chat(Self.request) }

        #expect(response.text == Self.fullText)
        #expect(response.finishReason == .stop)
        #expect(response.usage == TokenUsage(inputTokens: 18, outputTokens: 24))
        #expect(response.provider == "google")
        #expect(response.model == "gemini-2.5-flash")
        #expect(response.endpoint.hasPrefix("http://127.0.0.1:"))

        let recorded = try #require(fake.requests.first)
        #expect(recorded.method == "POST")
        #expect(recorded.uri == "/v1beta/models/gemini-2.5-flash:generateContent")
        #expect(recorded.headers["x-goog-api-key"] == Self.apiKey)
        expectNoKey(in: recorded.uri)
        let body = try #require(recorded.json)
        let system = body["systemInstruction"] as? [String: Any]
        #expect((system?["parts"] as? [[String: Any]])?.first?["text"] as? String == "You are a concise assistant.")
        let contents = try #require(body["contents"] as? [[String: Any]])
        #expect(contents.compactMap { $0["role"] as? String } == ["user", "model", "user"])
        #expect((contents[1]["parts"] as? [[String: Any]])?.first?["text"] as? String == "Hello! How can I help?")
        #expect(body["generationConfig"] == nil)  // nothing set, nothing sent
    }

    @Test func chatSendsOnlyTheSettingsTheRequestSets() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("generate_content_response.json")
        let request = ChatRequest(
            messages: Self.request.messages + [ChatMessage(role: .user, content: "Briefly.")], temperature: 0.2,
            stop: ["\n\n"])
        _ = try await fake.run { try await provider($0).chat(request) }

        let body = try #require(fake.requests.first?.json)
        let configuration = try #require(body["generationConfig"] as? [String: Any])
        #expect(configuration["temperature"] as? Double == 0.2)
        #expect(configuration["stopSequences"] as? [String] == ["\n\n"])
        #expect(configuration["maxOutputTokens"] == nil)
        let contents = try #require(body["contents"] as? [[String: Any]])
        #expect(contents.count == 3)  // the two last user messages are one turn of two parts
        #expect((contents[2]["parts"] as? [[String: Any]])?.count == 2)
    }

    @Test func aBlockedPromptIsContentFiltered() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("generate_content_blocked.json")
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.code == .contentFiltered)
        #expect(error?.message.contains("SAFETY") == true)
    }

    @Test func theAPIVersionIsConfigurable() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("generate_content_response.json")
        // The fixture answers /v1beta/…, so the fake answers /v1/… with a 404.
        let error = try await thrownError(fake) { baseURL in
            _ = try await provider(baseURL) { $0.apiVersion = "v1" }.chat(Self.request)
        }
        #expect(error?.code == .modelNotFound)
        #expect(fake.requests.first?.uri == "/v1/models/gemini-2.5-flash:generateContent")
    }

    @Test func finishReasonsMapToFinishReasons() {
        #expect(GeminiWire.finishReason("STOP") == .stop)
        #expect(GeminiWire.finishReason("MAX_TOKENS") == .length)
        for reason in ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"] {
            #expect(GeminiWire.finishReason(reason) == .contentFilter)
        }
        #expect(GeminiWire.finishReason("OTHER") == .stop)
    }

    // MARK: Streaming

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(3), .pieces(7)])
    func streamYieldsTheWholeTextThenTheEnd(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("stream_generate_content.sse")
        fake.configure { $0.delivery = delivery }
        let (text, end) = try await fake.run { try await collect(try await provider($0).streamChat(Self.request)) }

        #expect(text == Self.fullText)
        #expect(end == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 18, outputTokens: 24)))
        let recorded = try #require(fake.requests.first)
        #expect(recorded.uri == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        #expect(recorded.headers["x-goog-api-key"] == Self.apiKey)
        expectNoKey(in: recorded.uri)
    }

    /// The fixture uses CRLF framing; the fake serves files unchanged, so LF (and CR) framing is fed to the
    /// decoder directly, in awkward splits.
    @Test(arguments: ["\n", "\r", "\r\n"], [1, 3, 7, 1 << 20])
    func decoderReadsAnyLineEndingInAnySplit(lineEnding: String, pieceSize: Int) throws {
        let fixture = String(decoding: try FakeUpstream.fixtureData("gemini", "stream_generate_content.sse"), as: UTF8.self)
        let bytes = Array(fixture.replacingOccurrences(of: "\r\n", with: lineEnding).utf8)
        var decoder = GeminiStreamDecoder(provider: "google")
        var events: [ChatStreamEvent] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + pieceSize, bytes.count)
            let chunk = try decoder.feed(ByteBuffer(bytes: bytes[offset..<end]))
            #expect(!chunk.contains { if case .end = $0 { true } else { false } })  // the end comes with the body's end
            events += chunk
            offset = end
        }
        events += try decoder.finish()

        let text = events.compactMap { if case .delta(let piece) = $0 { piece } else { nil } }.joined()
        #expect(text == Self.fullText)
        #expect(events.last == .end(finishReason: .stop, usage: TokenUsage(inputTokens: 18, outputTokens: 24)))
    }

    @Test func decoderReadsALastEventWithoutItsBlankLine() throws {
        var decoder = GeminiStreamDecoder(provider: "google")
        let text = #"data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"MAX_TOKENS"}]}"#
        var events = try decoder.feed(ByteBuffer(string: text))
        events += try decoder.finish()
        #expect(events == [.delta("Hi"), .end(finishReason: .length, usage: nil)])
    }

    @Test func decoderEmitsNoEndWithoutAFinishReason() throws {
        let fixture = String(decoding: try FakeUpstream.fixtureData("gemini", "stream_generate_content.sse"), as: UTF8.self)
        let events = fixture.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        var decoder = GeminiStreamDecoder(provider: "google")
        var decoded = try decoder.feed(ByteBuffer(string: events.dropLast().joined(separator: "\r\n\r\n") + "\r\n\r\n"))
        decoded += try decoder.finish()
        #expect(decoded.count == events.count - 1)
        #expect(decoded.allSatisfy { if case .delta = $0 { true } else { false } })
    }

    @Test func decoderThrowsOnABlockedChunk() throws {
        let blocked = String(decoding: try FakeUpstream.fixtureData("gemini", "generate_content_blocked.json"), as: UTF8.self)
        let event = "data: " + blocked.replacingOccurrences(of: "\n", with: "") + "\r\n\r\n"
        var decoder = GeminiStreamDecoder(provider: "google")
        let error = #expect(throws: ProviderError.self) { _ = try decoder.feed(ByteBuffer(string: event)) }
        #expect(error?.code == .contentFiltered)
    }

    @Test func decoderThrowsOnAnErrorInTheStream() throws {
        let event = #"data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"# + "\n\n"
        var decoder = GeminiStreamDecoder(provider: "google")
        let error = #expect(throws: ProviderError.self) { _ = try decoder.feed(ByteBuffer(string: event)) }
        #expect(error?.code == .overloaded)
        #expect(error?.status == 503)
    }

    @Test func aCutStreamFails() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("stream_generate_content.sse")
        let size = try FakeUpstream.fixtureData("gemini", "stream_generate_content.sse").count
        fake.configure {
            $0.cutAfterBytes = size / 2
            $0.delivery = .pieces(64)
        }
        let error = try await thrownError(fake) { _ = try await collect(try await provider($0).streamChat(Self.request)) }
        // The upstream was reached and streaming: a cut is a truncated answer, not an unreachable provider.
        #expect(error?.code == .malformedResponse)
    }

    // MARK: Errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var file: String
        var model: String = "gemini-2.5-flash"
        var code: ProviderError.Code
        var status: Int
        var testDescription: String { file }
    }

    static let errorCases = [
        ErrorCase(file: "error_400_api_key_invalid.json", code: .unauthorized, status: 400),
        ErrorCase(file: "error_403_missing_key.json", code: .unauthorized, status: 403),
        ErrorCase(file: "error_404_model_not_found.json", model: "gemini-9.0-ultra", code: .modelNotFound, status: 404),
        ErrorCase(file: "error_429_resource_exhausted.json", code: .rateLimited, status: 429),
        ErrorCase(file: "error_500_internal.json", code: .upstreamServerError, status: 500),
        ErrorCase(file: "error_503_unavailable.json", code: .overloaded, status: 503),
    ]

    @Test(arguments: errorCases)
    func errorBodiesMapToProviderErrors(_ errorCase: ErrorCase) async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve(errorCase.file)
        let error = try await thrownError(fake) { _ = try await provider($0, model: errorCase.model).chat(Self.request) }
        #expect(error?.code == errorCase.code)
        #expect(error?.status == errorCase.status)
        #expect(error?.provider == "google")
        let message = error?.message ?? ""
        #expect(message.contains("'google'"))
        #expect(message.contains(String(errorCase.status)))
        for upstreamText in ["API key not valid", "unregistered callers", "is not found for API version",
            "exceeded your current quota", "internal error has occurred", "Please try again later"]
        {
            #expect(!message.contains(upstreamText))
        }
    }

    @Test func aBadKeyIsUnauthorizedEvenAs400() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("error_400_api_key_invalid.json")
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("400 INVALID_ARGUMENT") == true)
        #expect(error?.message.contains("GEMINI_API_KEY") == true)
    }

    @Test func rateLimitsCarryTheRetryInfoDelay() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("error_429_resource_exhausted.json")
        let error = try await thrownError(fake) { _ = try await provider($0).chat(Self.request) }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == .seconds(15))
        #expect(error?.isRetryable == true)
    }

    @Test func otherBadRequestsAreInvalidOrTooLong() {
        let tooLong = GeminiWire.error(
            GeminiWire.ErrorBody(
                code: 400, message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                status: "INVALID_ARGUMENT"),
            status: 400, provider: "google", model: "gemini-2.5-flash")
        #expect(tooLong.code == .contextLengthExceeded)
        #expect(!tooLong.message.contains("1200000"))

        let invalid = GeminiWire.error(
            GeminiWire.ErrorBody(
                code: 400, message: "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
                status: "INVALID_ARGUMENT"),
            status: 400, provider: "google", model: "gemini-2.5-flash")
        #expect(invalid.code == .invalidRequest)
        #expect(invalid.message.contains("INVALID_ARGUMENT"))
    }

    @Test func aQuota429WithoutARetryDelayIsQuotaExceeded() {
        let error = GeminiWire.error(
            GeminiWire.ErrorBody(code: 429, message: "Quota exceeded.", status: "RESOURCE_EXHAUSTED"),
            status: 429, provider: "google", model: "gemini-2.5-flash")
        #expect(error.code == .quotaExceeded)
        #expect(error.retryAfter == nil)
    }

    @Test func anUnboundedStatusNameIsLeftOut() {
        let error = GeminiWire.error(
            GeminiWire.ErrorBody(code: 500, message: "x", status: "key AIza-SECRET-1234"),
            status: 500, provider: "google", model: nil)
        #expect(!error.message.contains("SECRET"))
        #expect(error.code == .upstreamServerError)
    }

    @Test func aSlowFirstByteIsATimeout() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("generate_content_response.json")
        fake.configure { $0.firstByteDelay = .seconds(2) }
        let error = try await thrownError(fake) { baseURL in
            _ = try await provider(baseURL, timeouts: .init(firstByte: .milliseconds(300))).chat(Self.request)
        }
        #expect(error?.code == .timeout)
    }

    @Test func noErrorRevealsTheAPIKey() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        var errors: [ProviderError] = []
        let blocked = ErrorCase(file: "generate_content_blocked.json", code: .contentFiltered, status: 200)
        for errorCase in Self.errorCases + [blocked] {
            fake.serve(errorCase.file)
            errors.append(contentsOf: [
                try await thrownError(fake) { _ = try await provider($0, model: errorCase.model).chat(Self.request) },
                try await thrownError(fake) { _ = try await provider($0, model: errorCase.model).streamChat(Self.request) },
            ].compactMap { $0 })
        }
        #expect(errors.count == (Self.errorCases.count + 1) * 2)
        for error in errors {
            for text in [error.message, error.description, String(describing: error), String(reflecting: error)] {
                #expect(!text.contains(Self.apiKey))
                #expect(!text.contains("SECRET"))
            }
        }
        for request in fake.requests { expectNoKey(in: request.uri) }
    }

    // MARK: Embeddings

    @Test func batchEmbeddingsReturnOneVectorPerText() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("batch_embed_contents_response.json")
        let texts = ["Why is the sky blue?", "Why is the grass green?"]
        let vectors = try await fake.run { try await provider($0).embed(texts, model: "gemini-embedding-001") }

        #expect(vectors.count == 2)
        #expect(vectors.allSatisfy { $0.count == 8 })
        #expect(vectors[0].first == 0.010071029)
        #expect(vectors[1].last == -0.051705178)

        let recorded = try #require(fake.requests.first)
        #expect(recorded.uri == "/v1beta/models/gemini-embedding-001:batchEmbedContents")
        #expect(recorded.headers["x-goog-api-key"] == Self.apiKey)
        let requests = try #require(recorded.json?["requests"] as? [[String: Any]])
        #expect(requests.compactMap { $0["model"] as? String } == Array(repeating: "models/gemini-embedding-001", count: 2))
        let sent = requests.compactMap {
            (($0["content"] as? [String: Any])?["parts"] as? [[String: Any]])?.first?["text"] as? String
        }
        #expect(sent == texts)
    }

    @Test func aBoundEmbedderUsesTheBatchEndpoint() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("batch_embed_contents_response.json")
        let vectors = try await fake.run { baseURL in
            let embedder = BoundEmbedder(api: provider(baseURL), model: "models/gemini-embedding-001", dimensions: 8)
            #expect(embedder.model.name == "google/models/gemini-embedding-001")
            #expect(embedder.maximumBatchSize == 100)
            return try await embedder.embed(["a", "b"])
        }
        #expect(vectors.count == 2)
        #expect(fake.requests.first?.uri == "/v1beta/models/gemini-embedding-001:batchEmbedContents")
    }

    @Test func aVectorCountThatDoesNotMatchIsMalformed() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("batch_embed_contents_response.json")  // always two vectors
        let error = try await thrownError(fake) { baseURL in
            _ = try await provider(baseURL) { $0.embeddingBatchLimit = 1 }
                .embed(["a", "b"], model: "gemini-embedding-001")
        }
        #expect(error?.code == .malformedResponse)
    }

    @Test func geminiOffersEmbeddings() {
        let provider = provider("http://127.0.0.1:9")
        #expect(provider.capabilities == ProviderCapabilities(chat: true, streaming: true, embeddings: true, isLocal: false))
        #expect(provider.embeddingBatchLimit == 100)
    }

    // MARK: Models

    /// The fixture's page has a `nextPageToken`, and the fake serves the same page again for it: the pager follows
    /// the token once, sees it repeat, stops, and lists each model once.
    @Test func listModelsFollowsPagesAndStopsOnARepeatedToken() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("models_response.json")
        let models = try await fake.run { try await provider($0).listModels() }

        #expect(models == [
            ModelInfo(id: "gemini-2.5-flash", contextWindow: 1_048_576),
            ModelInfo(id: "gemini-embedding-001", contextWindow: 2048),
        ])
        let uris = fake.requests.map(\.uri)
        #expect(uris.count == 2)
        #expect(uris.first == "/v1beta/models?pageSize=1000")
        #expect(uris.last == "/v1beta/models?pageSize=1000&pageToken=Ch5tb2RlbHMvZ2VtaW5pLWVtYmVkZGluZy0wMDE%3D")
        #expect(fake.requests.allSatisfy { $0.method == "GET" && $0.headers["x-goog-api-key"] == Self.apiKey })
        for uri in uris { expectNoKey(in: uri) }
    }

    @Test func listModelsReadsAtMostTheConfiguredPages() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("models_response.json")
        _ = try await fake.run { try await provider($0) { $0.maximumModelPages = 1 }.listModels() }
        #expect(fake.requests.count == 1)
    }

    @Test func checkHealthListsOneModel() async throws {
        let fake = try FakeUpstream(provider: "gemini")
        fake.serve("models_response.json")
        try await fake.run { try await provider($0).checkHealth() }
        #expect(fake.requests.map(\.uri) == ["/v1beta/models?pageSize=1"])
    }
}
