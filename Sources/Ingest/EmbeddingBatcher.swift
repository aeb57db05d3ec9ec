import Foundation
import Providers

/// Embeds the texts of many documents in shared batches: documents hand their texts in and wait for their vectors,
/// the batcher fills batches across documents and keeps a bounded number of them in flight.
///
/// - Backpressure: at most ``Configuration/maximumPendingTexts`` texts wait for a batch; a document handing in more
///   waits until batches have taken some, so extraction never runs far ahead of the provider.
/// - The same text (by key, the SHA-256 of the text) waiting or in flight is embedded once for all who asked.
/// - A failed batch is tried again (``Configuration/retries``); if it still fails and holds texts of several
///   documents, each document's texts are tried alone once, so one bad document fails only itself. Fallback to
///   another model is the provider's business (the router's embeddings fall back only to the same model and
///   dimensions); the batcher checks every vector has the model's dimensions.
public actor EmbeddingBatcher {
    /// Batch size, texts in flight and retries.
    public struct Configuration: Sendable {
        /// Texts in one batch; a provider whose own limit is lower gets batches of its limit. Defaults to 64.
        public var batchSize = 64
        /// Batches sent to the provider at once. Defaults to 4.
        public var maximumInFlight = 4
        /// Further attempts of a failed batch before its documents are tried alone. Defaults to 1.
        public var retries = 1
        /// How long a partial batch waits for more texts before it is sent anyway. Defaults to 10 ms.
        public var linger: Duration = .milliseconds(10)
        /// Texts waiting for a batch before documents handing in more are made to wait. Defaults to two rounds of
        /// full batches in flight.
        public var maximumPendingTexts: Int?

        /// The defaults.
        public init() {}
    }

    /// The vectors of one ``embed(_:keys:)`` call and how many of its texts this call had embedded (the others
    /// were already waiting or in flight for another document).
    public struct Result: Sendable {
        /// One vector per text, in order.
        public var vectors: [[Float]]
        /// Texts sent to the provider on this call's behalf.
        public var embedded: Int
    }

    /// What the batcher has done, for tests and the benchmark.
    public struct Statistics: Sendable, Equatable {
        /// Batches sent to the provider (attempts included).
        public var batches = 0
        /// Texts sent to the provider (attempts included).
        public var texts = 0
        /// Batches that failed (an attempt that threw or returned a wrong count or dimension).
        public var failedAttempts = 0
        /// The most batches in flight at once.
        public var peakInFlight = 0
        /// The most texts waiting for a batch at once.
        public var peakPendingTexts = 0
        /// Calls waiting now for room among the pending texts (backpressure).
        public var waitingForAdmission = 0
    }

    private final class Request {
        var vectors: [[Float]?]
        var remaining: Int
        var embedded = 0
        var finished = false
        let continuation: CheckedContinuation<Result, any Error>

        init(count: Int, continuation: CheckedContinuation<Result, any Error>) {
            vectors = Array(repeating: nil, count: count)
            remaining = count
            self.continuation = continuation
        }
    }

    private struct Slot {
        let request: Request
        let index: Int
    }

    private struct Item: Sendable {
        let key: String
        let text: String
    }

    let embedder: any EmbeddingProvider
    let configuration: Configuration
    private var pending: [Item] = []
    private var pendingStart = 0
    private var waiting: [String: [Slot]] = [:]
    private var inFlight = 0
    private var flushScheduled = false
    private var admissions: [CheckedContinuation<Void, Never>] = []
    private var statistics = Statistics()

    /// A batcher in front of `embedder`; it starts no work until asked to embed.
    public init(embedder: any EmbeddingProvider, configuration: Configuration = .init()) {
        self.embedder = embedder
        self.configuration = configuration
    }

    /// Texts in one batch: the configured size, at most the provider's limit, at least 1.
    var batchSize: Int { max(1, min(configuration.batchSize, embedder.maximumBatchSize)) }
    var maximumInFlight: Int { max(1, configuration.maximumInFlight) }
    var capacity: Int { max(1, configuration.maximumPendingTexts ?? batchSize * maximumInFlight * 2) }
    private var pendingCount: Int { pending.count - pendingStart }

    /// What the batcher has done so far.
    public var currentStatistics: Statistics {
        var current = statistics
        current.waitingForAdmission = admissions.count
        return current
    }

    /// Embeds `texts`, one vector each in order; `keys` (one per text, equal for equal texts: their SHA-256)
    /// let the same text asked for twice be embedded once. Waits while too many texts are pending.
    public func embed(_ texts: [String], keys: [String]) async throws -> Result {
        guard texts.count == keys.count else {
            throw ProviderError.malformedResponse(
                provider: embedder.model.name, reason: "\(texts.count) texts but \(keys.count) keys")
        }
        guard !texts.isEmpty else { return Result(vectors: [], embedded: 0) }
        while pendingCount >= capacity {
            await withCheckedContinuation { admissions.append($0) }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let request = Request(count: texts.count, continuation: continuation)
            for (index, (text, key)) in zip(texts, keys).enumerated() {
                if waiting[key] != nil {
                    waiting[key, default: []].append(Slot(request: request, index: index))
                } else {
                    waiting[key] = [Slot(request: request, index: index)]
                    pending.append(Item(key: key, text: text))
                    request.embedded += 1
                }
            }
            statistics.peakPendingTexts = max(statistics.peakPendingTexts, pendingCount)
            dispatch(force: false)
        }
    }

    /// Sends full batches while there is room in flight; partial ones only when `force` (the linger ran out),
    /// else schedules that.
    private func dispatch(force: Bool) {
        while inFlight < maximumInFlight && pendingCount > 0 {
            guard pendingCount >= batchSize || force else {
                scheduleFlush()
                break
            }
            let end = min(pendingStart + batchSize, pending.count)
            let batch = Array(pending[pendingStart..<end])
            pendingStart = end
            if pendingStart == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingStart = 0
            } else if pendingStart > 4096 {
                pending.removeFirst(pendingStart)
                pendingStart = 0
            }
            launch(batch, retries: configuration.retries, isolating: true)
        }
        if pendingCount < capacity && !admissions.isEmpty {
            let admitted = admissions
            admissions.removeAll()
            for admission in admitted { admission.resume() }
        }
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        let linger = configuration.linger
        Task {
            try? await Task.sleep(for: linger)
            self.flush()
        }
    }

    private func flush() {
        flushScheduled = false
        dispatch(force: true)
    }

    /// Sends one batch; `isolating` says a batch that still fails after its retries is split by document.
    private func launch(_ batch: [Item], retries: Int, isolating: Bool) {
        inFlight += 1
        statistics.peakInFlight = max(statistics.peakInFlight, inFlight)
        let embedder = embedder
        Task {
            var attempt = 0
            var outcome: Swift.Result<[[Float]], any Error>
            repeat {
                self.count(batch.count)
                outcome = await Self.attempt(embedder, batch.map(\.text))
                if case .failure = outcome { self.countFailure() }
                attempt += 1
            } while attempt <= retries && Self.failed(outcome)
            self.complete(batch, outcome, isolating: isolating)
        }
    }

    private static func failed(_ outcome: Swift.Result<[[Float]], any Error>) -> Bool {
        if case .failure = outcome { return true }
        return false
    }

    private func count(_ texts: Int) {
        statistics.batches += 1
        statistics.texts += texts
    }

    private func countFailure() { statistics.failedAttempts += 1 }

    /// One call to the provider, with the count and dimensions of its answer checked.
    private static func attempt(_ embedder: any EmbeddingProvider, _ texts: [String]) async -> Swift.Result<[[Float]], any Error> {
        do {
            let vectors = try await embedder.embed(texts)
            guard vectors.count == texts.count else {
                throw ProviderError.malformedResponse(
                    provider: embedder.model.name, reason: "returned \(vectors.count) vectors for \(texts.count) texts")
            }
            let dimensions = embedder.model.dimensions
            guard vectors.allSatisfy({ $0.count == dimensions }) else {
                throw ProviderError.malformedResponse(
                    provider: embedder.model.name, reason: "returned vectors not of \(dimensions) dimensions")
            }
            return .success(vectors)
        } catch {
            return .failure(error)
        }
    }

    private func complete(_ batch: [Item], _ outcome: Swift.Result<[[Float]], any Error>, isolating: Bool) {
        inFlight -= 1
        switch outcome {
        case .success(let vectors):
            for (item, vector) in zip(batch, vectors) { fill(item.key, with: vector) }
        case .failure(let error):
            // Group by the document that asked first for each text; alone, each group fails only its own.
            var groups: [ObjectIdentifier: [Item]] = [:]
            var order: [ObjectIdentifier] = []
            for item in batch {
                guard let owner = waiting[item.key]?.first?.request else { continue }
                let id = ObjectIdentifier(owner)
                if groups[id] == nil { order.append(id) }
                groups[id, default: []].append(item)
            }
            if isolating && order.count > 1 {
                for id in order { launchIsolated(groups[id] ?? []) }
            } else {
                for item in batch { fail(item.key, with: error) }
            }
        }
        dispatch(force: false)
    }

    /// A document's share of a failed batch, tried once on its own (it may exceed the in-flight bound briefly).
    private func launchIsolated(_ items: [Item]) {
        guard !items.isEmpty else { return }
        launch(items, retries: 0, isolating: false)
    }

    private func fill(_ key: String, with vector: [Float]) {
        for slot in waiting.removeValue(forKey: key) ?? [] {
            let request = slot.request
            guard !request.finished else { continue }
            request.vectors[slot.index] = vector
            request.remaining -= 1
            if request.remaining == 0 {
                request.finished = true
                request.continuation.resume(
                    returning: Result(vectors: request.vectors.map { $0 ?? [] }, embedded: request.embedded))
            }
        }
    }

    private func fail(_ key: String, with error: any Error) {
        for slot in waiting.removeValue(forKey: key) ?? [] where !slot.request.finished {
            slot.request.finished = true
            slot.request.continuation.resume(throwing: error)
        }
    }
}
