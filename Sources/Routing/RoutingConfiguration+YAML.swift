import Foundation
import Lifecycle
import Providers
import Yams

/// Why a routing file was refused: names the key path and the line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// `providers.openai.endpoints[0].url`
    public var keyPath: String
    /// 1-based line in the file, when known.
    public var line: Int?

    public init(message: String, keyPath: String, line: Int?) {
        self.message = message
        self.keyPath = keyPath
        self.line = line
    }

    public var description: String {
        (line.map { "line \($0): " } ?? "") + (keyPath.isEmpty ? "" : "\(keyPath): ") + message
    }
}

extension RoutingConfiguration {
    /// The strategies every configuration has, applied to the model catalogue unless the file lists their steps.
    public static let builtInStrategies: Set<String> = ["cost_optimized", "performance", "privacy_first"]

    /// Sections that may stand under `routing:` (the design document's form) or at the top level.
    static let routingSections: Set<String> = ["strategies", "caching", "rate_limits"]

    /// Parses a routing file. Keys come from the environment variables it names (`api_key_env`), never from the
    /// file itself.
    public static func parse(yaml: String, environment: [String: String]) throws -> RoutingConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError(message: "not valid YAML (\(Self.describe(error)))", keyPath: "", line: Self.line(of: error))
        }
        var configuration = RoutingConfiguration()
        guard let root else { return configuration }
        let top = try YAMLNode(root, path: "").mapping()
        let knownSections: Set<String> = [
            "routing", "providers", "models", "embeddings", "strategies", "caching", "rate_limits", "tenants", "tasks",
            "health", "schedules", "lifecycle", "ingest", "server", "backups", "retrieval",
        ]
        for (key, _) in top where !knownSections.contains(key) {
            throw ConfigurationError(
                message: "unknown section; expected one of \(knownSections.sorted().joined(separator: ", "))",
                keyPath: key, line: top.first { $0.0 == key }?.1.line)
        }
        // The design document nests `strategies`, `caching` and `rate_limits` under `routing:`; the top level is
        // accepted too, but a section given in both places is ambiguous and refused.
        let routingFields = try top.value("routing")?.mapping() ?? []
        try routingFields.rejectUnknown(routingSections.union(["default_strategy"]))
        func section(_ name: String) throws -> YAMLNode? {
            let nested = routingFields.value(name)
            let topLevel = top.value(name)
            if let nested, let topLevel {
                throw ConfigurationError(
                    message: "`\(name)` is given both under `routing:`\(nested.keyLine.map { " (line \($0))" } ?? "") and at the "
                        + "top level; keep one (the design document nests it under `routing:`)",
                    keyPath: name, line: topLevel.keyLine)
            }
            return nested ?? topLevel
        }
        if let strategy = routingFields.value("default_strategy") {
            configuration.routing.defaultStrategy = try strategy.string()
        }
        if let providers = top.value("providers") {
            for (name, node) in try providers.mapping() {
                configuration.providers.append(try parseProvider(name: name, node: node, environment: environment))
            }
        }
        if let models = top.value("models") {
            for (key, node) in try models.mapping() {
                configuration.models.append(try parseModel(key: key, node: node, configuration: configuration))
            }
        }
        if let embeddings = top.value("embeddings") {
            let fields = try embeddings.mapping()
            try fields.rejectUnknown(["model"])
            if let model = fields.value("model") { configuration.embeddingModel = try model.string() }
        }
        if let strategies = try section("strategies") {
            for (name, node) in try strategies.mapping() {
                configuration.strategies[name] = try node.sequence().map(parseStrategyStep)
            }
        }
        if let caching = try section("caching") { configuration.caching = try parseCaching(caching) }
        if let limits = try section("rate_limits") {
            let fields = try limits.mapping()
            try fields.rejectUnknown(["per_tenant", "per_provider"])
            configuration.rateLimits.perTenant = try fields.value("per_tenant")?.rateLimit()
            configuration.rateLimits.perProvider = try fields.value("per_provider")?.rateLimit()
        }
        if let tenants = top.value("tenants") {
            for (name, node) in try tenants.mapping() {
                guard TenantName.isValid(name) else {
                    throw node.error("'\(name)' is not a valid tenant name: use 1-63 letters, digits, '.', '_' or '-'")
                }
                configuration.tenants[name] = try parseTenant(name: name, node: node)
            }
        }
        if let tasks = top.value("tasks") {
            for (task, node) in try tasks.mapping() { configuration.tasks[task] = try node.string() }
        }
        if let health = top.value("health") {
            let fields = try health.mapping()
            try fields.rejectUnknown(["probe_interval", "failure_threshold", "cooldown"])
            if let value = fields.value("probe_interval") { configuration.health.probeInterval = try value.duration() }
            if let value = fields.value("cooldown") { configuration.health.cooldown = try value.duration() }
            if let value = fields.value("failure_threshold") {
                configuration.health.failureThreshold = try value.integer()
                guard configuration.health.failureThreshold > 0 else { throw value.error("must be at least 1") }
            }
        }
        if let schedules = top.value("schedules") {
            for node in try schedules.sequence() {
                let schedule = try parseSchedule(node)
                guard !configuration.schedules.contains(where: { $0.name == schedule.name }) else {
                    throw node.error("a second schedule named '\(schedule.name)'; schedule names are unique")
                }
                configuration.schedules.append(schedule)
            }
        }
        if let lifecycle = top.value("lifecycle") { configuration.lifecycle = try parseLifecycle(lifecycle, environment: environment) }
        if configuration.lifecycle.ollamaModelsDirectory == nil, let directory = environment["OLLAMA_MODELS"], !directory.isEmpty {
            configuration.lifecycle.ollamaModelsDirectory = directory
        }
        if let ingest = top.value("ingest") { configuration.ingest = try parseIngest(ingest) }
        if let retrieval = top.value("retrieval") { configuration.retrieval = try parseRetrieval(retrieval) }
        if let server = top.value("server") {
            let fields = try server.mapping()
            try fields.rejectUnknown(["auth"])
            if let auth = fields.value("auth") {
                let mode = try auth.string()
                guard ["none", "keys"].contains(mode) else { throw auth.error("must be none or keys") }
                configuration.serverAuthentication = mode
            }
        }
        if let backups = top.value("backups") { configuration.backups = try parseBackups(backups) }
        try validateReferences(configuration, top: top)
        return configuration
    }

    /// The `lifecycle:` section (the cleanup policy; `models:` is the model catalogue).
    private static func parseLifecycle(_ node: YAMLNode, environment: [String: String]) throws -> Lifecycle {
        let fields = try node.mapping()
        try fields.rejectUnknown(["ollama_models_dir", "keep", "max_idle_days", "disk_budget", "orphan_grace", "remove_orphans"])
        var lifecycle = Lifecycle()
        lifecycle.ollamaModelsDirectory = try fields.value("ollama_models_dir")?.string()
        var policy = CleanupPolicy()
        func policyValue<T>(_ field: YAMLNode, _ read: () throws -> T) throws -> T {
            do {
                return try read()
            } catch let error as CleanupPolicyError {
                throw field.error(error.message)
            }
        }
        if let keep = fields.value("keep") {
            policy.keep = try keep.sequence().map { item in try policyValue(item) { try ModelNamePattern(try item.string()) } }
        }
        if let idle = fields.value("max_idle_days") {
            let days = try idle.integer()
            guard (1...CleanupPolicy.maximumIdleDays).contains(days) else {
                throw idle.error("max_idle_days is a whole number of days from 1 to \(CleanupPolicy.maximumIdleDays)")
            }
            policy.maxIdleDays = days
        }
        if let budget = fields.value("disk_budget") {
            policy.diskBudget = try policyValue(budget) { try CleanupPolicy.parseByteSize(try budget.string()) }
        }
        if let grace = fields.value("orphan_grace") {
            policy.orphanGrace = try policyValue(grace) { try CleanupPolicy.parseDuration(try grace.string()) }
        }
        if let remove = fields.value("remove_orphans") { policy.removeOrphans = try remove.bool() }
        try policyValue(node) { try policy.validate() }
        lifecycle.policy = policy
        return lifecycle
    }

    /// `{name: nightly, job: housekeeping, cron: "0 3 * * *", time_zone: Europe/Berlin, catch_up: 6h}`.
    private static func parseSchedule(_ node: YAMLNode) throws -> JobSchedule {
        let fields = try node.mapping()
        try fields.rejectUnknown(["name", "job", "cron", "time_zone", "catch_up"])
        guard let nameNode = fields.value("name") else { throw node.error("a schedule needs a `name`") }
        let name = try nameNode.string()
        guard TenantName.isValid(name) else {
            throw nameNode.error("'\(name.prefix(80))' is not a valid schedule name: use 1-63 letters, digits, '.', '_' or '-'")
        }
        guard let jobNode = fields.value("job") else { throw node.error("a schedule needs a `job` (its kind)") }
        let kind = JobKind(try jobNode.string())
        guard schedulableKinds.contains(kind) else {
            throw jobNode.error(
                "unknown job '\(kind.name.prefix(80))'; this version schedules \(schedulableKinds.map(\.name).joined(separator: ", "))")
        }
        guard let cronNode = fields.value("cron") else { throw node.error("a schedule needs a `cron` expression") }
        let expression: CronExpression
        do {
            expression = try CronExpression(try cronNode.string())
        } catch let error as CronError {
            throw cronNode.error(error.message)
        }
        guard expression.isSatisfiable else {
            throw cronNode.error("the expression names no date that exists (such as 30 February); it would never run")
        }
        let timeZone = try fields.value("time_zone")?.timeZone() ?? .gmt
        var schedule = JobSchedule(name: name, kind: kind, cron: CronSchedule(expression: expression, timeZone: timeZone))
        if let catchUp = fields.value("catch_up") { schedule.catchUp = try catchUp.duration() }
        return schedule
    }

    private static func parseStrategyStep(_ node: YAMLNode) throws -> StrategyStep {
        let fields = try node.mapping()
        try fields.rejectUnknown(["provider", "model", "max_load", "max_cost_per_1k", "require_local"])
        guard let provider = fields.value("provider") else { throw node.error("a strategy step needs a `provider`") }
        var step = StrategyStep(provider: try provider.string())
        step.model = try fields.value("model")?.string()
        if let value = fields.value("max_load") {
            let load = try value.number()
            guard load > 0, load <= 1 else { throw value.error("max_load is a share of the endpoint's concurrency, in (0, 1]") }
            step.maximumLoad = load
        }
        if let value = fields.value("max_cost_per_1k") {
            step.maximumCostPer1K = try value.number()
            guard step.maximumCostPer1K! >= 0 else { throw value.error("must not be negative") }
        }
        if let value = fields.value("require_local") { step.requireLocal = try value.bool() }
        return step
    }

    private static func parseCaching(_ node: YAMLNode) throws -> Caching {
        let fields = try node.mapping()
        try fields.rejectUnknown(["enabled", "backend", "ttl", "max_entries"])
        var caching = Caching()
        caching.enabled = try fields.value("enabled")?.bool() ?? true
        if let value = fields.value("backend") {
            switch try value.string() {
            case "memory": caching.backend = .memory
            case "postgres", "postgresql": caching.backend = .postgres
            case "redis":
                // The design document names redis; the appliance shares its cache through its own PostgreSQL, so no
                // extra service is needed — and it says so rather than silently meaning something else.
                caching.backend = .postgres
                caching.requestedBackend = "redis"
            default: throw value.error("backend is postgres, redis (kept in PostgreSQL) or memory")
            }
        }
        if let value = fields.value("ttl") { caching.timeToLive = try value.duration() }
        if let value = fields.value("max_entries") {
            caching.maximumEntries = try value.integer()
            guard caching.maximumEntries > 0 else { throw value.error("must be at least 1") }
        }
        return caching
    }

    private static func parseTenant(name: String, node: YAMLNode) throws -> TenantPolicy {
        let fields = try node.mapping()
        try fields.rejectUnknown([
            "allowed_providers", "default_strategy", "privacy_mode", "budget", "rate_limit", "cache_ttl",
        ])
        var tenant = TenantPolicy(name: name)
        if let list = fields.value("allowed_providers") { tenant.allowedProviders = try list.sequence().map { try $0.string() } }
        tenant.defaultStrategy = try fields.value("default_strategy")?.string()
        tenant.privacyMode = try fields.value("privacy_mode")?.bool() ?? false
        tenant.rateLimit = try fields.value("rate_limit")?.rateLimit()
        tenant.cacheTimeToLive = try fields.value("cache_ttl")?.duration()
        if let budget = fields.value("budget") {
            let values = try budget.mapping()
            try values.rejectUnknown(["daily_usd", "monthly_usd"])
            var limits = Budget()
            for (key, value) in values {
                let amount = try value.number()
                guard amount >= 0 else { throw value.error("a budget must not be negative") }
                if key == "daily_usd" { limits.dailyUSD = amount } else { limits.monthlyUSD = amount }
            }
            tenant.budget = limits
        }
        return tenant
    }

    /// Strategies, tasks and tenants must name strategies and providers that exist.
    private static func validateReferences(_ configuration: RoutingConfiguration, top: [(String, YAMLNode)]) throws {
        // Providers the environment may supply even when the file does not list them.
        let providerNames = Set(configuration.providers.map(\.name)).union(["ollama", "openai", "anthropic", "google", "local"])
        let strategyNames = Set(configuration.strategies.keys).union(builtInStrategies)
        func node(_ path: String...) -> YAMLNode? {
            var fields = top
            if let first = path.first, routingSections.contains(first), top.value(first) == nil,
                let routing = try? top.value("routing")?.mapping()
            {
                fields = routing
            }
            var found: YAMLNode?
            for key in path {
                guard let next = fields.value(key) else { return found }
                found = next
                fields = (try? next.mapping()) ?? []
            }
            return found
        }
        func unknownStrategy(_ name: String, at location: YAMLNode?) -> ConfigurationError {
            ConfigurationError(
                message: "unknown strategy '\(name)'; define it under `strategies:` or use one of \(strategyNames.sorted().joined(separator: ", "))",
                keyPath: location?.path ?? "", line: location?.line)
        }
        if !strategyNames.contains(configuration.routing.defaultStrategy) {
            throw unknownStrategy(configuration.routing.defaultStrategy, at: node("routing", "default_strategy"))
        }
        for (name, steps) in configuration.strategies {
            for (index, step) in steps.enumerated() where !providerNames.contains(step.provider) {
                let location = (try? node("strategies", name)?.sequence())?[index]
                throw ConfigurationError(
                    message: "unknown provider '\(step.provider)'; configure it under `providers:`",
                    keyPath: location?.path ?? "strategies.\(name)", line: location?.line)
            }
        }
        for (task, strategy) in configuration.tasks where !strategyNames.contains(strategy) {
            throw unknownStrategy(strategy, at: node("tasks", task))
        }
        for (name, tenant) in configuration.tenants {
            if let strategy = tenant.defaultStrategy, !strategyNames.contains(strategy) {
                throw unknownStrategy(strategy, at: node("tenants", name, "default_strategy"))
            }
            for provider in tenant.allowedProviders ?? [] where !providerNames.contains(provider) {
                let location = node("tenants", name, "allowed_providers")
                throw ConfigurationError(
                    message: "unknown provider '\(provider)'", keyPath: location?.path ?? "tenants.\(name)", line: location?.line)
            }
        }
    }

    private static func parseProvider(name: String, node: YAMLNode, environment: [String: String]) throws -> Provider {
        let fields = try node.mapping()
        try fields.rejectUnknown([
            "type", "endpoints", "timeouts", "keep_alive", "api_version", "default_model", "enabled", "load_balancing",
        ])
        let kindName = try fields.value("type")?.string() ?? (name == "google" ? "gemini" : name)
        guard var kind = ProviderKind(rawValue: kindName), kind != .local else {
            throw fields.value("type").map { $0.error("unknown provider type '\(kindName)'; use ollama, openai, anthropic, gemini or disabled") }
                ?? node.error("set `type:` (ollama, openai, anthropic, gemini) for the provider '\(name)'")
        }
        if let enabled = fields.value("enabled"), try enabled.bool() == false { kind = .disabled }
        var endpoints: [Endpoint] = []
        if let list = fields.value("endpoints") {
            for endpoint in try list.sequence() {
                let values = try endpoint.mapping()
                try values.rejectUnknown(["url", "weight", "api_key_env", "max_concurrency"])
                guard let urlNode = values.value("url") else { throw endpoint.error("an endpoint needs a `url`") }
                let url = try urlNode.string()
                guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil
                else { throw urlNode.error("`\(url)` is not an http(s) URL") }
                guard parsed.user == nil, parsed.password == nil, parsed.query == nil else {
                    throw urlNode.error("put credentials in an environment variable named by `api_key_env`, not in the URL")
                }
                var item = Endpoint(url: url)
                if let weight = values.value("weight") {
                    item.weight = try weight.number()
                    guard item.weight > 0 else { throw weight.error("the weight must be positive") }
                }
                if let concurrency = values.value("max_concurrency") {
                    item.maximumConcurrency = try concurrency.integer()
                    guard item.maximumConcurrency > 0 else { throw concurrency.error("must be at least 1") }
                }
                if let variable = values.value("api_key_env") {
                    let variableName = try variable.string()
                    item.apiKeyVariable = variableName
                    if let key = environment[variableName], !key.isEmpty { item.apiKey = Secret(key) }
                }
                endpoints.append(item)
            }
        }
        if endpoints.isEmpty, kind != .disabled {
            throw node.error("the provider '\(name)' needs at least one entry under `endpoints:` (or `enabled: false`)")
        }
        var provider = Provider(name: name, kind: kind, endpoints: endpoints)
        provider.keepAlive = try fields.value("keep_alive")?.string()
        provider.apiVersion = try fields.value("api_version")?.string()
        provider.defaultModel = try fields.value("default_model")?.string()
        if let value = fields.value("load_balancing") {
            let name = try value.string()
            guard let policy = LoadBalancing(rawValue: name) else {
                throw value.error("load_balancing is round_robin, least_connections or health")
            }
            provider.loadBalancing = policy
        }
        if let timeouts = fields.value("timeouts") {
            let values = try timeouts.mapping()
            try values.rejectUnknown(["connect", "first_byte", "total"])
            if let value = values.value("connect") { provider.timeouts.connect = try value.duration() }
            if let value = values.value("first_byte") { provider.timeouts.firstByte = try value.duration() }
            if let value = values.value("total") { provider.timeouts.total = try value.duration() }
        }
        return provider
    }

    private static func parseModel(key: String, node: YAMLNode, configuration: RoutingConfiguration) throws
        -> ModelCapabilities
    {
        guard let slash = key.firstIndex(of: "/"), slash != key.startIndex, slash != key.index(before: key.endIndex) else {
            throw node.error("name catalogue entries `provider/model` (e.g. openai/gpt-4o-mini)")
        }
        let provider = String(key[..<slash])
        let fields = try node.mapping()
        try fields.rejectUnknown([
            "input_per_1k", "output_per_1k", "context_window", "quality", "local", "embedding_dimensions",
        ])
        // Ollama (configured in the file, or from OLLAMA_HOST under its own name) runs on the appliance's network.
        let kind = configuration.provider(named: provider)?.kind ?? (provider == "ollama" ? .ollama : nil)
        let isLocalDefault = kind == .ollama || provider == "local"
        var model = ModelCapabilities(provider: provider, model: String(key[key.index(after: slash)...]), isLocal: isLocalDefault)
        func price(_ value: YAMLNode) throws -> Double {
            let price = try value.number()
            guard price >= 0, price.isFinite else { throw value.error("a price must not be negative") }
            return price
        }
        func positive(_ value: YAMLNode) throws -> Int {
            let number = try value.integer()
            guard number > 0 else { throw value.error("must be at least 1") }
            return number
        }
        if let value = fields.value("input_per_1k") { model.inputPricePer1K = try price(value) }
        if let value = fields.value("output_per_1k") { model.outputPricePer1K = try price(value) }
        if let value = fields.value("context_window") { model.contextWindow = try positive(value) }
        if let value = fields.value("local") { model.isLocal = try value.bool() }
        if let value = fields.value("embedding_dimensions") { model.embeddingDimensions = try positive(value) }
        if let value = fields.value("quality") {
            let name = try value.string()
            guard let tier = QualityTier(rawValue: name) else { throw value.error("quality is low, medium or high") }
            model.quality = tier
        }
        return model
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _):
            return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
        default:
            return "\(error)"
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

/// A YAML node with its key path, whose accessors fail with the path and line.
struct YAMLNode {
    let node: Node
    let path: String
    /// The line of the key this node is the value of, when it is one.
    let keyLine: Int?

    init(_ node: Node, path: String, keyLine: Int? = nil) {
        self.node = node
        self.path = path
        self.keyLine = keyLine
    }

    var line: Int? { node.mark?.line }

    func error(_ message: String) -> ConfigurationError {
        ConfigurationError(message: message, keyPath: path, line: line)
    }

    func mapping() throws -> [(String, YAMLNode)] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping of `key: value` lines") }
        return try mapping.map { key, value in
            guard let name = key.string else { throw error("keys must be strings") }
            return (name, YAMLNode(value, path: path.isEmpty ? name : "\(path).\(name)", keyLine: key.mark?.line))
        }
    }

    func sequence() throws -> [YAMLNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list (`- item` lines)") }
        return sequence.enumerated().map { YAMLNode($1, path: "\(path)[\($0)]") }
    }

    func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a single value") }
        return scalar.string
    }

    /// A finite decimal number. Parsed here rather than by Yams, whose YAML 1.1 forms (`.inf`, base 60 such as
    /// `1:1:1:1`) are no prices or weights, and whose base-60 integer parser can overflow.
    func number() throws -> Double {
        guard case .scalar(let scalar) = node, let value = Double(Self.numeral(scalar.string)), value.isFinite else {
            throw error("expected a number")
        }
        return value
    }

    /// A whole decimal number within `Int`'s range.
    func integer() throws -> Int {
        guard case .scalar(let scalar) = node, let value = Int(Self.numeral(scalar.string)) else {
            throw error("expected a whole number")
        }
        return value
    }

    /// A number from `range`'s lower to its upper bound, or an error naming them.
    func number(in range: ClosedRange<Double>) throws -> Double {
        let value = try number()
        guard range.contains(value) else {
            throw error("expected a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A whole number from `range`'s lower to its upper bound, or an error naming them.
    func integer(in range: ClosedRange<Int>) throws -> Int {
        let value = try integer()
        guard range.contains(value) else {
            throw error("expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `1_000` as `1000`, without surrounding blanks.
    static func numeral(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
    }

    func bool() throws -> Bool {
        guard let value = node.bool else { throw error("expected true or false") }
        return value
    }

    /// `1000/hour`.
    func rateLimit() throws -> RateLimit {
        let text = try string()
        guard let limit = RateLimit(parsing: text) else {
            throw error("expected requests per period, such as 1000/hour (second, minute, hour or day)")
        }
        return limit
    }

    /// `250ms`, `10s`, `5m`, or a number of seconds.
    func duration() throws -> Duration {
        let text = try string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        // At most a year: longer is a mistake, and a huge or infinite value cannot be represented.
        // At least a millisecond: a zero interval would make a probe loop spin.
        func bounded(_ seconds: Double) -> Duration? {
            seconds >= 0.001 && seconds <= 366 * 86_400 ? .milliseconds(Int64(seconds * 1000)) : nil
        }
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), let duration = bounded(value * scale) { return duration }
        }
        if let seconds = Double(text), let duration = bounded(seconds) { return duration }
        throw error("expected a positive duration of at most a year, such as 500ms, 10s or 5m")
    }
}

extension Array where Element == (String, YAMLNode) {
    func value(_ key: String) -> YAMLNode? { first { $0.0 == key }?.1 }

    func rejectUnknown(_ known: Set<String>) throws {
        for (key, node) in self where !known.contains(key) {
            throw node.error("unknown key; expected one of \(known.sorted().joined(separator: ", "))")
        }
    }
}
