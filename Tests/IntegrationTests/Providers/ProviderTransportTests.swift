import Foundation
import Providers
import Testing

@Suite struct ProviderTransportTests {
    func readEvents(_ transport: ProviderTransport, _ baseURL: String) async throws -> [ServerSentEvent] {
        let response = try await transport.send(
            method: "POST", url: baseURL + "/v1/chat/completions", headers: [], body: Data("{}".utf8),
            timeouts: .init(firstByte: .seconds(60), total: .seconds(120)), provider: "openai")
        let body = try await transport.collect(response, provider: "openai")
        var parser = ServerSentEventParser()
        var events = parser.feed(body)
        if let last = parser.finish() { events.append(last) }
        return events
    }

    @Test(arguments: [FakeUpstream.Delivery.whole, .pieces(1), .pieces(7), .pieces(64)])
    func streamsSurviveAnySplit(delivery: FakeUpstream.Delivery) async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_stream.sse")
        fake.configure { $0.delivery = delivery }
        let transport = ProviderTransport()
        let events = try await fake.run { try await readEvents(transport, $0) }
        #expect(events.last?.data == "[DONE]")
        #expect(events.count == String(decoding: try FakeUpstream.fixtureData("openai", "chat_completions_stream.sse"), as: UTF8.self)
            .components(separatedBy: "\n\n").filter { !$0.isEmpty }.count)
    }

    @Test func aSlowFirstByteIsATimeout() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        fake.configure { $0.firstByteDelay = .seconds(3) }
        let transport = ProviderTransport()
        let error = await #expect(throws: ProviderError.self) {
            try await fake.run { baseURL in
                _ = try await transport.send(
                    method: "POST", url: baseURL + "/v1/chat/completions", headers: [], body: Data("{}".utf8),
                    timeouts: .init(firstByte: .milliseconds(300)), provider: "openai")
            }
        }
        #expect(error?.code == .timeout)
    }

    @Test func anUnreachableUpstreamIsAConnectionFailure() async throws {
        let transport = ProviderTransport(connectTimeout: .seconds(10))
        let error = await #expect(throws: ProviderError.self) {
            _ = try await transport.send(
                method: "GET", url: "http://127.0.0.1:9/v1/models", headers: [], body: nil, timeouts: .init(),
                provider: "openai")
        }
        #expect(error?.code == .connectionFailed)
    }
}

@Suite struct ProviderCancellationTests {
    /// A caller that goes away (an HTTP client disconnecting cancels its handler's task) cancels the upstream call
    /// instead of leaving it running until its timeout.
    @Test func cancellingTheCallerCancelsTheUpstreamRequest() async throws {
        let fake = try FakeUpstream(provider: "openai")
        fake.serve("chat_completions_response.json")
        fake.configure { $0.firstByteDelay = .seconds(5) }  // without cancellation the call would answer then
        let outcome = try await fake.run { baseURL in
            let upstream = OpenAIProvider(
                configuration: .init(
                    endpoint: ProviderEndpoint(baseURL: baseURL + "/v1", timeouts: .init(firstByte: .seconds(60))),
                    defaultModel: "gpt-4o-mini"),
                transport: ProviderTransport(connectTimeout: .seconds(10)))
            let call = Task {
                try await upstream.chat(ChatRequest(messages: [.init(role: .user, content: "hi")]))
            }
            // Wait until the upstream has the request, then go away.
            while fake.requests.filter({ $0.uri.hasPrefix("/v1/chat") }).isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            call.cancel()
            do {
                _ = try await call.value
                return "answered"
            } catch let error as ProviderError {
                return error.code.description
            }
        }
        #expect(outcome == ProviderError.Code.cancelled.description)
    }
}
