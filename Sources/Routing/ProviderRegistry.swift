import Foundation
import MiniLM
import Providers
import Synchronization

/// The providers the appliance can route to, by name, with what they can do and the model catalogue; resolves
/// the `model` field of a request (`provider/model`, a bare model name, or `auto`) to a provider and a model.
public final class ProviderRegistry: Sendable {
    /// One upstream of a provider, with its own client.
    public struct EndpointClient: Sendable {
        /// The base URL without credentials, for headers and `GET /api/providers`.
        public var displayName: String
        public var chat: any ChatProvider
        public var embeddings: (any EmbeddingsAPI)?
        public var weight: Double
        public var maximumConcurrency: Int

        public init(
            displayName: String, chat: any ChatProvider, embeddings: (any EmbeddingsAPI)?, weight: Double = 1,
            maximumConcurrency: Int = 16
        ) {
            self.displayName = displayName
            self.chat = chat
            self.embeddings = embeddings
            self.weight = weight
            self.maximumConcurrency = maximumConcurrency
        }
    }

    /// One configured provider.
    public struct Entry: Sendable {
        public var name: String
        public var kind: RoutingConfiguration.ProviderKind
        /// The provider's endpoints (at least one; a disabled provider has one that answers "disabled").
        public var endpoints: [EndpointClient]
        public var capabilities: ProviderCapabilities
        public var defaultModel: String?
        public var loadBalancing: RoutingConfiguration.LoadBalancing

        public init(
            name: String, kind: RoutingConfiguration.ProviderKind, endpoints: [EndpointClient],
            capabilities: ProviderCapabilities, defaultModel: String?, loadBalancing: RoutingConfiguration.LoadBalancing = .roundRobin
        ) {
            precondition(!endpoints.isEmpty, "a provider needs an endpoint")
            self.name = name
            self.kind = kind
            self.endpoints = endpoints
            self.capabilities = capabilities
            self.defaultModel = defaultModel
            self.loadBalancing = loadBalancing
        }

        /// A provider with one in-process or single-endpoint client.
        public init(
            name: String, kind: RoutingConfiguration.ProviderKind, chat: any ChatProvider, embeddings: (any EmbeddingsAPI)?,
            capabilities: ProviderCapabilities, defaultModel: String?
        ) {
            self.init(
                name: name, kind: kind, endpoints: [EndpointClient(displayName: "builtin", chat: chat, embeddings: embeddings)],
                capabilities: capabilities, defaultModel: defaultModel)
        }

        /// The first endpoint's client: for model listings and direct use.
        public var chat: any ChatProvider { endpoints[0].chat }
        /// The first endpoint's embeddings API, when the provider has one.
        public var embeddings: (any EmbeddingsAPI)? { endpoints[0].embeddings }

        public var isEnabled: Bool { kind != .disabled }
    }

    /// A request's provider and model, decided.
    public struct Resolution: Sendable {
        public var entry: Entry
        public var model: String
    }

    /// Providers in configuration order; `local` last.
    public let entries: [Entry]
    public let catalogue: [ModelCapabilities]
    /// Each provider's endpoint pool (load balancing, in-flight counts, latency, circuit breakers), by provider name.
    /// Chat (``AIRouter``) and embeddings (routed, and the embedders that ``embedder(named:)`` makes for ingest and
    /// retrieval) share them, so an endpoint's health is one thing whatever the call.
    let pools: [String: EndpointPool]
    /// When the pools' circuits open and for how long.
    public let breaker: EndpointHealth.BreakerPolicy
    /// The providers' model lists, fetched in the background and kept for a while (see ``ModelListCache``).
    let modelLists: ModelListCache
    /// Vector lengths learnt from answers, `provider/model` → dimensions, for models nothing else describes.
    let learnedDimensions = Mutex<[String: Int]>([:])
    /// Time for the pools and the model lists' ages.
    let clock: any RouterClock
    /// The native embedder, loaded once (its weights are 90 MB) on first use.
    private let nativeEmbedder = Mutex<MiniLMEmbedder?>(nil)
    /// Where the native embedder's model files are.
    public let modelDirectory: String

    /// - Parameters:
    ///   - breaker: the circuit-breaker policy of every endpoint pool (``make(configuration:transport:)`` takes the
    ///     routing file's `health`).
    ///   - modelLists: how long providers' model lists are kept and waited for.
    public init(
        entries: [Entry], catalogue: [ModelCapabilities],
        modelDirectory: String = MiniLMEmbedder.defaultModelDirectory(environment: ProcessInfo.processInfo.environment),
        breaker: EndpointHealth.BreakerPolicy = .init(), modelLists: ModelListCache.Configuration = .init(),
        clock: any RouterClock = SystemRouterClock()
    ) {
        self.entries = entries
        self.catalogue = catalogue
        self.modelDirectory = modelDirectory
        self.breaker = breaker
        self.clock = clock
        self.modelLists = ModelListCache(configuration: modelLists, clock: clock)
        var pools: [String: EndpointPool] = [:]
        for entry in entries {
            pools[entry.name] = EndpointPool(
                provider: entry.name, weights: entry.endpoints.map(\.weight),
                maximumConcurrency: entry.endpoints.map(\.maximumConcurrency), policy: entry.loadBalancing, breaker: breaker)
        }
        self.pools = pools
    }

    /// The endpoint pool of a provider.
    public func pool(for provider: String) -> EndpointPool? { pools[provider] }

    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// Whether `model` is in the catalogue or is the provider's default model.
    public func isKnown(provider: String, model: String) -> Bool {
        catalogue.contains { $0.provider == provider && $0.model == model }
            || entry(named: provider).map { defaultModel(of: $0) == model } == true
    }

    /// The model a request that names only the provider gets.
    public func defaultModel(of entry: Entry) -> String? {
        entry.defaultModel
            ?? catalogue.first { $0.provider == entry.name && $0.embeddingDimensions == nil }?.model
    }

    /// Resolves a request's `provider` (optional; `auto` means routed) and `model` (optional; `auto`, a bare name
    /// or `provider/model`).
    public func resolve(provider requestedProvider: String?, model requestedModel: String?) async throws -> Resolution {
        let providerName = requestedProvider.flatMap { $0 == "auto" || $0.isEmpty ? nil : $0 }
        var modelName = requestedModel.flatMap { $0 == "auto" || $0.isEmpty ? nil : $0 }

        if providerName == nil, let model = modelName, let slash = model.firstIndex(of: "/"),
            let entry = entry(named: String(model[..<slash]))
        {
            modelName = String(model[model.index(after: slash)...])
            return try resolution(entry: entry, model: modelName)
        }
        if let providerName {
            guard let entry = entry(named: providerName) else {
                throw RoutingError.unknownProvider(providerName, known: entries.map(\.name))
            }
            if let model = modelName, model.hasPrefix(providerName + "/") {
                modelName = String(model.dropFirst(providerName.count + 1))
            }
            return try resolution(entry: entry, model: modelName)
        }
        if let model = modelName {
            // A provider's name alone (`"model": "local"`) means its default model.
            if let entry = entry(named: model), entry.isEnabled, !catalogue.contains(where: { $0.model == model }) {
                return try resolution(entry: entry, model: nil)
            }
            if let known = catalogue.first(where: { $0.model == model }), let entry = entry(named: known.provider),
                entry.isEnabled
            {
                return Resolution(entry: entry, model: model)
            }
            let chatting = entries.filter { $0.isEnabled && $0.capabilities.chat }
            let lists = await models(of: chatting)
            for entry in chatting where lists[entry.name]?.contains(model) == true {
                return Resolution(entry: entry, model: model)
            }
            throw RoutingError.unknownModel(model)
        }
        // `auto` until the router lands: the first enabled provider that chats and has a model to use.
        for entry in entries where entry.isEnabled && entry.capabilities.chat && entry.name != "local" {
            if let model = defaultModel(of: entry) { return Resolution(entry: entry, model: model) }
        }
        throw RoutingError.noProviderAvailable
    }

    private func resolution(entry: Entry, model: String?) throws -> Resolution {
        guard let model = model ?? defaultModel(of: entry) else {
            throw RoutingError.modelRequired(provider: entry.name)
        }
        return Resolution(entry: entry, model: model)
    }

    /// The models a provider lists, as last fetched: a fresh list is used as it is, a stale one while a new one is
    /// fetched in the background, and a provider that has not answered yet is waited for only briefly (a provider
    /// that failed to answer lists nothing until it does). See ``ModelListCache``.
    public func models(of entry: Entry) async throws -> [String] {
        await modelLists.models(of: entry.name) {
            // The first endpoint that answers; a dead one fails fast (a refused connection is not retried).
            var lastError: (any Error)?
            for endpoint in entry.endpoints {
                do {
                    return try await endpoint.chat.listModels().map(\.id)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? ProviderError.disabled(provider: entry.name)
        }
    }

    /// The model lists of `entries`, fetched concurrently: a first fetch waits at most one bound in all, not one
    /// per provider.
    func models(of entries: [Entry]) async -> [String: [String]] {
        await withTaskGroup(of: (String, [String]).self) { group in
            for entry in entries {
                group.addTask { (entry.name, (try? await self.models(of: entry)) ?? []) }
            }
            var lists: [String: [String]] = [:]
            for await (name, models) in group { lists[name] = models }
            return lists
        }
    }

    /// What the catalogue says of a model; defaults from the provider otherwise.
    public func capabilities(provider: String, model: String) -> ModelCapabilities {
        catalogue.first { $0.provider == provider && $0.model == model }
            ?? ModelCapabilities(provider: provider, model: model, isLocal: entry(named: provider)?.capabilities.isLocal ?? false)
    }

    /// The embedder called `name`: `auto` (`minilm` when its model files are installed, else `local`), `local`
    /// (hashing, 512 dimensions), `minilm` (the native all-MiniLM-L6-v2, 384
    /// dimensions, model files from `./deploy/install-model.sh`) or `provider/model` with its dimensions from the
    /// catalogue: this embedder stores vectors (ingest, retrieval), so their length must be known before the first
    /// call. A remote one calls the provider's endpoints through its pool, as routed requests do.
    public func embedder(named name: String) throws -> any EmbeddingProvider {
        if name == "auto" {
            // The same answer for every command on this machine: the native model once it is installed.
            let installed = FileManager.default.fileExists(atPath: modelDirectory + "/model.safetensors")
            return try embedder(named: installed ? MiniLMEmbedder.modelName : "local")
        }
        if name == "local" || name == "local-hash-512" { return HashingEmbedder(dimensions: 512) }
        if name == MiniLMEmbedder.modelName {
            if let loaded = nativeEmbedder.withLock({ $0 }) { return loaded }
            let loaded = try MiniLMEmbedder(modelDirectory: modelDirectory)
            nativeEmbedder.withLock { $0 = loaded }
            return loaded
        }
        guard let slash = name.firstIndex(of: "/"), let entry = entry(named: String(name[..<slash])) else {
            throw RoutingError.unknownEmbeddingModel(name)
        }
        let model = String(name[name.index(after: slash)...])
        guard entry.isEnabled else { throw ProviderError.disabled(provider: entry.name) }
        guard entry.embeddings != nil, entry.capabilities.embeddings else {
            throw ProviderError.unsupported(provider: entry.name, what: "embeddings")
        }
        // Stored vectors need their length known before the first one is written (an index is built for it).
        guard let dimensions = catalogue.first(where: { $0.provider == entry.name && $0.model == model })?.embeddingDimensions
        else {
            throw RoutingError.embeddingDimensionsUnknown(name)
        }
        return BoundEmbedder(api: try pooledEmbeddings(of: entry), model: model, dimensions: dimensions)
    }

    /// A provider's embeddings over its endpoints, through its endpoint pool (shared with chat); `clock` is the
    /// caller's (the router's), defaulting to the registry's.
    func pooledEmbeddings(
        of entry: Entry, clock: (any RouterClock)? = nil, observer: FailoverEmbeddingsAPI.Observer = .init()
    ) throws -> FailoverEmbeddingsAPI {
        guard let pool = pools[entry.name], entry.endpoints.contains(where: { $0.embeddings != nil }) else {
            throw ProviderError.unsupported(provider: entry.name, what: "embeddings")
        }
        return FailoverEmbeddingsAPI(
            provider: entry.name, endpoints: entry.endpoints.map { ($0.displayName, $0.embeddings) }, pool: pool,
            clock: clock ?? self.clock, observer: observer)
    }
}
