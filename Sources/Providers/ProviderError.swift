/// An error thrown by a provider, one typed set for every upstream. Messages never contain credentials or
/// upstream bodies (which could echo them).
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case disabled, invalidRequest, unauthorized, modelNotFound, contextLengthExceeded, contentFiltered
            case rateLimited, quotaExceeded, overloaded, timeout, upstreamServerError, connectionFailed, malformedResponse
            case cancelled, unsupported
        }

        private let base: Base
        /// The provider is switched off by configuration; no network call was made.
        public static let disabled = Code(base: .disabled)
        /// The upstream refused the request as malformed (400, 422).
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The key is missing, wrong, or lacks permission (401, 403; Gemini's 400 API_KEY_INVALID).
        public static let unauthorized = Code(base: .unauthorized)
        /// The model does not exist or is not available to this key.
        public static let modelNotFound = Code(base: .modelNotFound)
        /// The prompt does not fit the model's context window.
        public static let contextLengthExceeded = Code(base: .contextLengthExceeded)
        /// The upstream refused the prompt or the answer (safety filters).
        public static let contentFiltered = Code(base: .contentFiltered)
        /// Too many requests (429); ``ProviderError/retryAfter`` says when to retry, if the upstream said.
        public static let rateLimited = Code(base: .rateLimited)
        /// The account's quota or credit is used up (OpenAI's 429 `insufficient_quota`, Gemini's quota 429 without a
        /// retry delay): waiting does not help, another provider may.
        public static let quotaExceeded = Code(base: .quotaExceeded)
        /// The upstream is overloaded (503, Anthropic's 529).
        public static let overloaded = Code(base: .overloaded)
        /// Connecting, the first byte, or the whole call took too long.
        public static let timeout = Code(base: .timeout)
        /// The upstream failed (5xx other than overload); ``ProviderError/status`` has the status.
        public static let upstreamServerError = Code(base: .upstreamServerError)
        /// The upstream could not be reached.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The upstream answered something that cannot be understood (or a stream that was cut).
        public static let malformedResponse = Code(base: .malformedResponse)
        /// The caller went away.
        public static let cancelled = Code(base: .cancelled)
        /// The provider cannot do this at all (embeddings on Anthropic, say).
        public static let unsupported = Code(base: .unsupported)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and what to do about it.
    public var message: String
    /// The provider involved.
    public var provider: String
    /// The upstream HTTP status, when there was one.
    public var status: Int?
    /// How long the upstream asked to wait before retrying.
    public var retryAfter: Duration?

    public init(code: Code, message: String, provider: String, status: Int? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.provider = provider
        self.status = status
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }

    /// Whether another attempt (here or at another provider) may succeed: connection failures, timeouts,
    /// rate limits, overloads and upstream 5xx.
    public var isRetryable: Bool {
        [.rateLimited, .quotaExceeded, .overloaded, .timeout, .upstreamServerError, .connectionFailed].contains(code)
    }

    /// The provider is disabled; no network call was made.
    public static func disabled(provider: String) -> ProviderError {
        ProviderError(
            code: .disabled,
            message: "The provider '\(provider)' is disabled. Configure its endpoint or key, or choose another provider.",
            provider: provider)
    }

    /// The request cannot be answered as asked.
    public static func invalidRequest(provider: String, reason: String) -> ProviderError {
        ProviderError(code: .invalidRequest, message: reason, provider: provider)
    }

    /// The provider's answer is unusable.
    public static func malformedResponse(provider: String, reason: String) -> ProviderError {
        ProviderError(
            code: .malformedResponse, message: "The provider '\(provider)' returned an unusable response: \(reason).",
            provider: provider)
    }

    /// The provider cannot do this.
    public static func unsupported(provider: String, what: String) -> ProviderError {
        ProviderError(code: .unsupported, message: "The provider '\(provider)' does not support \(what).", provider: provider)
    }
}
