import Crypto
import Foundation
import Logging
import Providers
import Synchronization

/// A chat answer as the cache keeps it.
public struct CachedAnswer: Sendable, Codable, Equatable {
    public var text: String
    public var finishReason: FinishReason
    public var usage: TokenUsage
    public var provider: String
    public var model: String
    public var endpoint: String

    public init(_ response: ChatResponse) {
        text = response.text
        finishReason = response.finishReason
        usage = response.usage
        provider = response.provider
        model = response.model
        endpoint = response.endpoint
    }

    /// The answer as a response; it cost nothing and took no time.
    public var response: ChatResponse {
        ChatResponse(
            text: text, finishReason: finishReason, usage: usage, provider: provider, model: model, endpoint: endpoint,
            latency: .zero)
    }
}

/// Where cached answers are shared between instances (`response_cache`).
public protocol ResponseCacheStore: Sendable {
    /// The answer `tenant` stored under `key` and when it expires, unless it has.
    func load(key: String, tenant: String, now: Date) async throws -> (answer: CachedAnswer, expiresAt: Date)?
    func store(key: String, tenant: String, answer: CachedAnswer, expiresAt: Date) async throws
}

/// An exact-match response cache: an in-memory LRU in front of an optional shared store. Keys are SHA-256 digests
/// of the tenant, the route (the router passes the sorted set of the plan's candidates) and the normalised request
/// (see ``key(tenant:route:request:context:)``).
public final class ResponseCache: Sendable {
    struct Entry {
        var answer: CachedAnswer
        var expiresAt: Date
        var lastUse: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        var tick: UInt64 = 0
    }

    public let capacity: Int
    let shared: (any ResponseCacheStore)?
    let clock: any RouterClock
    let logger: Logger
    private let state = Mutex(State())

    public init(capacity: Int, shared: (any ResponseCacheStore)?, clock: any RouterClock, logger: Logger) {
        self.capacity = max(1, capacity)
        self.shared = shared
        self.clock = clock
        self.logger = logger
    }

    /// The cache key: the tenant, the route, the messages with their whitespace trimmed, the sampling settings,
    /// the grounding passages (a RAG answer's retrieved context, so it changes when the knowledge does) and any
    /// extra `context`.
    public static func key(tenant: String, route: String, request: ChatRequest, context: String? = nil) -> String {
        var hasher = SHA256()
        func add(_ text: String) {
            hasher.update(data: Data("\(text.utf8.count):".utf8))
            hasher.update(data: Data(text.utf8))
        }
        add(tenant)
        add(route)
        for message in request.messages {
            add(message.role.rawValue)
            add(message.content.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        add(request.temperature.map { "\($0)" } ?? "-")
        add(request.maximumTokens.map { "\($0)" } ?? "-")
        add(request.stop.joined(separator: "\u{1F}"))
        for document in request.documents {
            add(document.source)
            add(document.text)
        }
        add(context ?? "")
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The cached answer for `key` of `tenant`, from memory or the shared store (which then fills memory; the store is
    /// read in the tenant's scope, so another tenant's answer is never returned).
    public func lookup(_ key: String, tenant: String) async -> CachedAnswer? {
        let now = clock.date()
        let local = state.withLock { state -> CachedAnswer? in
            guard let entry = state.entries[key] else { return nil }
            guard entry.expiresAt > now else {
                state.entries[key] = nil
                return nil
            }
            state.tick += 1
            state.entries[key]?.lastUse = state.tick
            return entry.answer
        }
        if let local { return local }
        guard let shared else { return nil }
        do {
            guard let stored = try await withLedgerDeadline(.seconds(1), { try await shared.load(key: key, tenant: tenant, now: now) }) else { return nil }
            remember(key, answer: stored.answer, expiresAt: stored.expiresAt)
            return stored.answer
        } catch {
            logger.warning("Response cache lookup failed", metadata: ["error": "\(String(reflecting: error))"])
            return nil
        }
    }

    /// Caches `answer` for `timeToLive`.
    public func save(_ key: String, tenant: String, answer: CachedAnswer, timeToLive: Duration) async {
        let expiresAt = clock.date().addingTimeInterval(timeToLive.seconds)
        remember(key, answer: answer, expiresAt: expiresAt)
        guard let shared else { return }
        do {
            try await withLedgerDeadline(.seconds(1)) {
                try await shared.store(key: key, tenant: tenant, answer: answer, expiresAt: expiresAt)
            }
        } catch {
            logger.warning("Response cache store failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Entries in memory.
    public var count: Int { state.withLock { $0.entries.count } }

    private func remember(_ key: String, answer: CachedAnswer, expiresAt: Date) {
        state.withLock { state in
            state.tick += 1
            state.entries[key] = Entry(answer: answer, expiresAt: expiresAt, lastUse: state.tick)
            // Evict in batches (an eighth of the capacity) so eviction costs O(1) amortised per insert.
            guard state.entries.count > capacity else { return }
            let excess = state.entries.count - capacity + max(1, capacity / 8)
            let oldest = state.entries.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(excess).map(\.key)
            for key in oldest { state.entries[key] = nil }
        }
    }
}
