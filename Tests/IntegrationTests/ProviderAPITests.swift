import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Providers
import Routing
import Server
import Storage
import Testing

/// The appliance's provider APIs (`/v1/*`, `/api/ai/*`) in front of fake upstreams that replay the wire fixtures.
@Suite struct ProviderAPITests {
    static let upstreamKey = "sk-test-UPSTREAM-SECRET-42"

    /// Runs `body` against the router, with providers configured from `environment` (base URLs of fakes).
    func withAppliance(
        environment: [String: String], yaml: String? = nil, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let configuration = try yaml.map { try RoutingConfiguration.parse(yaml: $0, environment: environment) } ?? RoutingConfiguration()
        let merged = configuration.mergingEnvironmentProviders(environment)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let dependencies = ApplianceRouter(client: client, configuration: merged).dependencies(ask: appliance.askService)
            let app = buildApplication(configuration: ServerConfiguration(), dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in try await body(client) }
        }
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ json: String) async throws -> TestResponse {
        try await client.execute(
            uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func chatCompletionsAnswerAsOpenAIDoes() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        let fixture = try JSONSerialization.jsonObject(with: FakeUpstream.fixtureData("openai", "chat_completions_response.json")) as! [String: Any]
        let expectedMessage = ((fixture["choices"] as! [[String: Any]])[0]["message"] as! [String: Any])["content"] as! String
        try await fake.run { baseURL in
            try await withAppliance(environment: ["OPENAI_BASE_URL": baseURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey]) { client in
                let response = try await post(
                    client, "/v1/chat/completions",
                    #"{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}"#)
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["object"] as? String == "chat.completion")
                let choice = try #require((body["choices"] as? [[String: Any]])?.first)
                let message = try #require(choice["message"] as? [String: Any])
                #expect(message["content"] as? String == expectedMessage)
                #expect(choice["finish_reason"] as? String == "stop")
                #expect(response.headers[HTTPField.Name("x-unity-route")!]?.hasPrefix("openai/gpt-4o-mini/") == true)
            }
        }
        #expect(fake.requests.first?.headers["authorization"] == "Bearer \(Self.upstreamKey)")
    }

    @Test func chatCompletionStreamsEndWithUsageAndDone() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_stream.sse")
        fake.configure { $0.delivery = .pieces(5) }
        try await fake.run { baseURL in
            try await withAppliance(environment: ["OPENAI_BASE_URL": baseURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey]) { client in
                let response = try await post(
                    client, "/v1/chat/completions",
                    #"{"model": "gpt-4o-mini", "provider": "openai", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}"#
                        .replacingOccurrences(of: #""model": "gpt-4o-mini", "provider": "openai""#, with: #""model": "openai/gpt-4o-mini""#))
                #expect(response.status == .ok)
                let events = String(buffer: response.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                #expect(events.last == "data: [DONE]")
                let chunks = events.dropLast().map { try! JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as! [String: Any] }
                let text = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
                #expect(!text.isEmpty)
                #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true)
                #expect(((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0) > 0)
            }
        }
    }

    @Test func embeddingsComeAsFloatsOrBase64() async throws {
        try await withAppliance(environment: [:]) { client in
            let floats = try json(try await post(client, "/v1/embeddings", #"{"model": "local", "input": ["backups run nightly"]}"#))
            let vector = try #require(((floats["data"] as? [[String: Any]])?.first?["embedding"] as? [Double]))
            #expect(vector.count == 512)
            let encoded = try json(
                try await post(client, "/v1/embeddings", #"{"model": "local", "input": "backups run nightly", "encoding_format": "base64"}"#))
            let base64 = try #require((encoded["data"] as? [[String: Any]])?.first?["embedding"] as? String)
            let bytes = try #require(Data(base64Encoded: base64))
            let decoded = stride(from: 0, to: bytes.count, by: 4).map { offset in
                Float(bitPattern: bytes[offset..<(offset + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
            }
            #expect(decoded == vector.map { Float($0) })
        }
    }

    /// What a new user of the official SDK does first, with providers from the environment only (no routing file):
    /// `client.embeddings.create(model="text-embedding-3-small", input=...)`. A pass-through call needs no configured
    /// dimensions; only storing vectors does.
    @Test func embeddingsPassThroughToOpenAIWithProvidersFromTheEnvironmentOnly() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("embeddings_response.json")
        let fixture = try #require(
            try JSONSerialization.jsonObject(with: FakeUpstream.fixtureData("openai", "embeddings_response.json")) as? [String: Any])
        let expected = try #require((fixture["data"] as? [[String: Any]])?.compactMap { $0["embedding"] as? [Double] })
        try await fake.run { baseURL in
            try await withAppliance(environment: ["OPENAI_BASE_URL": baseURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey]) { client in
                let response = try await post(
                    client, "/v1/embeddings",
                    #"{"model": "text-embedding-3-small", "input": ["Why is the sky blue?", "Why is the grass green?"], "encoding_format": "float"}"#)
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let body = try json(response)
                let vectors = try #require((body["data"] as? [[String: Any]])?.compactMap { $0["embedding"] as? [Double] })
                #expect(vectors.count == 2)
                for (vector, wanted) in zip(vectors, expected) {
                    #expect(vector.count == wanted.count)
                    for (value, expectedValue) in zip(vector, wanted) { #expect(abs(value - expectedValue) < 1e-6) }
                }
                #expect(body["model"] as? String == "text-embedding-3-small")
                // The upstream's count of prompt tokens.
                #expect((body["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 12)
                #expect(response.headers[HTTPField.Name("x-unity-route")!]?.hasPrefix("openai/text-embedding-3-small/") == true)

                // `dimensions` is OpenAI's to honour for text-embedding-3: passed through.
                let shortened = try await post(
                    client, "/v1/embeddings", #"{"model": "text-embedding-3-small", "input": ["sky", "grass"], "dimensions": 8}"#)
                #expect(shortened.status == .ok)
                // A model whose dimension is fixed cannot change it: refused without a call.
                let fixed = try await post(
                    client, "/v1/embeddings", #"{"model": "text-embedding-ada-002", "input": "hi", "dimensions": 256}"#)
                #expect(fixed.status == .badRequest)
                #expect(String(buffer: fixed.body).contains("1536"))
            }
        }
        let requests = fake.requests.filter { $0.uri == "/v1/embeddings" }
        #expect(requests.count == 2)
        #expect(requests.first?.json?["model"] as? String == "text-embedding-3-small")
        #expect(requests.first?.json?["dimensions"] == nil)
        #expect(requests.last?.json?["dimensions"] as? Int == 8)
        #expect(requests.first?.headers["authorization"] == "Bearer \(Self.upstreamKey)")
    }

    /// OpenAI's own bounds: at most 2,048 inputs, none of them empty. A list of 262,000 empty strings once produced a
    /// 550 MB response.
    @Test func embeddingInputsAreBoundedAsOpenAIBoundsThem() async throws {
        try await withAppliance(environment: [:]) { client in
            let many = "[" + Array(repeating: #""x""#, count: 2049).joined(separator: ",") + "]"
            let tooMany = try await post(client, "/v1/embeddings", #"{"model": "local", "input": \#(many)}"#)
            #expect(tooMany.status == .badRequest)
            #expect(String(buffer: tooMany.body).contains("2048"))
            let emptyInList = try await post(client, "/v1/embeddings", #"{"model": "local", "input": ["backups", ""]}"#)
            #expect(emptyInList.status == .badRequest)
            #expect(String(buffer: emptyInList.body).contains("input[1]"))
            let empty = try await post(client, "/v1/embeddings", #"{"model": "local", "input": ""}"#)
            #expect(empty.status == .badRequest)
            let noInputs = try await post(client, "/v1/embeddings", #"{"model": "local", "input": []}"#)
            #expect(noInputs.status == .badRequest)
            let limit = "[" + Array(repeating: #""x""#, count: 2048).joined(separator: ",") + "]"
            let atTheLimit = try await post(
                client, "/v1/embeddings", #"{"model": "local", "input": \#(limit), "encoding_format": "base64"}"#)
            #expect(atTheLimit.status == .ok)
            #expect((try json(atTheLimit)["data"] as? [Any])?.count == 2048)
        }
    }

    /// A stream that the upstream cuts after it began is a truncated answer, not an unreachable provider.
    @Test func aStreamCutMidBodyEndsWithAMalformedResponseError() async throws {
        let fake = try FakeUpstream(provider: "openai")
        let size = try FakeUpstream.fixtureData("openai", "chat_completions_stream.sse").count
        fake.serve("chat_completions_stream.sse")
        fake.configure {
            $0.cutAfterBytes = size / 2
            $0.delivery = .pieces(64)
        }
        try await fake.run { baseURL in
            try await withAppliance(environment: ["OPENAI_BASE_URL": baseURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey]) { client in
                let response = try await post(
                    client, "/v1/chat/completions",
                    #"{"model": "openai/gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#)
                // Where the cut lands against the client's reads decides whether any event got through first: then
                // the stream (status 200) ends with the error event, else the whole answer is the error (502).
                #expect(response.status == .ok || response.status == .badGateway)
                let events = String(buffer: response.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                let last = try #require(events.last)
                #expect(last.contains("upstream_malformed_response"), "\(last)")
                #expect(!last.contains("upstream_unreachable"))
            }
        }
    }

    @Test func upstreamErrorsBecomeClearStatusesWithoutTheKey() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("error_429_rate_limit.json")
        fake.configure { $0.extraHeaders = ["retry-after": "7"] }
        try await fake.run { baseURL in
            try await withAppliance(environment: ["OPENAI_BASE_URL": baseURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey]) { client in
                let limited = try await post(client, "/v1/chat/completions", #"{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}"#)
                #expect(limited.status == .tooManyRequests)
                #expect(limited.headers[.retryAfter] == "7")
                fake.serve("error_401_invalid_api_key.json")
                let unauthorized = try await post(client, "/api/ai/chat", #"{"provider": "openai", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}"#)
                #expect(unauthorized.status == .badGateway)
                let text = String(buffer: unauthorized.body)
                #expect(text.contains("upstream_unauthorized"))
                #expect(!text.contains("SECRET") && !text.contains("sk-fake"))
            }
        }
    }

    @Test func theSeedChatAPIFallsBackOnRetryableFailures() async throws {
        let failing = try FakeUpstream(provider: "openai")
        failing.serve("error_500_server_error.json")
        let anthropic = try FakeUpstream(provider: "anthropic")
        anthropic.serve("messages_response.json")
        try await failing.run { openAIURL in
            try await anthropic.run { anthropicURL in
                let environment = [
                    "OPENAI_BASE_URL": openAIURL + "/v1", "OPENAI_API_KEY": Self.upstreamKey,
                    "ANTHROPIC_BASE_URL": anthropicURL, "ANTHROPIC_API_KEY": Self.upstreamKey,
                ]
                let yaml = "providers:\n  anthropic:\n    endpoints: [{url: '\(anthropicURL)', api_key_env: ANTHROPIC_API_KEY}]\n    default_model: claude-sonnet-4-6\n"
                try await withAppliance(environment: environment, yaml: yaml) { client in
                    let response = try await post(
                        client, "/api/ai/chat",
                        #"{"provider": "openai", "model": "gpt-4o-mini", "fallback": ["anthropic"], "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}]}"#)
                    #expect(response.status == .ok)
                    let body = try json(response)
                    #expect(body["provider"] as? String == "anthropic")
                    #expect(body["fallbacks"] as? [String] == ["openai"])
                    #expect(response.headers[HTTPField.Name("x-unity-fallbacks")!] == "1")
                }
            }
        }
        #expect(anthropic.requests.first?.json?["system"] as? String == "Be brief.")
    }

    @Test func disabledProvidersAndUnknownModelsAreClearErrorsAndLocalStandsIn() async throws {
        try await withAppliance(environment: [:]) { client in
            let disabled = try await post(client, "/api/ai/chat", #"{"provider": "anthropic", "model": "claude-3-haiku-20240307", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(disabled.status == .serviceUnavailable)
            #expect(String(buffer: disabled.body).contains("provider_disabled"))
            let unknown = try await post(client, "/v1/chat/completions", #"{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(unknown.status == .notFound)
            // With no model server configured, the built-in `local` answerer stands in for routed requests.
            let auto = try await post(client, "/api/ai/generate", #"{"provider": "auto", "prompt": "hello"}"#)
            #expect(auto.status == .ok)
            #expect(try json(auto)["provider"] as? String == "local")
            #expect(auto.headers[HTTPField.Name("x-unity-route")!] == "local/extractive/builtin")
        }
    }
}
