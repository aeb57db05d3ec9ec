import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Providers
import Routing
import Server
import Storage
import Testing

/// `POST /v1/embeddings` goes through the router as chat does: the tenant's rate limit and budget, a usage record
/// and metrics for every request, the endpoints' load balancing and circuit breakers, and fallback only to another
/// endpoint of the same provider and model.
@Suite struct RoutedEmbeddingsTests {
    static let key = "sk-test-EMBED-SECRET-3"
    static let environment = ["OPENAI_API_KEY": key]
    static let texts = #"["Why is the sky blue?", "Why is the grass green?"]"#

    static func yaml(endpoints: [String], extra: String = "") -> String {
        let list = endpoints.map { "{url: '\($0)/v1', api_key_env: OPENAI_API_KEY}" }.joined(separator: ", ")
        return """
            providers:
              openai:
                endpoints: [\(list)]
            models:
              openai/text-embedding-3-small: {input_per_1k: 1, embedding_dimensions: 8}
            \(extra)
            """
    }

    func withAppliance(
        _ yaml: String, clock: any RouterClock = SystemRouterClock(),
        _ body: @Sendable (any TestClientProtocol, ApplianceRouter) async throws -> Void
    ) async throws {
        let configuration = try RoutingConfiguration.parse(yaml: yaml, environment: Self.environment)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let routed = ApplianceRouter(client: client, configuration: configuration, clock: clock)
            let app = buildApplication(
                configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: appliance.askService),
                logger: TestDatabase.logger)
            try await app.test(.router) { http in try await body(http, routed) }
        }
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ json: String, headers: HTTPFields = [:]) async throws
        -> TestResponse
    {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return try await client.execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func embeddingsAreRateLimitedBudgetedAndRecordedLikeChat() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("embeddings_response.json")
        try await openAI.run { url in
            // 12 prompt tokens (the fixture's usage) at 1 USD per 1k: 0.012 USD a request (0.011 estimated before it).
            let extra = """
                rate_limits: {per_tenant: 3/minute}
                tenants:
                  acme: {budget: {daily_usd: 0.02}}
                """
            // The limit's window is a wall-clock minute: the requests must all fall in one, however slowly a loaded
            // machine runs them, so the wall clock stands still at the start of the current minute.
            let clock = WallClockStoppedAtMinute(containing: Date())
            try await withAppliance(Self.yaml(endpoints: [url], extra: extra), clock: clock) { client, routed in
                let body = #"{"model": "openai/text-embedding-3-small", "tenant": "acme", "input": \#(Self.texts)}"#
                let first = try await post(client, "/v1/embeddings", body)
                #expect(first.status == .ok)
                #expect(first.headers[RouteHeaderNames.route]?.hasPrefix("openai/text-embedding-3-small/") == true)
                #expect(
                    first.headers[RouteHeaderNames.cost].flatMap(Double.init).map { abs($0 - 0.012) < 1e-9 } == true)
                #expect(first.headers[HTTPField.Name("x-ratelimit-remaining")!] == "2")
                // The upstream's own count of prompt tokens, not an estimate.
                #expect((try json(first)["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 12)

                // The budget holds 0.02 USD: a second request would overspend it.
                let second = try await post(client, "/v1/embeddings", body)
                #expect(second.status == .tooManyRequests)
                #expect(String(buffer: second.body).contains("budget_exceeded"))

                // The tenant's rate limit (3 a minute) counts embeddings too; the header names the tenant.
                let other = #"{"model": "openai/text-embedding-3-small", "input": ["sky", "grass"]}"#
                let third = try await post(
                    client, "/v1/embeddings", other, headers: [RoutingHeaderNames.tenant: "acme"])
                #expect(third.status == .ok)
                let fourth = try await post(
                    client, "/v1/embeddings", other, headers: [RoutingHeaderNames.tenant: "acme"])
                #expect(fourth.status == .tooManyRequests)
                #expect(String(buffer: fourth.body).contains("rate_limit_exceeded"))
                #expect(fourth.headers[.retryAfter] != nil)

                // Every request is in the usage records: answered, refused by the budget, refused by the limit.
                let usage = try json(
                    try await client.execute(uri: "/api/usage?tenant=acme&group_by=model", method: .get))
                let groups = try #require(usage["groups"] as? [[String: Any]])
                let byModel = Dictionary(uniqueKeysWithValues: groups.map { ($0["key"] as! String, $0) })
                let model = try #require(byModel["openai/text-embedding-3-small"], "\(groups)")
                #expect(model["requests"] as? Int == 4)
                #expect(model["errors"] as? Int == 2)
                #expect(model["input_tokens"] as? Int == 24)
                #expect(abs((model["cost_usd"] as? Double ?? 0) - 0.024) < 1e-9)

                // And in the metrics.
                let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(
                    metrics.contains(
                        #"unity_ai_router_requests_total{provider="openai",model="text-embedding-3-small",status="ok"} 2"#
                    ),
                    "\(metrics.split(separator: "\n").filter { $0.hasPrefix("unity_ai_router_requests_total") })")
                _ = routed
            }
        }
        #expect(openAI.requests.count == 2)
    }

    @Test func aDeadEndpointFallsBackToTheSameModelOnTheProvidersOtherEndpointAndOpensItsCircuit() async throws {
        let dead = "http://127.0.0.1:\(try closedLocalPort())"
        let healthy = try FakeUpstream(provider: "openai")
        healthy.serve("embeddings_response.json")
        try await healthy.run { healthyURL in
            let yaml = Self.yaml(endpoints: [dead, healthyURL], extra: "health: {failure_threshold: 1, cooldown: 10m}")
            try await withAppliance(yaml) { client, _ in
                let body = #"{"model": "openai/text-embedding-3-small", "input": \#(Self.texts)}"#
                for attempt in 0..<4 {
                    let response = try await post(client, "/v1/embeddings", body)
                    #expect(response.status == .ok, "request \(attempt)")
                    #expect(
                        response.headers[RouteHeaderNames.route]?.hasSuffix(healthyURL + "/v1") == true,
                        "request \(attempt)")
                    // Only the first request met the dead endpoint; after that its circuit was open.
                    #expect(
                        response.headers[RouteHeaderNames.fallbacks] == (attempt == 0 ? "1" : "0"), "request \(attempt)"
                    )
                }
                // The pool is the one chat uses: `GET /api/providers` counts the embedding calls.
                let providers = try json(try await client.execute(uri: "/api/providers", method: .get))
                let list = try #require(providers["providers"] as? [[String: Any]])
                let openAI = try #require(list.first { $0["name"] as? String == "openai" })
                let endpoints = try #require(openAI["endpoints"] as? [[String: Any]])
                try #require(endpoints.count == 2)
                #expect(endpoints[0]["requests"] as? Int == 1)
                #expect(endpoints[0]["failures"] as? Int == 1)
                #expect(endpoints[0]["circuit"] as? String == "open")
                #expect(endpoints[1]["requests"] as? Int == 4)
                #expect(endpoints.allSatisfy { $0["in_flight"] as? Int == 0 })
            }
        }
        #expect(healthy.requests.count == 4)
        // Every call asked for the same model: vectors of two models never mix.
        #expect(healthy.requests.allSatisfy { $0.json?["model"] as? String == "text-embedding-3-small" })
    }

    @Test func aPrivacyModeTenantNeverSendsTextsToARemoteEmbeddingModel() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("embeddings_response.json")
        try await openAI.run { url in
            let extra = "tenants:\n  vault: {privacy_mode: true}\n"
            try await withAppliance(Self.yaml(endpoints: [url], extra: extra)) { client, _ in
                let remote = try await post(
                    client, "/v1/embeddings",
                    #"{"model": "openai/text-embedding-3-small", "tenant": "vault", "input": "secret"}"#)
                #expect(remote.status == .unprocessableContent)
                #expect(String(buffer: remote.body).contains("privacy"))
                let local = try await post(
                    client, "/v1/embeddings", #"{"model": "local", "tenant": "vault", "input": "secret"}"#)
                #expect(local.status == .ok)
            }
        }
        #expect(openAI.requests.isEmpty)
    }
}

/// Real monotonic time (latencies, deadlines, cooldowns) with the wall clock stopped at the first second of a minute:
/// fixed rate-limit and budget windows then hold every request of a test, whenever it runs.
private struct WallClockStoppedAtMinute: RouterClock {
    let stopped: Date

    init(containing date: Date) {
        let minuteStart = (date.timeIntervalSince1970 / 60).rounded(.down) * 60
        stopped = Date(timeIntervalSince1970: minuteStart + 1)
    }

    func now() -> Duration { SystemRouterClock().now() }
    func date() -> Date { stopped }
}
