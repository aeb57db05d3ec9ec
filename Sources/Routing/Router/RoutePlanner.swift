import Foundation
import Providers

/// What a request asks of the router, beyond its messages.
public struct RouteRequest: Sendable, Equatable {
    /// The per-request contract: `{"requirements": {"max_cost": 0.001, "max_latency_ms": 2000, "min_quality": "high"}}`.
    public struct Requirements: Sendable, Equatable {
        /// USD, for this request's estimated cost (prompt tokens plus `max_tokens` at the candidate's prices).
        public var maximumCostUSD: Double?
        /// Milliseconds, against the candidate's observed p95 latency (unmeasured candidates qualify).
        public var maximumLatencyMilliseconds: Double?
        public var minimumQuality: QualityTier?

        public init(maximumCostUSD: Double? = nil, maximumLatencyMilliseconds: Double? = nil, minimumQuality: QualityTier? = nil) {
            self.maximumCostUSD = maximumCostUSD
            self.maximumLatencyMilliseconds = maximumLatencyMilliseconds
            self.minimumQuality = minimumQuality
        }
    }

    public var tenant: String
    /// A provider name, or `nil`/`auto` for a routed request.
    public var provider: String?
    /// `provider/model`, a bare model, or `nil`/`auto` for a routed request.
    public var model: String?
    public var strategy: String?
    public var task: String?
    public var requirements: Requirements?
    /// Providers to try after the plan's own candidates (the seed API's `fallback`).
    public var fallbackProviders: [String] = []
    /// Prompt tokens, estimated (see ``RoutePlanner/estimateTokens(_:)``).
    public var estimatedInputTokens: Int
    /// The request's `max_tokens`; ``RoutePlanner/assumedOutputTokens`` when absent.
    public var maximumOutputTokens: Int?
    /// Only local providers may answer, whatever the strategy (a grounded answer that uses a private document):
    /// remote candidates are left out and the enabled local chat providers are tried after the plan's own.
    public var requireLocal = false

    public init(
        tenant: String = "default", provider: String? = nil, model: String? = nil, strategy: String? = nil,
        task: String? = nil, requirements: Requirements? = nil, fallbackProviders: [String] = [],
        estimatedInputTokens: Int, maximumOutputTokens: Int? = nil
    ) {
        self.tenant = tenant
        self.provider = provider
        self.model = model
        self.strategy = strategy
        self.task = task
        self.requirements = requirements
        self.fallbackProviders = fallbackProviders
        self.estimatedInputTokens = estimatedInputTokens
        self.maximumOutputTokens = maximumOutputTokens
    }

    /// Whether the request leaves the choice to the router (no provider or model named).
    public var isRouted: Bool {
        (provider ?? "auto") == "auto" && ((model ?? "auto") == "auto" || model == "")
    }
}

/// One provider and model the router may try.
public struct RouteCandidate: Sendable, Equatable {
    public var provider: String
    public var model: String
    public var capabilities: ModelCapabilities
    /// USD, for this request, estimated before the call.
    public var estimatedCostUSD: Double
    /// From the strategy step: skip endpoints above this share of their concurrency.
    public var maximumLoad: Double?

    public var name: String { "\(provider)/\(model)" }
    public var isLocal: Bool { capabilities.isLocal }
}

/// The candidates for one request, in the order they are tried.
public struct RoutePlan: Sendable, Equatable {
    /// The strategy that ordered them; `nil` for a request that named its model.
    public var strategy: String?
    public var candidates: [RouteCandidate]
    /// Only local providers may be contacted (privacy_first, a privacy-mode tenant or a require_local step).
    public var localOnly: Bool
}

/// Why a candidate was left out of a plan.
public struct RouteExclusion: Sendable, Equatable, Codable {
    /// `provider/model`.
    public var candidate: String
    /// The requirement or rule: `max_cost`, `max_latency_ms`, `min_quality`, `context_window`, `max_cost_per_1k`,
    /// `require_local`, `privacy`, `allowed_providers`, `disabled`.
    public var requirement: String
    public var detail: String
}

/// Turns a request into an ordered list of candidates: the strategy's steps, filtered by the tenant's policy, the
/// steps' own conditions and the request's requirements. Pure: what it knows of latency comes from `latency`.
public struct RoutePlanner: Sendable {
    /// Output tokens assumed for cost estimates when a request does not set `max_tokens`.
    public static let assumedOutputTokens = 256

    public let configuration: RoutingConfiguration
    public let registry: ProviderRegistry
    /// The best observed latency of a provider's endpoints, in seconds: p95 and EWMA; `nil` when unmeasured.
    public let latency: @Sendable (String) -> (p95: Double?, ewma: Double?)

    /// The built-in strategies' steps: every enabled chat provider's models (fixed once the registry is built).
    let catalogueSteps: [RoutingConfiguration.StrategyStep]

    public init(
        configuration: RoutingConfiguration, registry: ProviderRegistry,
        latency: @escaping @Sendable (String) -> (p95: Double?, ewma: Double?)
    ) {
        self.configuration = configuration
        self.registry = registry
        self.latency = latency
        catalogueSteps = Self.builtInSteps(registry)
    }

    /// About four characters per token, plus a few per message for the role and framing.
    public static func estimateTokens(_ messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + 4 + ($1.content.utf8.count + 3) / 4 }
    }

    /// The strategy a routed request uses: its own, else its task's, else its tenant's default, else the routing
    /// file's default.
    public func strategyName(for request: RouteRequest) throws -> String {
        if let name = request.strategy, !name.isEmpty {
            guard configuration.strategies[name] != nil || RoutingConfiguration.builtInStrategies.contains(name) else {
                throw RoutingError.unknownStrategy(name, known: knownStrategies)
            }
            return name
        }
        if let task = request.task, !task.isEmpty {
            guard let name = configuration.tasks[task] else {
                throw RoutingError.unknownTask(task, known: configuration.tasks.keys.sorted())
            }
            return name
        }
        return configuration.tenants[request.tenant]?.defaultStrategy ?? configuration.routing.defaultStrategy
    }

    var knownStrategies: [String] {
        Set(configuration.strategies.keys).union(RoutingConfiguration.builtInStrategies).sorted()
    }

    public func plan(_ request: RouteRequest) async throws -> RoutePlan {
        let tenant = configuration.tenants[request.tenant]
        var exclusions: [RouteExclusion] = []
        var candidates: [RouteCandidate] = []
        var strategy: String?
        var localOnly = tenant?.privacyMode == true || request.requireLocal

        if request.isRouted {
            let name = try strategyName(for: request)
            strategy = name
            if name == "privacy_first" { localOnly = true }
            for step in configuration.strategies[name] ?? catalogueSteps {
                guard let entry = registry.entry(named: step.provider), entry.isEnabled, entry.capabilities.chat else {
                    exclusions.append(.init(candidate: step.provider, requirement: "disabled", detail: "the provider is disabled or cannot chat"))
                    continue
                }
                // A step may name only its provider (the design document's `- provider: ollama`): its default model,
                // else the first model it lists.
                var model = step.model ?? registry.defaultModel(of: entry)
                if model == nil { model = try? await registry.models(of: entry).first }
                guard let model else {
                    exclusions.append(
                        .init(
                            candidate: step.provider, requirement: "no_model",
                            detail: "the step names no model, and the provider has no default_model and lists none"))
                    continue
                }
                let candidate = makeCandidate(provider: entry.name, model: model, request: request, maximumLoad: step.maximumLoad)
                if step.requireLocal, !candidate.isLocal {
                    exclusions.append(.init(candidate: candidate.name, requirement: "require_local", detail: "the step requires a local provider"))
                    continue
                }
                if let ceiling = step.maximumCostPer1K {
                    let price = (candidate.capabilities.inputPricePer1K + candidate.capabilities.outputPricePer1K) / 2
                    if price > ceiling {
                        exclusions.append(
                            .init(candidate: candidate.name, requirement: "max_cost_per_1k", detail: "priced \(price) USD per 1k tokens, above \(ceiling)"))
                        continue
                    }
                }
                candidates.append(candidate)
            }
            if configuration.strategies[name]?.allSatisfy(\.requireLocal) == true { localOnly = true }
            switch name {
            case "cost_optimized":
                candidates = stableSorted(candidates) { $0.estimatedCostUSD }
            case "performance":
                // Unmeasured providers sort first: they are tried, and so measured.
                candidates = stableSorted(candidates) { latency($0.provider).ewma ?? 0 }
            default:
                break
            }
        } else {
            let resolution = try await registry.resolve(provider: request.provider, model: request.model)
            candidates.append(makeCandidate(provider: resolution.entry.name, model: resolution.model, request: request, maximumLoad: nil))
            if request.strategy == "privacy_first" { localOnly = true }
        }

        var fallbacks = request.fallbackProviders
        if request.requireLocal {
            fallbacks += registry.entries.filter { $0.isEnabled && $0.capabilities.chat && $0.capabilities.isLocal }.map(\.name)
        }
        for provider in fallbacks where !candidates.contains(where: { $0.provider == provider }) {
            guard let entry = registry.entry(named: provider) else {
                throw RoutingError.unknownProvider(provider, known: registry.entries.map(\.name))
            }
            // A disabled provider, or one without a model to use, is no fallback; the plan goes on without it.
            guard entry.isEnabled, let model = registry.defaultModel(of: entry) else { continue }
            candidates.append(makeCandidate(provider: entry.name, model: model, request: request, maximumLoad: nil))
        }

        let eligible = candidates.filter { candidate in
            if let exclusion = exclusion(of: candidate, request: request, tenant: tenant, localOnly: localOnly) {
                exclusions.append(exclusion)
                return false
            }
            return true
        }
        guard !eligible.isEmpty else {
            if candidates.isEmpty && exclusions.isEmpty { throw RoutingError.noProviderAvailable }
            throw RoutingError.requirementsUnmet(exclusions)
        }
        return RoutePlan(strategy: strategy, candidates: eligible, localOnly: localOnly)
    }

    /// Every enabled provider that chats, with its catalogue chat models or its default model. The built-in `local`
    /// answerer is left out — unless no model server is configured at all, when it stands in for one.
    static func builtInSteps(_ registry: ProviderRegistry) -> [RoutingConfiguration.StrategyStep] {
        var steps: [RoutingConfiguration.StrategyStep] = []
        for entry in registry.entries where entry.isEnabled && entry.capabilities.chat && entry.kind != .local {
            let models = registry.catalogue.filter { $0.provider == entry.name && $0.embeddingDimensions == nil }.map(\.model)
            if models.isEmpty {
                if let model = registry.defaultModel(of: entry) { steps.append(.init(provider: entry.name, model: model)) }
            } else {
                steps.append(contentsOf: models.map { .init(provider: entry.name, model: $0) })
            }
        }
        if steps.isEmpty, let local = registry.entries.first(where: { $0.kind == .local }), let model = registry.defaultModel(of: local) {
            steps.append(.init(provider: local.name, model: model))
        }
        return steps
    }

    func makeCandidate(provider: String, model: String, request: RouteRequest, maximumLoad: Double?) -> RouteCandidate {
        let capabilities = registry.capabilities(provider: provider, model: model)
        let output = request.maximumOutputTokens ?? Self.assumedOutputTokens
        let cost =
            (Double(request.estimatedInputTokens) * capabilities.inputPricePer1K + Double(output) * capabilities.outputPricePer1K) / 1000
        return RouteCandidate(
            provider: provider, model: model, capabilities: capabilities, estimatedCostUSD: cost, maximumLoad: maximumLoad)
    }

    func exclusion(
        of candidate: RouteCandidate, request: RouteRequest, tenant: RoutingConfiguration.TenantPolicy?, localOnly: Bool
    ) -> RouteExclusion? {
        let name = candidate.name
        if localOnly, !candidate.isLocal {
            return .init(candidate: name, requirement: "privacy", detail: "remote providers are never used for local-only (privacy) traffic")
        }
        if let allowed = tenant?.allowedProviders, !allowed.contains(candidate.provider) {
            return .init(candidate: name, requirement: "allowed_providers", detail: "the tenant '\(request.tenant)' may not use \(candidate.provider)")
        }
        if let window = candidate.capabilities.contextWindow {
            // Saturating: both numbers come from the client.
            let (sum, overflow) = request.estimatedInputTokens.addingReportingOverflow(request.maximumOutputTokens ?? 0)
            let needed = overflow ? Int.max : sum
            if needed > window {
                return .init(candidate: name, requirement: "context_window", detail: "needs about \(needed) tokens, the window is \(window)")
            }
        }
        guard let requirements = request.requirements else { return nil }
        if let maximum = requirements.maximumCostUSD, candidate.estimatedCostUSD > maximum {
            return .init(
                candidate: name, requirement: "max_cost",
                detail: "estimated \(Self.format(candidate.estimatedCostUSD)) USD, above \(Self.format(maximum))")
        }
        if let maximum = requirements.maximumLatencyMilliseconds, let p95 = latency(candidate.provider).p95, p95 * 1000 > maximum {
            return .init(
                candidate: name, requirement: "max_latency_ms", detail: "observed p95 \(Int((p95 * 1000).rounded())) ms, above \(Int(maximum))")
        }
        if let minimum = requirements.minimumQuality, candidate.capabilities.quality < minimum {
            return .init(
                candidate: name, requirement: "min_quality", detail: "quality \(candidate.capabilities.quality.rawValue), below \(minimum.rawValue)")
        }
        return nil
    }

    /// A USD amount with up to six decimals and no trailing zeros.
    public static func format(_ usd: Double) -> String {
        let text = String(format: "%.6f", usd)
        var trimmed = Substring(text)
        while trimmed.hasSuffix("0") { trimmed.removeLast() }
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        return String(trimmed)
    }

    private func stableSorted(_ candidates: [RouteCandidate], by key: (RouteCandidate) -> Double) -> [RouteCandidate] {
        candidates.enumerated().sorted { lhs, rhs in
            let (left, right) = (key(lhs.element), key(rhs.element))
            return left != right ? left < right : lhs.offset < rhs.offset
        }.map(\.element)
    }
}
