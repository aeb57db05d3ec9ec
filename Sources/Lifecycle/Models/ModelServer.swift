import Foundation

/// A model an Ollama endpoint has (`/api/tags`), with what `/api/show` adds.
public struct InstalledModel: Sendable, Hashable, Codable {
    public var name: String
    /// Ollama's `digest`: the manifest's SHA-256, bare hex.
    public var digest: String
    /// Ollama's `size`: the sum of the model's layers (shared layers counted in every model that uses them).
    public var sizeBytes: Int64
    public var family: String?
    public var quantization: String?
    public var parameterSize: String?
    public var contextLength: Int?

    public init(
        name: String, digest: String, sizeBytes: Int64, family: String? = nil, quantization: String? = nil,
        parameterSize: String? = nil, contextLength: Int? = nil
    ) {
        self.name = name
        self.digest = digest
        self.sizeBytes = sizeBytes
        self.family = family
        self.quantization = quantization
        self.parameterSize = parameterSize
        self.contextLength = contextLength
    }

    enum CodingKeys: String, CodingKey {
        case name, digest, family, quantization
        case sizeBytes = "size_bytes", parameterSize = "parameter_size", contextLength = "context_length"
    }
}

/// A model Ollama has loaded now (`/api/ps`).
public struct LoadedModel: Sendable, Hashable {
    public var name: String
    public var expiresAt: Date?

    public init(name: String, expiresAt: Date? = nil) {
        self.name = name
        self.expiresAt = expiresAt
    }
}

/// The model-management side of one Ollama endpoint: what the lifecycle manager asks of it.
public protocol ModelServer: Sendable {
    /// The endpoint, as `GET /api/providers` names it (no credentials).
    var endpoint: String { get }
    /// `/api/tags`, with `/api/show`'s details where it answers.
    func installedModels() async throws -> [InstalledModel]
    /// `/api/ps`.
    func loadedModels() async throws -> [LoadedModel]
    /// `DELETE /api/delete`: Ollama removes the manifest, then the blobs no other manifest references.
    func delete(model: String) async throws
}

/// One model as the inventory keeps it.
public struct InventoryModel: Sendable, Hashable, Codable {
    public var endpoint: String
    public var model: InstalledModel
    public var firstSeen: Date
    public var lastSeen: Date
    public var loaded: Bool
    public var expiresAt: Date?
    /// When a refresh found it gone; `nil` while the endpoint has it.
    public var goneAt: Date?

    public init(
        endpoint: String, model: InstalledModel, firstSeen: Date, lastSeen: Date, loaded: Bool, expiresAt: Date?, goneAt: Date?
    ) {
        self.endpoint = endpoint
        self.model = model
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.loaded = loaded
        self.expiresAt = expiresAt
        self.goneAt = goneAt
    }

    enum CodingKeys: String, CodingKey {
        case endpoint, model, loaded
        case firstSeen = "first_seen", lastSeen = "last_seen", expiresAt = "expires_at", goneAt = "gone_at"
    }
}

/// Where the inventory is kept for every instance (PostgreSQL's `ollama_models`).
public protocol ModelInventoryStore: Sendable {
    /// Records what `endpoint` has now, at `date`: new models get `first_seen`, known ones `last_seen`, models no
    /// longer there are marked gone.
    func record(endpoint: String, models: [InstalledModel], loaded: [LoadedModel], at date: Date) async throws
    /// Every model of every endpoint, gone ones included.
    func models() async throws -> [InventoryModel]
}

/// What the appliance's own traffic says of a model.
public struct ModelTraffic: Sendable, Hashable {
    public var lastUsed: Date?
    public var requests1d: Int
    public var requests7d: Int
    public var requests30d: Int

    public init(lastUsed: Date?, requests1d: Int, requests7d: Int, requests30d: Int) {
        self.lastUsed = lastUsed
        self.requests1d = requests1d
        self.requests7d = requests7d
        self.requests30d = requests30d
    }
}

/// The router's usage records, per Ollama model (by the name requests sent it).
public protocol ModelTrafficSource: Sendable {
    func traffic(providers: [String], now: Date) async throws -> [String: ModelTraffic]
}
