import Foundation
import Lifecycle
import Providers

/// The routing file (`ai_routing.yaml`): providers and their endpoints, the model catalogue, the embedding model,
/// and the seed's `routing:` block. Every section is optional; a file holding only `routing:` is valid and the
/// providers then come from the environment (see ``RoutingConfiguration/fromEnvironment(_:)``).
public struct RoutingConfiguration: Sendable, Equatable {
    /// The seed's `routing:` block.
    public struct Routing: Sendable, Equatable, Codable {
        /// The strategy used when a request names none. Defaults to `cost_optimized`.
        public var defaultStrategy: String = "cost_optimized"

        public init(defaultStrategy: String = "cost_optimized") {
            self.defaultStrategy = defaultStrategy
        }

        enum CodingKeys: String, CodingKey {
            case defaultStrategy = "default_strategy"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            defaultStrategy = try container.decodeIfPresent(String.self, forKey: .defaultStrategy) ?? "cost_optimized"
        }
    }

    /// The wire protocol a provider speaks.
    public enum ProviderKind: String, Sendable, Equatable, Codable, CaseIterable {
        case ollama, openai, anthropic, gemini, disabled
        /// The built-in extractive answerer and hashing embedder; always present, never configured.
        case local
    }

    /// One upstream of a provider.
    public struct Endpoint: Sendable, Equatable {
        public var url: String
        /// Share of the traffic relative to the provider's other endpoints. Defaults to 1.
        public var weight: Double = 1
        /// The API key; read from the environment variable the file names (`api_key_env`), never from the file.
        public var apiKey: Secret?
        /// The environment variable the key comes from, for messages.
        public var apiKeyVariable: String?
        /// The endpoint's capacity in concurrent requests. Defaults to 16. Not a hard cap: a strategy step's
        /// `max_load` is a share of it.
        public var maximumConcurrency: Int = 16

        public init(url: String, weight: Double = 1, apiKey: Secret? = nil, apiKeyVariable: String? = nil) {
            self.url = url
            self.weight = weight
            self.apiKey = apiKey
            self.apiKeyVariable = apiKeyVariable
        }
    }

    /// How a provider spreads requests over its endpoints.
    public enum LoadBalancing: String, Sendable, Equatable, CaseIterable {
        /// Strict (weighted) rotation: with equal weights, endpoint 1, 2, 3, 1, 2, 3, …
        case roundRobin = "round_robin"
        /// The endpoint with the fewest requests in flight (relative to its weight).
        case leastConnections = "least_connections"
        /// Weighted by the inverse of each endpoint's latency EWMA; endpoints that are down are skipped.
        case health
    }

    /// A configured provider.
    public struct Provider: Sendable, Equatable {
        public var name: String
        public var kind: ProviderKind
        public var endpoints: [Endpoint]
        public var timeouts: ProviderTimeouts = .init()
        /// Ollama's `keep_alive`, passed through when set (e.g. `5m`).
        public var keepAlive: String?
        /// Anthropic's `anthropic-version` or Gemini's API version (`v1beta`), when not the default.
        public var apiVersion: String?
        /// The model used when a request names only the provider.
        public var defaultModel: String?
        /// How requests are spread over the endpoints. Defaults to round-robin.
        public var loadBalancing: LoadBalancing = .roundRobin

        public init(name: String, kind: ProviderKind, endpoints: [Endpoint]) {
            self.name = name
            self.kind = kind
            self.endpoints = endpoints
        }
    }

    /// One step of a strategy: a provider (and model), with the conditions under which it is used.
    public struct StrategyStep: Sendable, Equatable {
        public var provider: String
        /// The model; the provider's default model when absent.
        public var model: String?
        /// Share (0…1] of an endpoint's `max_concurrency` in use above which the router moves on.
        public var maximumLoad: Double?
        /// Candidates priced above this (USD per 1,000 tokens, the mean of input and output prices) are excluded.
        public var maximumCostPer1K: Double?
        /// Only a local provider may take this step.
        public var requireLocal: Bool = false

        public init(
            provider: String, model: String? = nil, maximumLoad: Double? = nil, maximumCostPer1K: Double? = nil,
            requireLocal: Bool = false
        ) {
            self.provider = provider
            self.model = model
            self.maximumLoad = maximumLoad
            self.maximumCostPer1K = maximumCostPer1K
            self.requireLocal = requireLocal
        }
    }

    /// The seed's `caching:` block.
    public struct Caching: Sendable, Equatable {
        /// Where cached responses are shared between instances.
        public enum Backend: String, Sendable, Equatable {
            /// Only this process's in-memory LRU.
            case memory
            /// The in-memory LRU in front of the shared `response_cache` table. (`redis` in a seed file means this.)
            case postgres
        }
        /// Off without a `caching:` section (a cached chat answer repeats itself, which not every caller wants);
        /// a section turns it on unless it says `enabled: false`.
        public var enabled = false
        public var backend: Backend = .postgres
        /// How long an answer stays cached. Defaults to 3,600 seconds; tenants may override it.
        public var timeToLive: Duration = .seconds(3600)
        /// Entries the in-memory LRU keeps. Defaults to 1,000.
        public var maximumEntries = 1000
        /// The backend the file named when it differs from the one used (`redis`, served by PostgreSQL).
        public var requestedBackend: String?

        public init() {}
    }

    /// The seed's `rate_limits:` block: `"1000/hour"` strings.
    public struct RateLimits: Sendable, Equatable {
        /// Requests one tenant may make (tenants may override it).
        public var perTenant: RateLimit?
        /// Requests the appliance may send one provider.
        public var perProvider: RateLimit?

        public init(perTenant: RateLimit? = nil, perProvider: RateLimit? = nil) {
            self.perTenant = perTenant
            self.perProvider = perProvider
        }
    }

    /// A tenant's spending limits in USD.
    public struct Budget: Sendable, Equatable {
        public var dailyUSD: Double?
        public var monthlyUSD: Double?

        public init(dailyUSD: Double? = nil, monthlyUSD: Double? = nil) {
            self.dailyUSD = dailyUSD
            self.monthlyUSD = monthlyUSD
        }
    }

    /// What one tenant may use.
    public struct TenantPolicy: Sendable, Equatable {
        public var name: String
        /// Providers the tenant may reach; all when `nil`.
        public var allowedProviders: [String]?
        /// The strategy for the tenant's requests that name none.
        public var defaultStrategy: String?
        /// Only local providers, whatever the strategy.
        public var privacyMode = false
        public var budget: Budget?
        public var rateLimit: RateLimit?
        /// How long the tenant's answers stay cached.
        public var cacheTimeToLive: Duration?

        public init(name: String) {
            self.name = name
        }
    }

    /// Active health checks and circuit breakers.
    public struct Health: Sendable, Equatable {
        /// Time between probes of each endpoint (Ollama `/api/version`, `/v1/models`, Gemini `models`; no tokens). Defaults
        /// to 30 seconds.
        public var probeInterval: Duration = .seconds(30)
        /// Consecutive failures that open an endpoint's circuit. Defaults to 5.
        public var failureThreshold = 5
        /// How long an open circuit stays open before one trial request is let through. Defaults to 30 seconds.
        public var cooldown: Duration = .seconds(30)

        public init() {}
    }

    public var routing = Routing()
    /// Named, ordered strategies (`strategies:`); the built-in ones apply to the catalogue when not defined here.
    public var strategies: [String: [StrategyStep]] = [:]
    public var caching = Caching()
    public var rateLimits = RateLimits()
    /// Tenants by name.
    public var tenants: [String: TenantPolicy] = [:]
    /// Task name → strategy name (a request's `"task"`).
    public var tasks: [String: String] = [:]
    public var health = Health()
    /// Providers by name, in file order.
    public var providers: [Provider] = []
    /// The model catalogue: prices, windows, quality, local flag, embedding dimensions.
    public var models: [ModelCapabilities] = []
    /// The embedding model for ingest and retrieval: `auto` (the default: `minilm` when its model files are
    /// installed, else `local`), `local`, `minilm`, or `provider/model` (a catalogue entry with
    /// `embedding_dimensions`).
    public var embeddingModel: String = "auto"
    /// The scheduler's jobs (`schedules:`); ``defaultSchedules`` fill in the kinds the file does not schedule.
    public var schedules: [JobSchedule] = []

    public init() {}

    /// Kinds of job this version can run.
    public static let schedulableKinds: [JobKind] = [
        .housekeeping, .modelRefresh, .modelCleanup, .knowledgeSync, .pluginMetricsSync, .directorySync, .backup, .backupVerify,
        .backupPrune,
    ]

    /// The `lifecycle:` section: Ollama's models directory and the cleanup policy.
    public struct Lifecycle: Sendable, Equatable {
        /// Ollama's models directory (`lifecycle.ollama_models_dir`, else `OLLAMA_MODELS`); without it, disk use comes
        /// from Ollama's API, which over-counts shared blobs.
        public var ollamaModelsDirectory: String?
        public var policy = CleanupPolicy()

        public init() {}
    }

    public var lifecycle = Lifecycle()

    /// The `ingest:` section: how `knowledge_items` and `plugin_metrics` are synced.
    public var ingest = IngestSources()
    /// The `retrieval:` section: the text search configuration, BM25's parameters and the fusion.
    public var retrieval = Retrieval()
    /// The `server:` section's `auth` (`none` or `keys`), when given; `--auth` and `UNITY_AI_AUTH` win over it.
    public var serverAuthentication: String?
    /// The `backups:` section: the S3 target, retention and encryption.
    public var backups = Backups()

    /// What runs without a `schedules:` entry of its kind: housekeeping every 10 minutes (expired cache rows, old
    /// rate-limit windows), the Ollama inventory every 5 minutes, and the `knowledge_items` and `plugin_metrics`
    /// syncs every 5 minutes (offset by two minutes, so that they do not start together), once per cluster.
    /// Cleanup runs only when scheduled: deleting models is for the operator to decide.
    public static let defaultSchedules: [JobSchedule] = [
        (JobKind.housekeeping, "*/10 * * * *"), (.modelRefresh, "*/5 * * * *"), (.knowledgeSync, "*/5 * * * *"),
        (.pluginMetricsSync, "2-59/5 * * * *"),
    ].compactMap { kind, cron in
        (try? CronExpression(cron)).map { JobSchedule(name: kind.name, kind: kind, cron: CronSchedule(expression: $0, timeZone: .gmt)) }
    }

    /// The default schedule of `directory_sync` when `ingest.roots` names any: every 5 minutes, a minute after
    /// `knowledge_sync` and a minute before `plugin_metrics_sync`.
    public static let defaultDirectorySyncSchedule: JobSchedule? = (try? CronExpression("1-59/5 * * * *")).map {
        JobSchedule(name: JobKind.directorySync.name, kind: .directorySync, cron: CronSchedule(expression: $0, timeZone: .gmt))
    }

    /// The file's schedules, plus a default one for each kind it does not schedule (`directory_sync` only when
    /// `ingest.roots` is not empty).
    public var effectiveSchedules: [JobSchedule] {
        let defaults = Self.defaultSchedules + (ingest.roots.isEmpty ? [] : [Self.defaultDirectorySyncSchedule].compactMap { $0 })
        return schedules + defaults.filter { fallback in !schedules.contains { $0.kind == fallback.kind } }
    }

    /// The provider called `name`.
    public func provider(named name: String) -> Provider? {
        providers.first { $0.name == name }
    }

    /// What the file asks that the appliance does another way: said once at start-up and by `config check`.
    public var notices: [String] {
        var notices: [String] = []
        if caching.enabled, caching.requestedBackend == "redis" {
            notices.append(
                "caching.backend is redis: the appliance keeps its shared response cache in its PostgreSQL "
                    + "(table response_cache, shared by every instance on the same database) and contacts no Redis.")
        }
        return notices
    }
}
