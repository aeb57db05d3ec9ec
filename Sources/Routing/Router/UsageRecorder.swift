import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// One routed request, as cost tracking keeps it.
public struct UsageRecord: Sendable, Equatable {
    public var date: Date
    public var tenant: String
    public var provider: String
    public var model: String
    public var endpoint: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double
    public var latencyMilliseconds: Double
    public var cacheHit: Bool
    /// Attempts that failed before the one that answered.
    public var fallbacks: Int
    /// `ok`, or the error code that ended the request.
    public var status: String
    public var strategy: String?

    public init(
        date: Date, tenant: String, provider: String, model: String, endpoint: String, inputTokens: Int, outputTokens: Int,
        costUSD: Double, latencyMilliseconds: Double, cacheHit: Bool, fallbacks: Int, status: String, strategy: String?
    ) {
        self.date = date
        self.tenant = tenant
        self.provider = provider
        self.model = model
        self.endpoint = endpoint
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.latencyMilliseconds = latencyMilliseconds
        self.cacheHit = cacheHit
        self.fallbacks = fallbacks
        self.status = status
        self.strategy = strategy
    }
}

/// Where usage records go (`usage_records`).
public protocol UsageLedger: Sendable {
    /// Writes a batch in one statement.
    func append(_ records: [UsageRecord]) async throws
}

/// Collects usage records off the response path and writes them in batches: every `interval`, or sooner when
/// `batchSize` records wait. Records that cannot be written stay buffered (up to `maximumBuffered`, oldest
/// dropped and counted beyond that) and go with the next batch.
public final class UsageRecorder: Service {
    public struct Configuration: Sendable {
        /// Time between writes. Defaults to 1 second.
        public var interval: Duration = .seconds(1)
        /// Records that trigger a write before the interval is up. Defaults to 500.
        public var batchSize = 500
        /// Records kept while the database is unreachable. Defaults to 100,000.
        public var maximumBuffered = 100_000

        public init() {}
    }

    struct State {
        var buffer: [UsageRecord] = []
        var dropped = 0
    }

    let configuration: Configuration
    let ledger: any UsageLedger
    let logger: Logger
    private let state = Mutex(State())
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let writing = Mutex(false)

    public init(configuration: Configuration = .init(), ledger: any UsageLedger, logger: Logger) {
        self.configuration = configuration
        self.ledger = ledger
        self.logger = logger
        (wakeUps, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a record; never waits.
    public func record(_ record: UsageRecord) {
        var record = record
        // Names can come from requests: a NUL byte or a megabyte would make PostgreSQL refuse the whole batch.
        record.tenant = Self.clean(record.tenant)
        record.provider = Self.clean(record.provider)
        record.model = Self.clean(record.model)
        record.endpoint = Self.clean(record.endpoint)
        record.status = Self.clean(record.status)
        record.strategy = record.strategy.map(Self.clean)
        let full = state.withLock { state -> Bool in
            state.buffer.append(record)
            if state.buffer.count > configuration.maximumBuffered {
                state.buffer.removeFirst(state.buffer.count - configuration.maximumBuffered)
                state.dropped += 1
            }
            return state.buffer.count >= configuration.batchSize
        }
        if full { wake.yield() }
    }

    /// `text` without control characters, at most 200 characters.
    static func clean(_ text: String) -> String {
        guard text.utf8.count > 200 || text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }).prefix(200))
    }

    /// Records waiting to be written.
    public var pending: Int { state.withLock { $0.buffer.count } }

    /// Writes what is buffered now.
    public func flush() async throws {
        let batch = state.withLock { state -> [UsageRecord] in
            defer { state.buffer.removeAll(keepingCapacity: true) }
            return state.buffer
        }
        guard !batch.isEmpty else { return }
        do {
            try await ledger.append(batch)
        } catch {
            state.withLock { $0.buffer.insert(contentsOf: batch, at: 0) }
            throw error
        }
    }

    public func run() async throws {
        let interval = configuration.interval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wake] in
                while (try? await Task.sleep(for: interval)) != nil { wake.yield() }
            }
            for await _ in wakeUps.cancelOnGracefulShutdown() {
                await writeLoggingFailures()
            }
            group.cancelAll()
        }
        // Shutting down: one last write.
        await writeLoggingFailures()
    }

    private func writeLoggingFailures() async {
        do {
            try await flush()
            let dropped = state.withLock { state in
                defer { state.dropped = 0 }
                return state.dropped
            }
            if dropped > 0 {
                logger.error("Usage records were dropped while the database was unreachable", metadata: ["usage.dropped": "\(dropped)"])
            }
        } catch {
            logger.warning("Writing usage records failed, retrying", metadata: ["usage.pending": "\(pending)", "error": "\(String(reflecting: error))"])
        }
    }
}

/// Usage records in this process's memory: for tests and benchmarks.
public final class InMemoryUsageLedger: UsageLedger {
    private let stored = Mutex<[UsageRecord]>([])

    public init() {}

    public func append(_ records: [UsageRecord]) async throws {
        stored.withLock { $0.append(contentsOf: records) }
    }

    public var records: [UsageRecord] { stored.withLock { $0 } }
}
