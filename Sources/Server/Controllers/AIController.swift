import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Providers
import Routing

/// The seed's API: `POST /api/ai/chat` and `POST /api/ai/generate`, JSON or (with `"stream": true`) server-sent
/// events `data: {"delta": "…"}` ending with `data: {"done": true, …}`. Requests are routed by ``AIRouter``:
/// `"provider": "auto"` (or none) uses the strategy; the routing fields are in ``RoutingOptions``.
struct AIController<Context: RequestContext>: Sendable {
    let router: AIRouter
    let limits: ServerConfiguration.Limits

    struct ChatBody: Decodable {
        struct Message: Decodable {
            var role: ChatMessage.Role
            var content: String

            enum CodingKeys: String, CodingKey, CaseIterable { case role, content }
        }
        var provider: String?
        var model: String?
        var messages: [Message]
        var stream: Bool?
        var temperature: Double?
        var maxTokens: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case provider, model, messages, stream, temperature, maxTokens = "max_tokens"
        }
    }

    struct GenerateBody: Decodable {
        var provider: String?
        var model: String?
        var prompt: String
        var system: String?
        var stream: Bool?
        var temperature: Double?
        var maxTokens: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case provider, model, prompt, system, stream, temperature, maxTokens = "max_tokens"
        }
    }

    struct Reply: Encodable {
        struct Message: Encodable {
            var role = "assistant"
            var content: String
        }
        struct Usage: Encodable {
            var inputTokens: Int
            var outputTokens: Int
            enum CodingKeys: String, CodingKey { case inputTokens = "input_tokens", outputTokens = "output_tokens" }
        }
        var provider: String
        var model: String
        var endpoint: String
        var message: Message?
        var response: String?
        var finishReason: String
        var usage: Usage
        var latencyMs: Double
        var fallbacks: [String]
        var cache: String
        var costUsd: Double?
        var strategy: String?

        enum CodingKeys: String, CodingKey {
            case provider, model, endpoint, message, response, usage, fallbacks, cache, strategy
            case finishReason = "finish_reason", latencyMs = "latency_ms", costUsd = "cost_usd"
        }
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/ai/chat") { request, _ in try await chat(request) }
        router.post("/api/ai/generate") { request, _ in try await generate(request) }
    }

    func chat(_ request: Request) async throws -> Response {
        let (body, options) = try await JSONBody.decode(
            ChatBody.self, RoutingOptions.self, from: request, limits: limits)
        guard !body.messages.isEmpty else { throw APIError.invalidRequest("The field 'messages' must not be empty.") }
        let chatRequest = ChatRequest(
            messages: body.messages.map { ChatMessage(role: $0.role, content: $0.content) }, temperature: body.temperature,
            maximumTokens: body.maxTokens)
        let route = try options.routeRequest(
            provider: body.provider, model: body.model, messages: chatRequest.messages, maximumTokens: body.maxTokens,
            headers: request.headers, registry: router.registry, limits: limits)
        return try await answer(
            RoutedChatRequest(chat: chatRequest, route: route, useCache: options.cache ?? true), stream: body.stream == true,
            asGenerate: false)
    }

    func generate(_ request: Request) async throws -> Response {
        let (body, options) = try await JSONBody.decode(
            GenerateBody.self, RoutingOptions.self, from: request, limits: limits)
        guard !body.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalidRequest("The field 'prompt' must not be empty.")
        }
        let chatRequest = GenerateRequest(
            prompt: body.prompt, system: body.system, temperature: body.temperature, maximumTokens: body.maxTokens
        ).chatRequest
        let route = try options.routeRequest(
            provider: body.provider, model: body.model, messages: chatRequest.messages, maximumTokens: body.maxTokens,
            headers: request.headers, registry: router.registry, limits: limits)
        return try await answer(
            RoutedChatRequest(chat: chatRequest, route: route, useCache: options.cache ?? true), stream: body.stream == true,
            asGenerate: true)
    }

    private func answer(_ request: RoutedChatRequest, stream: Bool, asGenerate: Bool) async throws -> Response {
        guard stream else {
            let (response, outcome) = try await router.chat(request)
            let reply = Reply(
                provider: response.provider, model: response.model, endpoint: response.endpoint,
                message: asGenerate ? nil : .init(content: response.text), response: asGenerate ? response.text : nil,
                finishReason: response.finishReason.rawValue,
                usage: .init(inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens),
                latencyMs: (response.latency.milliseconds).rounded(), fallbacks: outcome.fallbacks, cache: outcome.cache.rawValue,
                costUsd: outcome.costUSD, strategy: outcome.strategy)
            var http = try JSONBody.response(reply)
            RouteHeaders.apply(outcome, to: &http.headers)
            return http
        }
        let (events, outcome) = try await router.stream(request)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        RouteHeaders.apply(outcome, to: &headers)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                func send(_ object: [String: Any]) async throws {
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                    try await writer.write(ByteBuffer(string: "data: \(String(decoding: data, as: UTF8.self))\n\n"))
                }
                do {
                    for try await event in events {
                        switch event {
                        case .delta(let text):
                            try await send(["delta": text])
                        case .end(let reason, let usage):
                            var done: [String: Any] = [
                                "done": true, "finish_reason": reason.rawValue, "provider": outcome.provider, "model": outcome.model,
                                "cache": outcome.cache.rawValue,
                            ]
                            if let usage {
                                done["usage"] = ["input_tokens": usage.inputTokens, "output_tokens": usage.outputTokens]
                                let capabilities = router.registry.capabilities(provider: outcome.provider, model: outcome.model)
                                done["cost_usd"] = outcome.cache == .hit ? 0 : AIRouter.cost(of: usage, capabilities: capabilities)
                            }
                            try await send(done)
                        }
                    }
                } catch {
                    let apiError = ErrorMiddleware<Context>.apiError(for: error)
                    try await send(["error": ["code": apiError.code, "message": apiError.message]])
                }
                try await writer.finish(nil)
            })
    }
}
