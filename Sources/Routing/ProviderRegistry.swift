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
    /// Models each provider listed, cached after the first bare-name lookup.
    private let listedModels = Mutex<[String: [String]]>([:])
    /// The native embedder, loaded once (its weights are 90 MB) on first use.
    private let nativeEmbedder = Mutex<MiniLMEmbedder?>(nil)
    /// Where the native embedder's model files are.
    public let modelDirectory: String

    public init(
        entries: [Entry], catalogue: [ModelCapabilities],
        modelDirectory: String = MiniLMEmbedder.defaultModelDirectory(environment: ProcessInfo.processInfo.environment)
    ) {
        self.entries = entries
        self.catalogue = catalogue
        self.modelDirectory = modelDirectory
    }

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
            for entry in entries where entry.isEnabled && entry.capabilities.chat {
                if try await models(of: entry).contains(model) { return Resolution(entry: entry, model: model) }
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

    /// The models a provider lists (cached; a provider that fails to answer lists nothing).
    public func models(of entry: Entry) async throws -> [String] {
        if let cached = listedModels.withLock({ $0[entry.name] }) { return cached }
        let listed = (try? await entry.chat.listModels().map(\.id)) ?? []
        if !listed.isEmpty { listedModels.withLock { $0[entry.name] = listed } }
        return listed
    }

    /// What the catalogue says of a model; defaults from the provider otherwise.
    public func capabilities(provider: String, model: String) -> ModelCapabilities {
        catalogue.first { $0.provider == provider && $0.model == model }
            ?? ModelCapabilities(provider: provider, model: model, isLocal: entry(named: provider)?.capabilities.isLocal ?? false)
    }

    /// The embedder called `name`: `auto` (`minilm` when its model files are installed, else `local`), `local`
    /// (hashing, 512 dimensions), `minilm` (the native all-MiniLM-L6-v2, 384
    /// dimensions, model files from `./deploy/install-model.sh`) or `provider/model` with its dimensions from the
    /// catalogue.
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
        guard let api = entry.embeddings, entry.capabilities.embeddings else {
            throw ProviderError.unsupported(provider: entry.name, what: "embeddings")
        }
        guard let dimensions = catalogue.first(where: { $0.provider == entry.name && $0.model == model })?.embeddingDimensions
        else {
            throw RoutingError.embeddingDimensionsUnknown(name)
        }
        let apis = entry.endpoints.compactMap(\.embeddings)
        return BoundEmbedder(api: apis.count > 1 ? FailoverEmbeddingsAPI(apis: apis) : api, model: model, dimensions: dimensions)
    }
}
