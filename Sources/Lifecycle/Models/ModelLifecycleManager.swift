import Foundation

/// Keeps Ollama's disk tidy: the inventory of every endpoint's models, their real disk use (from the models
/// directory when it is readable), their last use from the appliance's own traffic, and cleanups by policy —
/// models deleted through Ollama's API, only orphaned blobs and partial downloads removed as files.
public struct ModelLifecycleManager: Sendable {
    public struct Configuration: Sendable {
        /// The models directory of the first Ollama endpoint; `nil` when it is not readable from here.
        public var modelsDirectory: String?
        public var policy: CleanupPolicy
        /// Models the routing file names, with where it names them: never removed.
        public var pinned: [String: [String]]
        /// The Ollama providers' names, to find their requests in the usage records.
        public var ollamaProviders: [String]

        public init(
            modelsDirectory: String?, policy: CleanupPolicy = .init(), pinned: [String: [String]] = [:], ollamaProviders: [String]
        ) {
            self.modelsDirectory = modelsDirectory
            self.policy = policy
            self.pinned = pinned
            self.ollamaProviders = ollamaProviders
        }
    }

    public let configuration: Configuration
    /// Every Ollama endpoint; the models directory belongs to the first.
    public let servers: [any ModelServer]
    let inventory: any ModelInventoryStore
    let traffic: any ModelTrafficSource
    let now: @Sendable () -> Date

    public init(
        configuration: Configuration, servers: [any ModelServer], inventory: any ModelInventoryStore,
        traffic: any ModelTrafficSource, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.servers = servers
        self.inventory = inventory
        self.traffic = traffic
        self.now = now
    }

    // MARK: Inventory

    /// Polls every endpoint (`/api/tags`, `/api/show`, `/api/ps`) and records what it has; an endpoint that does not
    /// answer is reported and left as it was. Returns a one-line summary.
    @discardableResult
    public func refresh() async throws -> String {
        guard !servers.isEmpty else { return "no Ollama endpoint is configured" }
        var parts: [String] = []
        var failures: [String] = []
        for server in servers {
            do {
                let models = try await server.installedModels()
                let loaded = (try? await server.loadedModels()) ?? []
                try await inventory.record(endpoint: server.endpoint, models: models, loaded: loaded, at: now())
                parts.append("\(server.endpoint): \(models.count) models, \(loaded.count) loaded")
            } catch {
                failures.append("\(server.endpoint): \(error)")
            }
        }
        if parts.isEmpty, let first = failures.first { throw LifecycleError(message: "No Ollama endpoint answered (\(first)).") }
        return (parts + failures.map { "failed \($0)" }).joined(separator: "; ")
    }

    // MARK: Usage

    /// Disk use and traffic per model: from the files when the models directory is readable, else from Ollama's
    /// API (whose sizes count shared blobs once per model, and say so).
    public func usage() async throws -> ModelUsageReport {
        let date = now()
        let trafficByModel = try await trafficByName(now: date)
        let loaded = await loadedNames()
        let pins = normalized(configuration.pinned)
        if let directory = configuration.modelsDirectory {
            let store = try OllamaModelStore(path: directory)
            let disk = store.usage(now: date)
            return ModelUsageReport(
                source: "files", modelsDirectory: directory, note: nil, totalBytes: disk.totalBytes,
                apparentBytes: disk.apparentBytes,
                models: disk.models.map { model in
                    let name = model.name.displayName
                    let use = trafficByModel[name]
                    return ModelUsageReport.Model(
                        name: name, digest: model.digest.hex, sizeBytes: model.sizeBytes, uniqueBytes: model.uniqueBytes,
                        sharedBytes: model.sharedBytes, lastUsed: use?.lastUsed, requests1d: use?.requests1d ?? 0,
                        requests7d: use?.requests7d ?? 0, requests30d: use?.requests30d ?? 0, loaded: loaded.contains(name),
                        pinnedBy: pins[name] ?? [])
                },
                orphans: disk.orphans.map { .init(path: $0.path, bytes: $0.bytes, ageSeconds: $0.ageSeconds) },
                partials: disk.partials.map { .init(path: $0.path, bytes: $0.bytes, ageSeconds: $0.ageSeconds) },
                invalidManifests: disk.invalidManifests.map { "\($0.path): \($0.reason.rawValue)" })
        }
        var models: [ModelUsageReport.Model] = []
        for server in servers {
            for model in try await server.installedModels() {
                let name = Self.canonical(model.name)
                let use = trafficByModel[name]
                models.append(
                    .init(
                        name: name, digest: model.digest, sizeBytes: model.sizeBytes, uniqueBytes: nil, sharedBytes: nil,
                        lastUsed: use?.lastUsed, requests1d: use?.requests1d ?? 0, requests7d: use?.requests7d ?? 0,
                        requests30d: use?.requests30d ?? 0, loaded: loaded.contains(name), pinnedBy: pins[name] ?? []))
            }
        }
        let apparent = models.reduce(Int64(0)) { $0 &+ $1.sizeBytes }
        return ModelUsageReport(
            source: "api", modelsDirectory: nil,
            note: "Ollama's models directory is not readable here (set lifecycle.ollama_models_dir or OLLAMA_MODELS): these "
                + "are Ollama's own sizes, which count a blob shared by several models once per model, so total_bytes "
                + "over-counts the disk used.",
            totalBytes: apparent, apparentBytes: apparent, models: models, orphans: [], partials: [], invalidManifests: [])
    }

    // MARK: Cleanup

    /// Plans a cleanup by the policy and, unless `dryRun`, carries it out: models through Ollama's API, orphans and
    /// partials (only with `remove_orphans`) as files. The bytes of each action are those of the blobs no remaining
    /// manifest references, so the plan's total is what the disk gains; after a real run the gain is measured.
    public func cleanup(dryRun: Bool) async throws -> CleanupReport {
        guard let directory = configuration.modelsDirectory else {
            throw LifecycleError(
                message: "A cleanup needs Ollama's models directory to count what each deletion frees: set "
                    + "lifecycle.ollama_models_dir (or OLLAMA_MODELS) to a directory this appliance can read.")
        }
        guard let server = servers.first else {
            throw LifecycleError(message: "No Ollama endpoint is configured to delete models through.")
        }
        let date = now()
        let snapshot = try OllamaModelsDirectory.scan(path: directory)
        let lastUsed = try await trafficByName(now: date).compactMapValues(\.lastUsed)
        let loaded = Array(await loadedNames())
        let plan = try CleanupPlanner(policy: configuration.policy).plan(
            snapshot: snapshot, lastUsed: lastUsed, loaded: loaded, pinned: normalized(configuration.pinned), now: date)
        var report = CleanupReport(plan: plan, dryRun: dryRun)
        guard !dryRun else { return report }
        let before = OllamaModelStore(snapshot: snapshot).usage(now: date)
        let cutoff = date.addingTimeInterval(-Double(configuration.policy.orphanGrace.components.seconds))
        for index in report.actions.indices {
            let action = plan.actions[index]
            do {
                switch action {
                case .deleteModel(let model, _, _):
                    try await server.delete(model: model.displayName)
                case .removeOrphan(let path, _), .removePartial(let path, _):
                    _ = try OllamaModelsDirectory.removeOrphanOrPartial(path: path, root: directory, modifiedBefore: cutoff)
                }
                report.actions[index].done = true
            } catch {
                report.actions[index].done = false
                report.actions[index].error = String(describing: error)
            }
        }
        let after = OllamaModelStore(snapshot: try OllamaModelsDirectory.scan(path: directory)).usage(now: now())
        report.measuredBytesFreed = (before.totalBytes + before.orphanBytes + before.partialBytes)
            - (after.totalBytes + after.orphanBytes + after.partialBytes)
        _ = try? await refresh()
        return report
    }

    // MARK: Names

    /// `llama3.2` as Ollama shows it: `llama3.2:latest`.
    static func canonical(_ name: String) -> String { OllamaModelName(parsing: name)?.displayName ?? name }

    func normalized(_ pins: [String: [String]]) -> [String: [String]] {
        var byName: [String: [String]] = [:]
        for (name, reasons) in pins { byName[Self.canonical(name), default: []].append(contentsOf: reasons) }
        return byName.mapValues { Array(Set($0)).sorted() }
    }

    func trafficByName(now: Date) async throws -> [String: ModelTraffic] {
        var byName: [String: ModelTraffic] = [:]
        for (name, use) in try await traffic.traffic(providers: configuration.ollamaProviders, now: now) {
            let key = Self.canonical(name)
            if let known = byName[key] {
                byName[key] = ModelTraffic(
                    lastUsed: [known.lastUsed, use.lastUsed].compactMap { $0 }.max(), requests1d: known.requests1d + use.requests1d,
                    requests7d: known.requests7d + use.requests7d, requests30d: known.requests30d + use.requests30d)
            } else {
                byName[key] = use
            }
        }
        return byName
    }

    func loadedNames() async -> Set<String> {
        var names: Set<String> = []
        for server in servers {
            for model in (try? await server.loadedModels()) ?? [] { names.insert(Self.canonical(model.name)) }
        }
        return names
    }
}

/// Why a lifecycle operation could not run.
public struct LifecycleError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `models usage --json` and `GET /api/models/usage`.
public struct ModelUsageReport: Sendable, Encodable {
    public struct Model: Sendable, Encodable {
        public var name: String
        public var digest: String
        public var sizeBytes: Int64
        /// Freed if this model alone were deleted; `nil` without the models directory.
        public var uniqueBytes: Int64?
        public var sharedBytes: Int64?
        public var lastUsed: Date?
        public var requests1d: Int
        public var requests7d: Int
        public var requests30d: Int
        public var loaded: Bool
        public var pinnedBy: [String]

        enum CodingKeys: String, CodingKey {
            case name, digest, loaded
            case sizeBytes = "size_bytes", uniqueBytes = "unique_bytes", sharedBytes = "shared_bytes", lastUsed = "last_used"
            case requests1d = "requests_1d", requests7d = "requests_7d", requests30d = "requests_30d", pinnedBy = "pinned_by"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(digest, forKey: .digest)
            try container.encode(sizeBytes, forKey: .sizeBytes)
            try container.encode(uniqueBytes, forKey: .uniqueBytes)
            try container.encode(sharedBytes, forKey: .sharedBytes)
            try container.encode(lastUsed, forKey: .lastUsed)  // null when never used
            try container.encode(requests1d, forKey: .requests1d)
            try container.encode(requests7d, forKey: .requests7d)
            try container.encode(requests30d, forKey: .requests30d)
            try container.encode(loaded, forKey: .loaded)
            try container.encode(pinnedBy, forKey: .pinnedBy)
        }
    }

    public struct File: Sendable, Encodable {
        public var path: String
        public var bytes: Int64
        public var ageSeconds: Int64
        enum CodingKeys: String, CodingKey { case path, bytes, ageSeconds = "age_seconds" }
    }

    /// `files` (the models directory, each blob once) or `api` (Ollama's sizes).
    public var source: String
    public var modelsDirectory: String?
    public var note: String?
    public var totalBytes: Int64
    public var apparentBytes: Int64
    public var models: [Model]
    public var orphans: [File]
    public var partials: [File]
    public var invalidManifests: [String]

    enum CodingKeys: String, CodingKey {
        case source, note, models, orphans, partials
        case modelsDirectory = "models_dir", totalBytes = "total_bytes", apparentBytes = "apparent_bytes"
        case invalidManifests = "invalid_manifests"
    }
}

/// `models cleanup --json` and `POST /api/models/cleanup`.
public struct CleanupReport: Sendable, Encodable {
    public struct Action: Sendable, Encodable {
        public var action: String
        public var model: String?
        public var path: String?
        public var reason: String
        public var bytesFreed: Int64
        /// After a real run: whether it was carried out, and why not.
        public var done: Bool?
        public var error: String?
        enum CodingKeys: String, CodingKey { case action, model, path, reason, done, error, bytesFreed = "bytes_freed" }
    }

    public struct Kept: Sendable, Encodable {
        public var model: String
        public var reasons: [String]
    }

    public var dryRun: Bool
    public var actions: [Action]
    public var bytesFreedTotal: Int64
    public var kept: [Kept]
    public var totalBytesBefore: Int64
    public var totalBytesAfter: Int64
    /// After a real run: what the models directory shrank by, measured on disk.
    public var measuredBytesFreed: Int64?
    /// How far the plan stays above `disk_budget` when protected models keep it there.
    public var diskBudgetShortfall: Int64?

    enum CodingKeys: String, CodingKey {
        case actions, kept
        case dryRun = "dry_run", bytesFreedTotal = "bytes_freed_total", totalBytesBefore = "total_bytes_before"
        case totalBytesAfter = "total_bytes_after", measuredBytesFreed = "measured_bytes_freed"
        case diskBudgetShortfall = "disk_budget_shortfall"
    }

    init(plan: CleanupPlan, dryRun: Bool) {
        self.dryRun = dryRun
        actions = plan.actions.map { action in
            Action(
                action: action.name, model: action.model?.displayName, path: action.path, reason: action.reason.rawValue,
                bytesFreed: action.bytesFreed)
        }
        bytesFreedTotal = plan.bytesFreedTotal
        kept = plan.kept.map { Kept(model: $0.name.displayName, reasons: $0.reasons.map(\.description)) }
        totalBytesBefore = plan.totalBytesBefore
        totalBytesAfter = plan.totalBytesAfter
        diskBudgetShortfall = plan.diskBudgetShortfall
    }
}
