import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Providers
import Routing

/// The seed's API: `POST /api/ai/chat` and `POST /api/ai/generate`, JSON or (with `"stream": true`) server-sent
/// events `data: {"delta": "…"}` ending with `data: {"done": true, …}`.
struct AIController<Context: RequestContext>: Sendable {
    let gateway: ChatGateway
    let limits: ServerConfiguration.Limits

    struct ChatBody: Decodable {
        struct Message: Decodable {
            var role: ChatMessage.Role
            var content: String
        }
        var provider: String?
        var model: String?
        var messages: [Message]
        var stream: Bool?
        var temperature: Double?
        var maxTokens: Int?
        var fallback: Fallback?

        enum CodingKeys: String, CodingKey {
            case provider, model, messages, stream, temperature, fallback, maxTokens = "max_tokens"
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
        var fallback: Fallback?

        enum CodingKeys: String, CodingKey {
            case provider, model, prompt, system, stream, temperature, fallback, maxTokens = "max_tokens"
        }
    }

    /// `fallback`: a provider name, a list of names, or `true` for every other enabled provider.
    struct Fallback: Decodable {
        var providers: [String]?
        var everyOther: Bool

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                providers = nil
                everyOther = flag
            } else if let one = try? container.decode(String.self) {
                providers = [one]
                everyOther = false
            } else {
                providers = try container.decode([String].self)
                everyOther = false
            }
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

        enum CodingKeys: String, CodingKey {
            case provider, model, endpoint, message, response, usage, fallbacks
            case finishReason = "finish_reason", latencyMs = "latency_ms"
        }
    }

    func addRoutes(to router: Router<Context>) {
        router.post("/api/ai/chat") { request, _ in try await chat(request) }
        router.post("/api/ai/generate") { request, _ in try await generate(request) }
    }

    func chat(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(ChatBody.self, from: request, limit: limits.maximumBodyBytes)
        guard !body.messages.isEmpty else { throw APIError.invalidRequest("The field 'messages' must not be empty.") }
        let chatRequest = ChatRequest(
            messages: body.messages.map { ChatMessage(role: $0.role, content: $0.content) }, temperature: body.temperature,
            maximumTokens: body.maxTokens)
        return try await answer(
            chatRequest, provider: body.provider, model: body.model, stream: body.stream == true,
            fallbacks: fallbacks(body.fallback, primary: body.provider), asGenerate: false)
    }

    func generate(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(GenerateBody.self, from: request, limit: limits.maximumBodyBytes)
        guard !body.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalidRequest("The field 'prompt' must not be empty.")
        }
        let generateRequest = GenerateRequest(
            prompt: body.prompt, system: body.system, temperature: body.temperature, maximumTokens: body.maxTokens)
        return try await answer(
            generateRequest.chatRequest, provider: body.provider, model: body.model, stream: body.stream == true,
            fallbacks: fallbacks(body.fallback, primary: body.provider), asGenerate: true)
    }

    private func fallbacks(_ fallback: Fallback?, primary: String?) -> [String] {
        guard let fallback else { return [] }
        if let providers = fallback.providers { return providers.filter { $0 != primary } }
        guard fallback.everyOther else { return [] }
        return gateway.registry.entries.filter { $0.isEnabled && $0.capabilities.chat && $0.name != primary && $0.name != "local" }
            .map(\.name)
    }

    private func answer(
        _ request: ChatRequest, provider: String?, model: String?, stream: Bool, fallbacks: [String], asGenerate: Bool
    ) async throws -> Response {
        guard stream else {
            let (response, route) = try await gateway.chat(request, provider: provider, model: model, fallbacks: fallbacks)
            let latency = response.latency.components
            let reply = Reply(
                provider: response.provider, model: response.model, endpoint: response.endpoint,
                message: asGenerate ? nil : .init(content: response.text), response: asGenerate ? response.text : nil,
                finishReason: response.finishReason.rawValue,
                usage: .init(inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens),
                latencyMs: (Double(latency.seconds) * 1000 + Double(latency.attoseconds) / 1e15).rounded(),
                fallbacks: route.fallbacks)
            var http = try JSONBody.response(reply)
            http.headers[HTTPField.Name("x-unity-route")!] = "\(route.header)/\(response.endpoint)"
            http.headers[HTTPField.Name("x-unity-fallbacks")!] = "\(route.fallbacks.count)"
            return http
        }
        let (events, route) = try await gateway.stream(request, provider: provider, model: model, fallbacks: fallbacks)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("x-unity-route")!] = route.header
        headers[HTTPField.Name("x-unity-fallbacks")!] = "\(route.fallbacks.count)"
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
                                "done": true, "finish_reason": reason.rawValue, "provider": route.provider, "model": route.model,
                            ]
                            if let usage { done["usage"] = ["input_tokens": usage.inputTokens, "output_tokens": usage.outputTokens] }
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
