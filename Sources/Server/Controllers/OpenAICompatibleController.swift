import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Providers
import Routing

/// The OpenAI-compatible API: `POST /v1/chat/completions` (JSON or SSE), `POST /v1/embeddings` (float or
/// base64), `GET /v1/models`. The `model` field takes `provider/model`, a bare model name, or `auto`.
struct OpenAICompatibleController<Context: RequestContext>: Sendable {
    let router: AIRouter
    var registry: ProviderRegistry { router.registry }
    let limits: ServerConfiguration.Limits

    func addRoutes(to router: Router<Context>) {
        router.post("/v1/chat/completions") { request, _ in try await chatCompletions(request) }
        router.post("/v1/embeddings") { request, _ in try await embeddings(request) }
        router.get("/v1/models") { _, _ in try await models() }
    }

    func chatCompletions(_ request: Request) async throws -> Response {
        let (body, options) = try await JSONBody.decode(
            OpenAIWire.ChatCompletionRequest.self, RoutingOptions.self, from: request, limit: limits.maximumBodyBytes)
        guard !body.messages.isEmpty else { throw APIError.invalidRequest("The field 'messages' must not be empty.") }
        guard (body.n ?? 1) == 1 else { throw APIError.invalidRequest("Only n = 1 is supported.") }
        var messages: [ChatMessage] = []
        for (index, message) in body.messages.enumerated() {
            let role: ChatMessage.Role
            switch message.role {
            case "system", "developer": role = .system
            case "user": role = .user
            case "assistant": role = .assistant
            default:
                throw APIError.invalidRequest("messages[\(index)].role '\(message.role)' is not supported; use system, user or assistant.")
            }
            messages.append(ChatMessage(role: role, content: message.content?.text ?? ""))
        }
        let chatRequest = ChatRequest(
            messages: messages, temperature: body.temperature,
            maximumTokens: body.maxCompletionTokens ?? body.maxTokens, stop: body.stop?.values ?? [])
        let maximumTokens = body.maxCompletionTokens ?? body.maxTokens
        let route = try options.routeRequest(
            provider: body.provider, model: body.model, messages: messages, maximumTokens: maximumTokens, headers: request.headers,
            registry: registry)
        let routed = RoutedChatRequest(chat: chatRequest, route: route, useCache: options.cache ?? true)
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)

        guard body.stream == true else {
            let (response, outcome) = try await router.chat(routed)
            let completion = OpenAIWire.ChatCompletion(
                id: String(id), created: created, model: response.model,
                choices: [.init(message: .init(content: response.text), finishReason: OpenAIWire.finishReason(response.finishReason))],
                usage: .init(response.usage))
            var reply = try JSONBody.response(completion)
            RouteHeaders.apply(outcome, to: &reply.headers)
            return reply
        }

        let includeUsage = body.streamOptions?.includeUsage == true
        let (stream, outcome) = try await router.stream(routed)
        let model = outcome.model
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        RouteHeaders.apply(outcome, to: &headers)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                func send(_ json: String) async throws {
                    try await writer.write(ByteBuffer(string: "data: \(json)\n\n"))
                }
                try await send(
                    OpenAIWire.chunk(
                        id: String(id), created: created, model: model, delta: ["role": "assistant", "content": ""],
                        finishReason: nil, usage: nil, includeUsageField: includeUsage))
                do {
                    for try await event in stream {
                        switch event {
                        case .delta(let text):
                            try await send(
                                OpenAIWire.chunk(
                                    id: String(id), created: created, model: model, delta: ["content": text],
                                    finishReason: nil, usage: nil, includeUsageField: includeUsage))
                        case .end(let reason, let usage):
                            try await send(
                                OpenAIWire.chunk(
                                    id: String(id), created: created, model: model, delta: [:],
                                    finishReason: OpenAIWire.finishReason(reason), usage: nil, includeUsageField: includeUsage))
                            if includeUsage {
                                try await send(
                                    OpenAIWire.chunk(
                                        id: String(id), created: created, model: model, delta: nil, finishReason: nil,
                                        usage: usage ?? TokenUsage(inputTokens: 0, outputTokens: 0), includeUsageField: true))
                            }
                        }
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                } catch {
                    // After the first byte the status is sent: report the failure as OpenAI does, in the stream.
                    let apiError = ErrorMiddleware<Context>.apiError(for: error)
                    try await send(ErrorMiddleware<Context>.errorJSON(apiError))
                }
                try await writer.finish(nil)
            })
    }

    func embeddings(_ request: Request) async throws -> Response {
        let body = try await JSONBody.decode(OpenAIWire.EmbeddingsRequest.self, from: request, limit: limits.maximumBodyBytes)
        guard !body.input.texts.isEmpty else { throw APIError.invalidRequest("The field 'input' must not be empty.") }
        let format = body.encodingFormat ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalidRequest("encoding_format must be 'float' or 'base64'.")
        }
        let embedder = try registry.embedder(named: body.model)
        if let dimensions = body.dimensions, dimensions != embedder.model.dimensions {
            throw APIError.invalidRequest(
                "The model '\(body.model)' gives \(embedder.model.dimensions) dimensions; 'dimensions' cannot change that.")
        }
        let vectors = try await embedder.embedAll(body.input.texts)
        // Written by hand: each float in its shortest form that reads back exactly (JSONSerialization would
        // widen it to a double with spurious digits).
        var data: [String] = []
        for (index, vector) in vectors.enumerated() {
            let embedding: String
            if format == "base64" {
                var bytes = Data(capacity: vector.count * 4)
                for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                embedding = "\"" + bytes.base64EncodedString() + "\""
            } else {
                embedding = "[" + vector.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "]"
            }
            data.append(#"{"object":"embedding","index":\#(index),"embedding":\#(embedding)}"#)
        }
        let tokens = body.input.texts.reduce(0) { $0 + TextAnalyzer().words($1).count }
        let model = String(decoding: try JSONEncoder().encode(body.model), as: UTF8.self)
        let json = #"{"object":"list","data":[\#(data.joined(separator: ","))],"model":\#(model),"usage":{"prompt_tokens":\#(tokens),"total_tokens":\#(tokens)}}"#
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    func models() async throws -> Response {
        var ids: [(String, String)] = registry.catalogue.map { ("\($0.provider)/\($0.model)", $0.provider) }
        ids.append(("local", "local"))
        await withTaskGroup(of: [(String, String)].self) { group in
            for entry in registry.entries where entry.isEnabled && entry.name != "local" {
                group.addTask {
                    let listed = (try? await registry.models(of: entry)) ?? []
                    return listed.map { ("\(entry.name)/\($0)", entry.name) }
                }
            }
            for await listed in group { ids.append(contentsOf: listed) }
        }
        var seen: Set<String> = []
        let models = ids.filter { seen.insert($0.0).inserted }.map { ModelObject(id: $0.0, ownedBy: $0.1) }
        return try JSONBody.response(ModelList(data: models))
    }
}

/// `GET /v1/models` entries, as OpenAI writes them.
struct ModelObject: Encodable {
    var id: String
    var object = "model"
    var created = 0
    var ownedBy: String
    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
}

struct ModelList: Encodable {
    var object = "list"
    var data: [ModelObject]
}
