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

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/v1/chat/completions") { request, _ in try await chatCompletions(request) }
        router.post("/v1/embeddings") { request, _ in try await embeddings(request) }
        router.get("/v1/models") { _, _ in try await models() }
    }

    func chatCompletions(_ request: Request) async throws -> Response {
        let (body, options) = try await JSONBody.decode(
            OpenAIWire.ChatCompletionRequest.self, RoutingOptions.self, from: request, limits: limits)
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

    /// `POST /v1/embeddings`, routed like chat (``AIRouter/embed(_:)``): the tenant (`tenant` field or
    /// `x-unity-tenant` header) is rate-limited, budgeted and recorded; at most 2,048 non-empty inputs, as OpenAI.
    func embeddings(_ request: Request) async throws -> Response {
        let (body, options) = try await JSONBody.decode(
            OpenAIWire.EmbeddingsRequest.self, RoutingOptions.self, from: request, limits: limits)
        guard body.model.utf8.count <= limits.maximumNameBytes else {
            throw APIError.invalidRequest(
                "The field 'model' is \(body.model.utf8.count) bytes long; names are at most \(limits.maximumNameBytes).")
        }
        let texts = body.input.texts
        guard !texts.isEmpty else { throw APIError.invalidRequest("The field 'input' must not be empty.") }
        if let empty = texts.firstIndex(where: \.isEmpty) {
            let field = body.input.isSingle ? "input" : "input[\(empty)]"
            throw APIError.invalidRequest("The field '\(field)' is an empty string; OpenAI refuses empty inputs too.")
        }
        let format = body.encodingFormat ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalidRequest("encoding_format must be 'float' or 'base64'.")
        }
        if let dimensions = body.dimensions, dimensions <= 0 {
            throw APIError.invalidRequest("'dimensions' must be a positive integer.")
        }
        let tenant = try RequestTenant.resolve(bodyTenant: options.tenant, headers: request.headers)
        let (embedded, outcome) = try await router.embed(
            RoutedEmbeddingsRequest(texts: texts, model: body.model, dimensions: body.dimensions, tenant: tenant))
        // Written by hand: each float in its shortest form that reads back exactly (JSONSerialization would
        // widen it to a double with spurious digits). At most 2,048 vectors, each as long as the upstream's answer
        // (itself read within the transport's 64 MiB limit), so the body is bounded.
        var buffer = ByteBuffer()
        buffer.writeString(#"{"object":"list","data":["#)
        for (index, vector) in embedded.vectors.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeString(#"{"object":"embedding","index":\#(index),"embedding":"#)
            if format == "base64" {
                var bytes = Data(capacity: vector.count * 4)
                for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                buffer.writeString("\"" + bytes.base64EncodedString() + "\"")
            } else {
                buffer.writeString("[")
                for (position, value) in vector.enumerated() {
                    if position > 0 { buffer.writeString(",") }
                    buffer.writeString(value.isFinite ? "\(value)" : "0")
                }
                buffer.writeString("]")
            }
            buffer.writeString("}")
        }
        let model = String(decoding: try JSONEncoder().encode(body.model), as: UTF8.self)
        let tokens = embedded.inputTokens
        buffer.writeString(#"],"model":\#(model),"usage":{"prompt_tokens":\#(tokens),"total_tokens":\#(tokens)}}"#)
        var headers: HTTPFields = [.contentType: "application/json"]
        RouteHeaders.apply(outcome, to: &headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// `GET /v1/models`: the catalogue, `local`, and each enabled provider's own list as the registry keeps it (cached
    /// and refreshed in the background, so a dead or slow provider delays this by at most a short bound, once).
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
