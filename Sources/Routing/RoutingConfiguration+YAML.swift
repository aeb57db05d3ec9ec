import Foundation
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
    /// Parses a routing file. Keys come from the environment variables it names (`api_key_env`), never from the
    /// file itself. Unknown top-level sections of later versions (`strategies`, `caching`, `rate_limits`, `tenants`,
    /// `tasks`) are accepted.
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
        ]
        for (key, _) in top where !knownSections.contains(key) {
            throw ConfigurationError(
                message: "unknown section; expected one of \(knownSections.sorted().joined(separator: ", "))",
                keyPath: key, line: top.first { $0.0 == key }?.1.line)
        }
        if let routing = top.value("routing") {
            let fields = try routing.mapping()
            if let strategy = fields.value("default_strategy") {
                configuration.routing.defaultStrategy = try strategy.string()
            }
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
        if let embeddings = top.value("embeddings"), let model = try embeddings.mapping().value("model") {
            configuration.embeddingModel = try model.string()
        }
        return configuration
    }

    private static func parseProvider(name: String, node: YAMLNode, environment: [String: String]) throws -> Provider {
        let fields = try node.mapping()
        try fields.rejectUnknown(["type", "endpoints", "timeouts", "keep_alive", "api_version", "default_model", "enabled"])
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
        let isLocalDefault = configuration.provider(named: provider)?.kind == .ollama || provider == "local"
        var model = ModelCapabilities(provider: provider, model: String(key[key.index(after: slash)...]), isLocal: isLocalDefault)
        if let value = fields.value("input_per_1k") { model.inputPricePer1K = try value.number() }
        if let value = fields.value("output_per_1k") { model.outputPricePer1K = try value.number() }
        if let value = fields.value("context_window") { model.contextWindow = try value.integer() }
        if let value = fields.value("local") { model.isLocal = try value.bool() }
        if let value = fields.value("embedding_dimensions") { model.embeddingDimensions = try value.integer() }
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

    init(_ node: Node, path: String) {
        self.node = node
        self.path = path
    }

    var line: Int? { node.mark?.line }

    func error(_ message: String) -> ConfigurationError {
        ConfigurationError(message: message, keyPath: path, line: line)
    }

    func mapping() throws -> [(String, YAMLNode)] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping of `key: value` lines") }
        return try mapping.map { key, value in
            guard let name = key.string else { throw error("keys must be strings") }
            return (name, YAMLNode(value, path: path.isEmpty ? name : "\(path).\(name)"))
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

    func number() throws -> Double {
        guard let value = node.float ?? node.int.map(Double.init) else { throw error("expected a number") }
        return value
    }

    func integer() throws -> Int {
        guard let value = node.int else { throw error("expected a whole number") }
        return value
    }

    func bool() throws -> Bool {
        guard let value = node.bool else { throw error("expected true or false") }
        return value
    }

    /// `250ms`, `10s`, `5m`, or a number of seconds.
    func duration() throws -> Duration {
        let text = try string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value > 0 {
                return .milliseconds(Int64(value * scale * 1000))
            }
        }
        if let seconds = Double(text), seconds > 0 { return .milliseconds(Int64(seconds * 1000)) }
        throw error("expected a positive duration such as 500ms, 10s or 5m")
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
