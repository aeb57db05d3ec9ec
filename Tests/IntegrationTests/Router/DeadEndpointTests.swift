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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A port on 127.0.0.1 that nothing listens on (bound, read, closed): connecting to it is refused at once.
func closedLocalPort() throws -> Int {
    #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard descriptor >= 0 else { throw TestSetupError("socket() failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw TestSetupError("bind() failed") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw TestSetupError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One configured provider whose port refuses connections must cost nothing but its own failures: a call to it
/// fails at once (not after the 10 s connect timeout) and counts against its circuit; `/v1/models` and unknown-model
/// 404s answer at once, however often they are asked.
///
/// The bound is generous (8 s for what takes milliseconds; before the fix each call took 10 s) and applies to the
/// fastest of several calls, so that a loaded 2-core machine starving one call of a thread cannot make it flake.
@Suite struct DeadEndpointTests {
    static let bound: Duration = .seconds(8)

    func withDeadProvider(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let port = try closedLocalPort()
        let environment = ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "OPENAI_API_KEY": "sk-test-dead"]
        let configuration = RoutingConfiguration().mergingEnvironmentProviders(environment)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let routed = ApplianceRouter(client: client, configuration: configuration)
            let app = buildApplication(
                configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: appliance.askService),
                logger: TestDatabase.logger)
            try await app.test(.router) { http in try await body(http) }
        }
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ json: String) async throws -> TestResponse {
        try await client.execute(
            uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
    }

    @Test func aRefusedConnectionFailsAtOnce() async throws {
        let port = try closedLocalPort()
        let transport = ProviderTransport(connectTimeout: .seconds(10))
        let clock = ContinuousClock()
        var fastest: Duration = .seconds(3600)
        for _ in 0..<3 {
            let started = clock.now
            let error = await #expect(throws: ProviderError.self) {
                _ = try await transport.send(
                    method: "GET", url: "http://127.0.0.1:\(port)/v1/models", headers: [], body: nil, timeouts: .init(),
                    provider: "openai")
            }
            fastest = min(fastest, clock.now - started)
            #expect(error?.code == .connectionFailed)
            #expect(error?.isRetryable == true)
            #expect(error?.message.contains("refused") == true, "\(error?.message ?? "")")
        }
        #expect(fastest < Self.bound, "a refused connection took at least \(fastest)")
    }

    @Test func aCallToADeadProviderFailsAtOnceAndCountsAgainstItsCircuit() async throws {
        try await withDeadProvider { client in
            let clock = ContinuousClock()
            var fastest: Duration = .seconds(3600)
            for attempt in 0..<2 {
                let started = clock.now
                let response = try await post(
                    client, "/v1/chat/completions",
                    #"{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#)
                fastest = min(fastest, clock.now - started)
                #expect(response.status == .badGateway, "attempt \(attempt)")
                #expect(String(buffer: response.body).contains("upstream_unreachable"), "attempt \(attempt)")
            }
            #expect(fastest < Self.bound, "every attempt took at least \(fastest)")
            let providers =
                try JSONSerialization.jsonObject(
                    with: Data(try await client.execute(uri: "/api/providers", method: .get).body.readableBytesView))
                as? [String: Any]
            let openAI = try #require(
                (providers?["providers"] as? [[String: Any]])?.first { $0["name"] as? String == "openai" })
            let endpoint = try #require((openAI["endpoints"] as? [[String: Any]])?.first)
            #expect(endpoint["failures"] as? Int == 2)
            #expect(endpoint["consecutive_failures"] as? Int == 2)
        }
    }

    @Test func modelListsAndUnknownModelsAnswerAtOnceWhileTheProviderIsDead() async throws {
        try await withDeadProvider { client in
            let clock = ContinuousClock()
            // The fastest of three: one call can be starved of a thread on a loaded 2-core machine; before the fix
            // every one of them took the 10 s connect timeout.
            var fastest: Duration = .seconds(3600)
            for _ in 0..<3 {
                let started = clock.now
                let models = try await client.execute(uri: "/v1/models", method: .get)
                fastest = min(fastest, clock.now - started)
                #expect(models.status == .ok)
                #expect(String(buffer: models.body).contains(#""id":"local""#))
            }
            #expect(fastest < Self.bound, "GET /v1/models took at least \(fastest)")
            fastest = .seconds(3600)
            for _ in 0..<3 {
                let started = clock.now
                let unknown = try await post(
                    client, "/v1/chat/completions",
                    #"{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}"#)
                fastest = min(fastest, clock.now - started)
                #expect(unknown.status == .notFound)
            }
            #expect(fastest < Self.bound, "an unknown model took at least \(fastest)")
        }
    }
}
