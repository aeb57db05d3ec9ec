import Foundation
import HTTPTypes
import Hummingbird
import Providers
import Routing

/// The appliance's routing fields, accepted by `/api/ai/*` and (as extra body fields) by `/v1/chat/completions`:
/// `tenant`, `strategy`, `task`, `requirements`, `cache`, `fallback`.
struct RoutingOptions: Decodable {
    struct Requirements: Decodable {
        var maxCost: Double?
        var maxLatencyMs: Double?
        var minQuality: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case maxCost = "max_cost", maxLatencyMs = "max_latency_ms", minQuality = "min_quality"
        }

        /// The router's form, validated: a negative or infinite number, or an unknown tier, is a 400.
        func parsed() throws -> RouteRequest.Requirements {
            var parsed = RouteRequest.Requirements()
            if let cost = maxCost {
                guard cost >= 0, cost.isFinite else { throw APIError.invalidRequest("requirements.max_cost must be a finite number of USD, not negative.") }
                parsed.maximumCostUSD = cost
            }
            if let latency = maxLatencyMs {
                guard latency > 0, latency.isFinite else { throw APIError.invalidRequest("requirements.max_latency_ms must be a positive, finite number of milliseconds.") }
                parsed.maximumLatencyMilliseconds = latency
            }
            if let quality = minQuality {
                guard let tier = QualityTier(rawValue: quality) else {
                    throw APIError.invalidRequest("requirements.min_quality is low, medium or high.")
                }
                parsed.minimumQuality = tier
            }
            return parsed
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

    var tenant: String?
    var strategy: String?
    var task: String?
    var requirements: Requirements?
    var cache: Bool?
    var fallback: Fallback?

    /// Declared so that the OpenAPI drift test can list them.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case tenant, strategy, task, requirements, cache, fallback
    }

    /// The tenant header, for clients that cannot add body fields.
    static let tenantHeader = RequestTenant.header

    /// The largest `max_tokens` accepted: above any model's output (and so never near `Int`'s limits).
    static let maximumOutputTokens = 10_000_000

    /// The route request for `messages`, validated: a bad tenant name, name or requirement is a 400.
    func routeRequest(
        provider: String?, model: String?, messages: [ChatMessage], maximumTokens: Int?, headers: HTTPFields,
        registry: ProviderRegistry, limits: ServerConfiguration.Limits = .init()
    ) throws -> RouteRequest {
        for (field, value) in [("provider", provider), ("model", model), ("strategy", strategy), ("task", task)] {
            if let value, value.utf8.count > limits.maximumNameBytes {
                throw APIError.invalidRequest(
                    "The field '\(field)' is \(value.utf8.count) bytes long; names are at most \(limits.maximumNameBytes).")
            }
        }
        // An empty provider means what no provider means: routed. (So does `auto`.)
        let provider = provider.flatMap { $0.isEmpty ? nil : $0 }
        let tenant = try RequestTenant.resolve(bodyTenant: tenant, headers: headers)
        var route = RouteRequest(
            tenant: tenant, provider: provider, model: model, strategy: strategy, task: task,
            estimatedInputTokens: RoutePlanner.estimateTokens(messages), maximumOutputTokens: maximumTokens)
        if let maximumTokens, !(1...Self.maximumOutputTokens).contains(maximumTokens) {
            throw APIError.invalidRequest("max_tokens must be between 1 and \(Self.maximumOutputTokens).")
        }
        route.requirements = try requirements?.parsed()
        if let fallback {
            let primary = provider ?? model?.split(separator: "/").first.map(String.init)
            if let providers = fallback.providers {
                route.fallbackProviders = providers.filter { $0 != primary }
            } else if fallback.everyOther {
                route.fallbackProviders = registry.entries.filter {
                    $0.isEnabled && $0.capabilities.chat && $0.name != primary && $0.kind != .local
                }.map(\.name)
            }
        }
        return route
    }
}

/// The `x-unity-*` and `X-RateLimit-*` response headers.
enum RouteHeaders {
    static let route = HTTPField.Name("x-unity-route")!
    static let fallbacks = HTTPField.Name("x-unity-fallbacks")!
    static let cache = HTTPField.Name("x-unity-cache")!
    static let cost = HTTPField.Name("x-unity-cost-usd")!
    static let strategy = HTTPField.Name("x-unity-strategy")!
    static let limit = HTTPField.Name("x-ratelimit-limit")!
    static let remaining = HTTPField.Name("x-ratelimit-remaining")!
    static let reset = HTTPField.Name("x-ratelimit-reset")!

    static func apply(_ outcome: RouteOutcome, to headers: inout HTTPFields) {
        headers[route] = outcome.header
        headers[fallbacks] = "\(outcome.fallbacks.count)"
        headers[cache] = outcome.cache.rawValue
        if let cost = outcome.costUSD { headers[self.cost] = RoutePlanner.format(cost) }
        if let strategy = outcome.strategy { headers[self.strategy] = strategy }
        if let status = outcome.rateLimit { apply(status, to: &headers) }
    }

    static func apply(_ status: RateLimitStatus, to headers: inout HTTPFields) {
        headers[limit] = "\(status.limit)"
        headers[remaining] = "\(status.remaining)"
        // Seconds until the window resets (as the IETF RateLimit header fields count it; not an epoch time).
        headers[reset] = "\(max(0, Int(status.reset.timeIntervalSinceNow.rounded(.up))))"
    }
}
