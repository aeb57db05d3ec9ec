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
import Synchronization
import Testing

/// The router in front of fake upstreams that replay the providers' wire fixtures, with its shared state in the
/// real PostgreSQL: failover, privacy, shared rate limits, budgets, the cache, usage and metrics.
@Suite struct RouterIntegrationTests {
    static let key = "sk-test-ROUTER-SECRET-7"
    static let environment = ["OPENAI_API_KEY": key, "ANTHROPIC_API_KEY": key]

    static func yaml(openAI: String, anthropic: String, extra: String = "", openAITimeouts: String = "{first_byte: 10s}") -> String {
        """
        routing:
          default_strategy: primary_first
        providers:
          openai:
            endpoints: [{url: '\(openAI)/v1', api_key_env: OPENAI_API_KEY}]
            timeouts: \(openAITimeouts)
          anthropic:
            endpoints: [{url: '\(anthropic)', api_key_env: ANTHROPIC_API_KEY}]
        models:
          openai/gpt-4o-mini: {input_per_1k: 0.15, output_per_1k: 0.6, context_window: 128000, quality: medium}
          anthropic/claude-sonnet-4-6: {input_per_1k: 3, output_per_1k: 15, context_window: 200000, quality: high}
        strategies:
          primary_first:
            - {provider: openai, model: gpt-4o-mini}
            - {provider: anthropic, model: claude-sonnet-4-6}
        \(extra)
        """
    }

    static func configuration(_ yaml: String, environment: [String: String] = environment) throws -> RoutingConfiguration {
        try RoutingConfiguration.parse(yaml: yaml, environment: environment)
    }

    /// Runs `body` against an appliance on a fresh database routed by `configuration`.
    func withAppliance(
        _ configuration: RoutingConfiguration,
        _ body: @Sendable (any TestClientProtocol, ApplianceRouter) async throws -> Void
    ) async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let routed = ApplianceRouter(client: client, configuration: configuration)
            let app = buildApplication(
                configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: appliance.askService),
                logger: TestDatabase.logger)
            try await app.test(.router) { http in try await body(http, routed) }
        }
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return try await client.execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static let question = #""messages": [{"role": "user", "content": "Why is the sky blue?"}]"#

    @Test func failoverCoversServerErrorsRateLimitsTimeoutsAndStreamsCutBeforeTheFirstByte() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        let anthropic = try FakeUpstream(provider: "anthropic")
        anthropic.serve("messages_response.json")
        try await openAI.run { openAIURL in
            try await anthropic.run { anthropicURL in
                let configuration = try Self.configuration(
                    Self.yaml(openAI: openAIURL, anthropic: anthropicURL, openAITimeouts: "{first_byte: 400ms}"))
                try await withAppliance(configuration) { client, _ in
                    func expectFallback(_ what: Comment) async throws {
                        let response = try await post(client, "/api/ai/chat", "{\(Self.question)}")
                        #expect(response.status == .ok, what)
                        #expect(response.headers[RouteHeaderNames.route]?.hasPrefix("anthropic/claude-sonnet-4-6/") == true, what)
                        #expect(response.headers[RouteHeaderNames.fallbacks] == "1", what)
                        #expect(try json(response)["fallbacks"] as? [String] == ["openai"], what)
                    }
                    openAI.serve("error_500_server_error.json")
                    try await expectFallback("500")
                    openAI.serve("error_429_rate_limit.json")
                    openAI.configure { $0.extraHeaders = ["retry-after": "2"] }
                    try await expectFallback("429 with retry-after")
                    openAI.serve("chat_completions_response.json")
                    openAI.configure {
                        $0.extraHeaders = [:]
                        $0.firstByteDelay = .seconds(3)
                    }
                    try await expectFallback("timeout")

                    // A stream whose upstream sends its head and is cut before the first byte of the body.
                    openAI.configure {
                        $0.firstByteDelay = .zero
                        $0.cutAfterBytes = 0
                    }
                    openAI.serve("chat_completions_stream.sse")
                    anthropic.serve("messages_stream.sse")
                    let stream = try await post(client, "/v1/chat/completions", #"{"model": "auto", "stream": true, \#(Self.question)}"#)
                    #expect(stream.status == .ok)
                    #expect(stream.headers[RouteHeaderNames.route]?.hasPrefix("anthropic/") == true)
                    let events = String(buffer: stream.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                    #expect(events.last == "data: [DONE]")
                    #expect(events.contains { $0.contains("\"content\"") && !$0.contains("\"content\":\"\"") })
                }
            }
        }
        #expect(openAI.requests.count == 4)
        #expect(anthropic.requests.count == 4)
    }

    @Test func privacyFirstTrafficNeverReachesTheRemoteUpstream() async throws {
        let ollama = try FakeUpstream(provider: "ollama")
        ollama.serve("chat_response.json")
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("chat_completions_response.json")
        try await openAI.run { openAIURL in
            for ollamaUp in [true, false] {
                try await ollama.run { liveOllamaURL in
                    // Down: nothing listens on the discard port.
                    let ollamaURL = ollamaUp ? liveOllamaURL : "http://127.0.0.1:9"
                    let yaml = """
                        providers:
                          ollama: {endpoints: [{url: '\(ollamaURL)'}], default_model: llama3.2, timeouts: {connect: 1s}}
                          openai: {endpoints: [{url: '\(openAIURL)/v1', api_key_env: OPENAI_API_KEY}], default_model: gpt-4o-mini}
                        """
                    try await withAppliance(try Self.configuration(yaml)) { client, _ in
                        let response = try await post(
                            client, "/api/ai/chat", #"{"strategy": "privacy_first", "fallback": true, \#(Self.question)}"#)
                        if ollamaUp {
                            #expect(response.status == .ok)
                            #expect(try json(response)["provider"] as? String == "ollama")
                        } else {
                            #expect(response.status == .badGateway)
                            #expect(String(buffer: response.body).contains("upstream_unreachable"))
                        }
                        // An explicit remote model with privacy_first is refused before any call.
                        let refused = try await post(
                            client, "/api/ai/chat", #"{"model": "openai/gpt-4o-mini", "strategy": "privacy_first", \#(Self.question)}"#)
                        #expect(refused.status == .unprocessableContent)
                        let error = try #require(try json(refused)["error"] as? [String: Any])
                        #expect((error["excluded"] as? [[String: Any]])?.first?["requirement"] as? String == "privacy")
                    }
                }
            }
        }
        #expect(openAI.requests.isEmpty)
        #expect(ollama.requests.count == 1)
    }

    @Test func twoInstancesOnOneDatabaseShareATenantsRateLimit() async throws {
        let yaml = "rate_limits: {per_tenant: 25/hour}\n"
        let configuration = try Self.configuration(yaml, environment: [:])
        try await TestDatabase.withFreshDatabase { client, settings in
            // The second instance has its own connection pool, router, limiter and cache: only the database is shared.
            let secondClient = try Database(settings: settings, logger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await secondClient.client.run() }
                defer { group.cancelAll() }
                let instances = [
                    ApplianceRouter(client: client, configuration: configuration),
                    ApplianceRouter(client: secondClient, configuration: configuration),
                ]
                let outcomes = try await withThrowingTaskGroup(of: (Bool, RoutingError?).self) { requests in
                    for index in 0..<60 {
                        requests.addTask {
                            let message = [ChatMessage(role: .user, content: "request \(index)")]
                            let request = RoutedChatRequest(
                                chat: ChatRequest(messages: message),
                                route: RouteRequest(tenant: "acme", model: "local", estimatedInputTokens: 5))
                            do {
                                _ = try await instances[index % 2].router.chat(request)
                                return (true, nil)
                            } catch let error as RoutingError {
                                return (false, error)
                            }
                        }
                    }
                    return try await requests.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.filter(\.0).count == 25)
                let refusals = outcomes.compactMap(\.1)
                #expect(refusals.count == 35 && refusals.allSatisfy { $0.code == .rateLimited && $0.rateLimit?.remaining == 0 })
                // Another tenant has its own window.
                let other = RoutedChatRequest(
                    chat: ChatRequest(messages: [ChatMessage(role: .user, content: "hi")]),
                    route: RouteRequest(tenant: "globex", model: "local", estimatedInputTokens: 1))
                _ = try await instances[1].router.chat(other)
            }
        }
    }

    @Test func aRefusedRequestSaysWhenToRetryInItsHeaders() async throws {
        let configuration = try Self.configuration("rate_limits: {per_tenant: 1/minute}\n", environment: [:])
        try await withAppliance(configuration) { client, _ in
            let body = #"{"model": "local", "tenant": "acme", \#(Self.question)}"#
            let first = try await post(client, "/api/ai/chat", body)
            #expect(first.status == .ok)
            #expect(first.headers[HTTPField.Name("x-ratelimit-limit")!] == "1")
            #expect(first.headers[HTTPField.Name("x-ratelimit-remaining")!] == "0")
            let second = try await post(client, "/api/ai/chat", body)
            #expect(second.status == .tooManyRequests)
            let retryAfter = try #require(second.headers[.retryAfter].flatMap(Int.init))
            #expect(retryAfter >= 1 && retryAfter <= 60)
            #expect(second.headers[HTTPField.Name("x-ratelimit-reset")!] != nil)
            #expect(String(buffer: second.body).contains("rate_limit_exceeded"))
            // The tenant header works for clients that cannot add body fields.
            let other = try await post(client, "/api/ai/chat", #"{"model": "local", \#(Self.question)}"#, headers: [RoutingHeaderNames.tenant: "globex"])
            #expect(other.status == .ok)
        }
    }

    @Test func aBudgetStopsATenantUntilThePeriodEnds() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("chat_completions_response.json")
        try await openAI.run { openAIURL in
            let extra = "tenants:\n  acme: {budget: {daily_usd: 0.01}, allowed_providers: [openai]}\n"
            let configuration = try Self.configuration(Self.yaml(openAI: openAIURL, anthropic: "http://127.0.0.1:9", extra: extra))
            try await withAppliance(configuration) { client, routed in
                let body = #"{"tenant": "acme", "max_tokens": 10, \#(Self.question)}"#
                let first = try await post(client, "/api/ai/chat", body)
                #expect(first.status == .ok)
                let cost = try #require(first.headers[RouteHeaderNames.cost].flatMap(Double.init))
                #expect(cost > 0.01)  // the fixture's tokens at these (inflated) prices
                let second = try await post(client, "/api/ai/chat", body)
                #expect(second.status == .tooManyRequests)
                #expect(String(buffer: second.body).contains("budget_exceeded"))
                #expect(second.headers[.retryAfter] != nil)
                let rows = try await routed.client.query(
                    "SELECT spent_usd, reserved_usd FROM tenant_budget_periods WHERE tenant = 'acme' AND period = 'day'",
                    logger: TestDatabase.logger)
                for (spent, reserved) in try rows.decode((Double, Double).self) {
                    #expect(abs(spent - cost) < 1e-9)
                    #expect(reserved == 0)
                }
                // Other tenants are not affected.
                #expect(try await post(client, "/api/ai/chat", "{\(Self.question)}").status == .ok)
            }
        }
        #expect(openAI.requests.count == 2)
    }

    @Test func aCacheHitMakesNoUpstreamCallAndReturnsTheSameBody() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("chat_completions_response.json")
        try await openAI.run { openAIURL in
            let configuration = try Self.configuration(
                Self.yaml(openAI: openAIURL, anthropic: "http://127.0.0.1:9", extra: "caching: {enabled: true, backend: redis, ttl: 600s}"))
            try await TestDatabase.withFreshDatabase { database, _ in
                let appliance = Appliance(client: database)
                func answer(_ routed: ApplianceRouter, cache: Bool = true) async throws -> (TestResponse, [String: Any]) {
                    let app = buildApplication(
                        configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: appliance.askService),
                        logger: TestDatabase.logger)
                    return try await app.test(.router) { client in
                        let response = try await post(
                            client, "/v1/chat/completions", #"{"model": "openai/gpt-4o-mini", "cache": \#(cache), \#(Self.question)}"#)
                        return (response, try json(response))
                    }
                }
                let instance = ApplianceRouter(client: database, configuration: configuration)
                let (miss, missBody) = try await answer(instance)
                #expect(miss.headers[RouteHeaderNames.cache] == "miss")
                let (hit, hitBody) = try await answer(instance)
                #expect(hit.headers[RouteHeaderNames.cache] == "hit")
                #expect(openAI.requests.count == 1)
                func content(_ body: [String: Any]) -> String? {
                    (((body["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])?["content"] as? String
                }
                #expect(content(hitBody) == content(missBody) && content(hitBody) != nil)
                // Another instance (empty memory) finds it in the shared table.
                let (shared, _) = try await answer(ApplianceRouter(client: database, configuration: configuration))
                #expect(shared.headers[RouteHeaderNames.cache] == "hit")
                #expect(openAI.requests.count == 1)
                // "cache": false goes upstream.
                let (bypass, _) = try await answer(instance, cache: false)
                #expect(bypass.headers[RouteHeaderNames.cache] == "bypass")
                #expect(openAI.requests.count == 2)
                // Housekeeping deletes the entry once it has expired.
                let swept = try await RouterHousekeeping(client: database, logger: TestDatabase.logger)
                    .sweep(now: Date().addingTimeInterval(601))
                #expect(swept.cacheEntries == 1)
            }
        }
    }

    @Test func usageMetricsAndProviderHealthAreReported() async throws {
        let openAI = try FakeUpstream(provider: "openai")
        openAI.serve("error_500_server_error.json", "chat_completions_response.json")
        let anthropic = try FakeUpstream(provider: "anthropic")
        anthropic.serve("messages_response.json")
        try await openAI.run { openAIURL in
            try await anthropic.run { anthropicURL in
                let configuration = try Self.configuration(Self.yaml(openAI: openAIURL, anthropic: anthropicURL))
                try await withAppliance(configuration) { client, routed in
                    #expect(try await post(client, "/api/ai/chat", #"{"tenant": "acme", \#(Self.question)}"#).status == .ok)
                    #expect(try await post(client, "/api/ai/chat", #"{"tenant": "acme", \#(Self.question)}"#).status == .ok)
                    let invalid = try await post(client, "/api/ai/chat", #"{"requirements": {"min_quality": "ultra"}, \#(Self.question)}"#)
                    #expect(invalid.status == .badRequest)

                    let usage = try await client.execute(uri: "/api/usage?tenant=acme&group_by=provider", method: .get)
                    #expect(usage.status == .ok)
                    let groups = try #require(try json(usage)["groups"] as? [[String: Any]])
                    let byProvider = Dictionary(uniqueKeysWithValues: groups.map { ($0["key"] as! String, $0) })
                    #expect(byProvider["anthropic"]?["requests"] as? Int == 1)
                    #expect(byProvider["openai"]?["requests"] as? Int == 1)
                    #expect((byProvider["anthropic"]?["cost_usd"] as? Double ?? 0) > 0)
                    #expect(byProvider["anthropic"]?["fallbacks"] as? Int == 1)
                    let days = try await client.execute(uri: "/api/usage?group_by=day", method: .get)
                    #expect((try json(days)["groups"] as? [[String: Any]])?.count == 1)
                    #expect(try await client.execute(uri: "/api/usage?group_by=week", method: .get).status == .badRequest)
                    for range in ["from=1e300", "to=inf", "from=yesterday", "from=2026-11-27&to=2026-11-01"] {
                        #expect(try await client.execute(uri: "/api/usage?\(range)", method: .get).status == .badRequest, "\(range)")
                    }

                    let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                    #expect(metrics.contains(#"unity_ai_router_requests_total{provider="anthropic",model="claude-sonnet-4-6",status="ok"} 1"#))
                    #expect(metrics.contains("unity_ai_router_fallbacks_total"))
                    #expect(metrics.contains("unity_ai_router_request_duration_seconds_bucket"))

                    let providers = try json(try await client.execute(uri: "/api/providers", method: .get))
                    let list = try #require(providers["providers"] as? [[String: Any]])
                    let openAIStatus = try #require(list.first { $0["name"] as? String == "openai" })
                    let endpoint = try #require((openAIStatus["endpoints"] as? [[String: Any]])?.first)
                    #expect(endpoint["requests"] as? Int == 2 && endpoint["failures"] as? Int == 1)
                    #expect(endpoint["circuit"] as? String == "closed")
                    #expect(!String(describing: providers).contains(Self.key))

                    // The router's aggregates in plugin_metrics, as plugin ai-router.
                    await PluginMetricsService(
                        router: routed.router, sink: PostgresPluginMetricsWriter(client: routed.client, logger: TestDatabase.logger),
                        host: "test", logger: TestDatabase.logger
                    ).writeOnce()
                    let rows = try await routed.client.query(
                        "SELECT value FROM plugin_metrics WHERE plugin = 'ai-router' AND metric = 'requests' AND labels->>'provider' = 'anthropic'",
                        logger: TestDatabase.logger)
                    var values: [Double] = []
                    for value in try rows.decode(Double.self) { values.append(value) }
                    #expect(values == [1])
                }
            }
        }
    }

    @Test func killingThePrimaryMidLoadLosesNoRequest() async throws {
        let primary = try FakeUpstream(provider: "openai")
        primary.serve("chat_completions_response.json")
        let secondary = try FakeUpstream(provider: "anthropic")
        secondary.serve("messages_response.json")
        let completed = CompletionCounter()
        try await secondary.run { secondaryURL in
            try await TestDatabase.withFreshDatabase { database, _ in
                // The primary serves the first part of the load, then goes away while requests are in flight.
                let load = try await primary.run { primaryURL -> Task<[Bool], Never> in
                    let configuration = try Self.configuration(Self.yaml(openAI: primaryURL, anthropic: secondaryURL))
                    let routed = ApplianceRouter(client: database, configuration: configuration)
                    let load = Task {
                        await withTaskGroup(of: [Bool].self) { group in
                            for worker in 0..<6 {
                                group.addTask {
                                    var outcomes: [Bool] = []
                                    for index in 0..<15 {
                                        let messages = [ChatMessage(role: .user, content: "request \(worker)-\(index)")]
                                        let request = RoutedChatRequest(
                                            chat: ChatRequest(messages: messages),
                                            route: RouteRequest(estimatedInputTokens: RoutePlanner.estimateTokens(messages)))
                                        outcomes.append((try? await routed.router.chat(request)) != nil)
                                        completed.increment()
                                    }
                                    return outcomes
                                }
                            }
                            return await group.reduce(into: []) { $0.append(contentsOf: $1) }
                        }
                    }
                    while completed.value < 30 { try await Task.sleep(for: .milliseconds(5)) }
                    return load
                }
                let outcomes = await load.value
                #expect(outcomes.count == 90)
                #expect(outcomes.allSatisfy { $0 }, "every request had a fallback, so none may be lost")
            }
        }
        #expect(primary.requests.count >= 30)
        #expect(!secondary.requests.isEmpty)
    }
}

/// The response headers the tests read.
enum RouteHeaderNames {
    static let route = HTTPField.Name("x-unity-route")!
    static let fallbacks = HTTPField.Name("x-unity-fallbacks")!
    static let cache = HTTPField.Name("x-unity-cache")!
    static let cost = HTTPField.Name("x-unity-cost-usd")!
}

enum RoutingHeaderNames {
    static let tenant = HTTPField.Name("x-unity-tenant")!
}

/// Requests completed so far, shared between a load and the test that watches it.
final class CompletionCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
