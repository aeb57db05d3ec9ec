import Foundation

/// Why a request could not be given a provider and model.
public struct RoutingError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded.
    public enum Code: String, Sendable {
        case unknownProvider = "unknown_provider"
        case unknownModel = "model_not_found"
        case modelRequired = "model_required"
        case noProviderAvailable = "no_provider_available"
        case unknownEmbeddingModel = "unknown_embedding_model"
        case unknownStrategy = "unknown_strategy"
        case unknownTask = "unknown_task"
        /// No candidate meets the request's requirements or the tenant's policy; ``RoutingError/exclusions`` says why.
        case requirementsUnmet = "requirements_unmet"
        /// The tenant's or a provider's rate limit is used up; ``RoutingError/rateLimit`` has the numbers.
        case rateLimited = "rate_limit_exceeded"
        /// The tenant's budget for the day or month is spent.
        case budgetExceeded = "budget_exceeded"
        /// The tenant has a budget and the ledger that keeps it cannot be reached.
        case budgetUnavailable = "budget_unavailable"
        /// Every candidate failed; ``RoutingError/attempts`` lists them.
        case allCandidatesFailed = "all_candidates_failed"
    }

    /// One failed attempt, for the error that reports them all.
    public struct Attempt: Sendable, Equatable, Codable {
        /// `provider/model`.
        public var candidate: String
        /// The endpoint's display name.
        public var endpoint: String
        /// The failure's code (`timeout`, `upstreamServerError`, …).
        public var error: String
    }

    public var code: Code
    public var message: String
    /// Why each candidate was left out (``Code/requirementsUnmet``).
    public var exclusions: [RouteExclusion] = []
    /// What was tried (``Code/allCandidatesFailed``).
    public var attempts: [Attempt] = []
    /// When a retry may succeed.
    public var retryAfter: Duration?
    /// The limit that refused the request (``Code/rateLimited``).
    public var rateLimit: RateLimitStatus?
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    static func unknownStrategy(_ name: String, known: [String]) -> RoutingError {
        RoutingError(code: .unknownStrategy, message: "Unknown strategy '\(name)'. Known: \(known.joined(separator: ", ")).")
    }

    static func unknownTask(_ name: String, known: [String]) -> RoutingError {
        RoutingError(
            code: .unknownTask,
            message: "Unknown task '\(name)'. "
                + (known.isEmpty ? "The routing file maps no tasks (`tasks:`)." : "Known: \(known.joined(separator: ", "))."))
    }

    static func requirementsUnmet(_ exclusions: [RouteExclusion]) -> RoutingError {
        let reasons = exclusions.map { "\($0.candidate) (\($0.requirement): \($0.detail))" }.joined(separator: "; ")
        var error = RoutingError(
            code: .requirementsUnmet,
            message: "No provider meets this request: \(reasons). Relax the requirements or configure a candidate that meets them.")
        error.exclusions = exclusions
        return error
    }

    static func unknownProvider(_ name: String, known: [String]) -> RoutingError {
        RoutingError(code: .unknownProvider, message: "Unknown provider '\(name)'. Configured: \(known.joined(separator: ", ")).")
    }

    static func unknownModel(_ model: String) -> RoutingError {
        RoutingError(
            code: .unknownModel,
            message: "No configured provider offers the model '\(model)'. Name it as provider/model (e.g. ollama/\(model)) "
                + "or add it to the model catalogue.")
    }

    static func modelRequired(provider: String) -> RoutingError {
        RoutingError(
            code: .modelRequired,
            message: "Name a model for the provider '\(provider)' (or set its default_model in the routing file).")
    }

    static let noProviderAvailable = RoutingError(
        code: .noProviderAvailable,
        message: "No provider is configured for `auto`. Set OLLAMA_HOST, OPENAI_API_KEY, ANTHROPIC_API_KEY or "
            + "GEMINI_API_KEY, or configure providers in ai_routing.yaml.")

    static func unknownEmbeddingModel(_ name: String) -> RoutingError {
        RoutingError(
            code: .unknownEmbeddingModel,
            message: "Unknown embedding model '\(name)'. Use `local`, `minilm` or provider/model (e.g. openai/text-embedding-3-small).")
    }

    static func embeddingDimensionsUnknown(_ name: String) -> RoutingError {
        RoutingError(
            code: .unknownEmbeddingModel,
            message: "The embedding model '\(name)' needs `embedding_dimensions` in the routing file's model catalogue.")
    }
}
