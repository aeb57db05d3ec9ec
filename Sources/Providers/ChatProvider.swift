/// One message of a conversation.
public struct ChatMessage: Hashable, Sendable, Codable {
    /// Who speaks: the instructions, the user or the model.
    public enum Role: String, Hashable, Sendable, Codable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// A passage the answer must be grounded in, numbered as it is cited (`[n]`).
public struct GroundingDocument: Hashable, Sendable {
    /// The citation number, starting at 1.
    public var number: Int
    /// Where the passage comes from, shown to the reader.
    public var source: String
    /// The headings above the passage, outermost first.
    public var headingPath: [String]
    public var text: String

    public init(number: Int, source: String, headingPath: [String] = [], text: String) {
        self.number = number
        self.source = source
        self.headingPath = headingPath
        self.text = text
    }
}

/// A request for one chat completion.
public struct ChatRequest: Hashable, Sendable {
    public var messages: [ChatMessage]
    /// The model to ask; `nil` lets the provider use its default.
    public var model: String?
    public var temperature: Double?
    public var maximumTokens: Int?
    public var stop: [String]
    /// Grounding passages. Language models read them from the prompt; extractive providers read them here.
    public var documents: [GroundingDocument]

    public init(
        messages: [ChatMessage],
        model: String? = nil,
        temperature: Double? = nil,
        maximumTokens: Int? = nil,
        stop: [String] = [],
        documents: [GroundingDocument] = []
    ) {
        self.messages = messages
        self.model = model
        self.temperature = temperature
        self.maximumTokens = maximumTokens
        self.stop = stop
        self.documents = documents
    }
}

/// Token counts of one call, as the provider reports or estimates them.
public struct TokenUsage: Hashable, Sendable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int

    /// The largest count kept (2^40, about 10^12): upstreams report these numbers, and sums of them (totals,
    /// metrics, costs) must never overflow.
    public static let maximumCount = 1 << 40

    /// Counts outside `0...maximumCount` (an upstream's mistake or malice) are clamped into it.
    public init(inputTokens: Int, outputTokens: Int) {
        self.inputTokens = Self.clamp(inputTokens)
        self.outputTokens = Self.clamp(outputTokens)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            inputTokens: try container.decode(Int.self, forKey: .inputTokens),
            outputTokens: try container.decode(Int.self, forKey: .outputTokens))
    }

    static func clamp(_ count: Int) -> Int { min(max(count, 0), maximumCount) }
}

/// Why generation stopped.
public enum FinishReason: String, Hashable, Sendable, Codable {
    case stop, length, contentFilter = "content_filter", toolCalls = "tool_calls"
}

/// The answer to a ``ChatRequest``.
public struct ChatResponse: Hashable, Sendable {
    public var text: String
    public var finishReason: FinishReason
    public var usage: TokenUsage
    /// The provider that answered, e.g. `local`.
    public var provider: String
    /// The model that answered.
    public var model: String
    /// The endpoint that answered; `builtin` for in-process providers.
    public var endpoint: String
    public var latency: Duration

    public init(
        text: String,
        finishReason: FinishReason,
        usage: TokenUsage,
        provider: String,
        model: String,
        endpoint: String,
        latency: Duration
    ) {
        self.text = text
        self.finishReason = finishReason
        self.usage = usage
        self.provider = provider
        self.model = model
        self.endpoint = endpoint
        self.latency = latency
    }
}

/// One event of a streamed chat: text as it arrives, then one ``end(finishReason:usage:)``.
public enum ChatStreamEvent: Hashable, Sendable {
    /// The next piece of the answer.
    case delta(String)
    /// The answer is complete. `usage` is `nil` when the upstream did not report it.
    case end(finishReason: FinishReason, usage: TokenUsage?)
}

/// A streamed chat answer.
public typealias ChatStream = AsyncThrowingStream<ChatStreamEvent, any Error>

/// A model a provider offers.
public struct ModelInfo: Hashable, Sendable, Codable {
    /// The id to put in requests, e.g. `llama3.2:latest`, `gpt-4o-mini`, `gemini-2.5-flash`.
    public var id: String
    /// The provider's name for the model's owner or family, when it says.
    public var ownedBy: String?
    /// The context window in tokens, when the provider says.
    public var contextWindow: Int?

    public init(id: String, ownedBy: String? = nil, contextWindow: Int? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.contextWindow = contextWindow
    }
}

/// A completion of a bare prompt (no conversation).
public struct GenerateRequest: Hashable, Sendable {
    public var prompt: String
    public var system: String?
    public var model: String?
    public var temperature: Double?
    public var maximumTokens: Int?
    public var stop: [String]

    public init(
        prompt: String, system: String? = nil, model: String? = nil, temperature: Double? = nil,
        maximumTokens: Int? = nil, stop: [String] = []
    ) {
        self.prompt = prompt
        self.system = system
        self.model = model
        self.temperature = temperature
        self.maximumTokens = maximumTokens
        self.stop = stop
    }

    /// The same completion as a one-message chat.
    public var chatRequest: ChatRequest {
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: .system, content: system)) }
        messages.append(ChatMessage(role: .user, content: prompt))
        return ChatRequest(messages: messages, model: model, temperature: temperature, maximumTokens: maximumTokens, stop: stop)
    }
}

/// Answers chat requests.
public protocol ChatProvider: Sendable {
    /// The provider's name, e.g. `local`, `ollama`.
    var name: String { get }
    /// Answers one request.
    func chat(_ request: ChatRequest) async throws -> ChatResponse
    /// Answers one request as a stream of text deltas that ends with the finish reason and usage.
    func streamChat(_ request: ChatRequest) async throws -> ChatStream
    /// Completes a bare prompt.
    func generate(_ request: GenerateRequest) async throws -> ChatResponse
    /// Completes a bare prompt as a stream.
    func streamGenerate(_ request: GenerateRequest) async throws -> ChatStream
    /// The models the provider offers.
    func listModels() async throws -> [ModelInfo]
    /// A cheap check that the provider answers; costs no tokens.
    func checkHealth() async throws
}

extension ChatProvider {
    /// Streams the whole answer as one delta: for providers that cannot stream.
    public func streamChat(_ request: ChatRequest) async throws -> ChatStream {
        let response = try await chat(request)
        return ChatStream { continuation in
            continuation.yield(.delta(response.text))
            continuation.yield(.end(finishReason: response.finishReason, usage: response.usage))
            continuation.finish()
        }
    }

    public func generate(_ request: GenerateRequest) async throws -> ChatResponse {
        try await chat(request.chatRequest)
    }

    public func streamGenerate(_ request: GenerateRequest) async throws -> ChatStream {
        try await streamChat(request.chatRequest)
    }

    public func listModels() async throws -> [ModelInfo] { [] }

    public func checkHealth() async throws {}
}
