import Deadlines
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The appliance's PostgreSQL as every repository uses it: a `PostgresClient` whose calls never hang while the
/// server is down.
///
/// `PostgresClient` queues a call until a connection can be made, however long that takes. Here getting a
/// connection has a deadline (``Configuration/connectionDeadline``); past it, or on any connection failure, the call
/// fails with ``StorageError`` `serverUnreachable` (503 `storage_unavailable` over HTTP) naming the server and the
/// cause. While the server is known to be down, calls fail at once, except one trial per
/// ``Configuration/retryInterval``, which finds the server again when it is back: no restart is needed.
///
/// The deadline covers getting a connection only; a query that runs long on a live connection is not cut.
public final class Database: Sendable {
    public struct Configuration: Sendable {
        /// How long a call may wait for a connection from a server that answers (a busy one). Defaults to 10 seconds.
        public var connectionDeadline: Duration = .seconds(10)
        /// How long a call waits for a connection before the server is checked directly; one that cannot be reached
        /// fails the call then. Defaults to 1 second.
        public var suspicionDelay: Duration = .seconds(1)
        /// While the server is down, how often one call may try it again (the others fail at once). Defaults to
        /// 1 second.
        public var retryInterval: Duration = .seconds(1)
        public init() {}
    }

    public let client: PostgresClient
    /// Where the server is, for messages (no password).
    public let settings: DatabaseSettings?
    public let configuration: Configuration
    private let state = Mutex(Availability())
    /// The direct check in progress, shared by every call that waits for it.
    private let diagnosis = Mutex<Task<ConnectionVerdict, Never>?>(nil)
    /// Ends calls whose connection closed under them (see ``ConnectionCloseWatch``).
    private let closeWatch = ConnectionCloseWatch()

    struct Availability {
        /// Set while the server is known to be unreachable.
        var outage: Outage?
    }

    struct Outage {
        var since: Date
        var cause: String
        /// No call tries the server before this instant, but the first one after it.
        var nextTrial: ContinuousClock.Instant
    }

    public init(client: PostgresClient, settings: DatabaseSettings? = nil, configuration: Configuration = .init()) {
        self.client = client
        self.settings = settings
        self.configuration = configuration
    }

    /// A client for `settings`, with connection failures logged once per outage rather than every second.
    public convenience init(settings: DatabaseSettings, configuration: Configuration = .init(), logger: Logger) throws {
        var poolLogger = logger
        // The pool logs every failed connection attempt at info; the outage itself is logged here, once.
        poolLogger.logLevel = max(logger.logLevel, .warning)
        self.init(
            client: PostgresClient(configuration: try settings.clientConfiguration(), backgroundLogger: poolLogger),
            settings: settings, configuration: configuration)
    }

    /// What a message calls the server.
    var serverName: String { settings.map { "PostgreSQL at \($0)" } ?? "PostgreSQL" }

    // MARK: Calls

    /// Runs `query` and returns its rows, read in full.
    @discardableResult
    public func query(
        _ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> QueryRows {
        try await withConnection(logger: logger) { connection in
            QueryRows(rows: try await connection.query(query, logger: logger, file: file, line: line).collect())
        }
    }

    /// Runs `body` in a transaction on one connection.
    public func withTransaction<Result: Sendable>(
        logger: Logger, file: String = #fileID, line: Int = #line,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection(logger: logger) { connection in
            try await connection.withTransaction(logger: logger, file: file, line: line) { try await body($0) }
        }
    }

    /// Runs `body` with a connection, which it gets within ``Configuration/connectionDeadline`` or fails.
    ///
    /// A call still without a connection after ``Configuration/suspicionDelay`` has the server checked directly
    /// (one check at a time for all calls): a server that refuses or cannot be reached fails the call at once and
    /// starts an outage; a server that answers is only busy, and the call waits on up to the deadline — a full pool
    /// under load is no outage.
    public func withConnection<Result: Sendable>(
        logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try admitCall()
        let leased = LeaseFlag()
        let client = self.client
        let deadline = configuration.connectionDeadline
        let suspicion = configuration.suspicionDelay
        do {
            let result = try await withThrowingTaskGroup(of: Race<Result>.self) { group in
                group.addTask { [closeWatch] in
                    .finished(
                        try await client.withConnection { connection in
                            leased.set()
                            return try await closeWatch.run(on: connection, body)
                        })
                }
                group.addTask {
                    try await Deadlines.sleep(for: deadline)
                    return .deadlinePassed
                }
                group.addTask {
                    try await Deadlines.sleep(for: suspicion)
                    return leased.isSet ? .diagnosed(.answers) : .diagnosed(await self.sharedDiagnosis(logger: logger))
                }
                // A check that got no answer in time proves nothing under load; it counts only if the deadline
                // passes too.
                var unanswered: String?
                while let next = try await group.next() {
                    switch next {
                    case .finished(let value):
                        group.cancelAll()
                        return value
                    case .diagnosed(.unreachable(let cause)) where !leased.isSet:
                        group.cancelAll()
                        throw ServerUnreachable(cause: cause)
                    case .diagnosed(.noAnswer(let cause)):
                        unanswered = cause
                    case .deadlinePassed where !leased.isSet:
                        group.cancelAll()
                        if let unanswered { throw ServerUnreachable(cause: unanswered) }
                        throw ConnectionDeadlineExceeded(deadline: deadline)
                    case .diagnosed, .deadlinePassed:
                        continue  // connected in time (the query may run as long as it needs), or the server answers
                    }
                }
                throw CancellationError()
            }
            recordSuccess(logger: logger)
            return result
        } catch {
            if let error = error as? ConnectionDeadlineExceeded {
                // The server answers (or could not be checked) but gave no connection in time: busy, not down.
                var busy = StorageError(
                    .serverUnreachable,
                    "\(serverName) gave no connection within \(error.deadline.components.seconds) s: it is busy or slow. "
                        + "Retry shortly.")
                busy.retryAfter = .seconds(2)
                throw busy
            }
            if let cause = Self.connectivityCause(of: error) {
                throw recordOutage(cause: cause, logger: logger)
            }
            if leased.isSet { recordSuccess(logger: logger) }  // the server answered, with an error of the call's own
            if let error = error as? PSQLError, error.code == .server, error.serverInfo?[.sqlState] == "42P01" {
                // undefined_table: the migrations have not run yet, which `serve` does in the background.
                var notReady = StorageError(
                    .schemaNotReady,
                    "The database schema is not set up yet: the server applies its migrations at start-up. Retry "
                        + "shortly, or run `unity-ai migrate`.")
                notReady.retryAfter = .seconds(2)
                throw notReady
            }
            throw error
        }
    }

    // MARK: Availability

    /// What a direct connection finds; one at a time for all callers.
    private func sharedDiagnosis(logger: Logger) async -> ConnectionVerdict {
        guard let settings else { return .answers }
        let task = diagnosis.withLock { current -> Task<ConnectionVerdict, Never> in
            if let current { return current }
            let started = Task {
                defer { self.diagnosis.withLock { $0 = nil } }
                return await Self.checkConnection(to: settings, timeout: .seconds(5), logger: logger)
            }
            current = started
            return started
        }
        return await task.value
    }

    /// Fails at once while the server is known to be down, except for one trial per retry interval.
    private func admitCall(now: ContinuousClock.Instant = .now) throws {
        let refusal: StorageError? = state.withLock { state in
            guard var outage = state.outage else { return nil }
            if now >= outage.nextTrial {
                outage.nextTrial = now + configuration.retryInterval
                state.outage = outage
                return nil
            }
            return unavailable(outage)
        }
        if let refusal { throw refusal }
    }

    private func recordSuccess(logger: Logger) {
        let ended = state.withLock { state -> Outage? in
            defer { state.outage = nil }
            return state.outage
        }
        if let ended {
            logger.notice(
                "PostgreSQL is reachable again",
                metadata: ["postgres.server": "\(settings?.description ?? "-")", "outage.seconds": "\(Int(-ended.since.timeIntervalSinceNow))"])
        }
    }

    private func recordOutage(cause: String, logger: Logger) -> StorageError {
        let (outage, isNew) = state.withLock { state -> (Outage, Bool) in
            if var outage = state.outage {
                outage.cause = cause
                state.outage = outage
                return (outage, false)
            }
            let outage = Outage(since: Date(), cause: cause, nextTrial: .now + configuration.retryInterval)
            state.outage = outage
            return (outage, true)
        }
        if isNew {
            logger.error(
                "PostgreSQL is unreachable; requests that need it answer 503 until it is back",
                metadata: ["postgres.server": "\(settings?.description ?? "-")", "error": "\(cause)"])
        }
        return unavailable(outage)
    }

    private func unavailable(_ outage: Outage) -> StorageError {
        var error = StorageError(
            .serverUnreachable,
            "\(serverName) is unreachable (\(outage.cause)). The appliance retries every "
                + "\(Int(configuration.retryInterval.components.seconds)) s; check that the server is running and "
                + "DATABASE_URL.")
        error.retryAfter = .seconds(max(1, configuration.retryInterval.components.seconds))
        return error
    }

    /// Why `error` means the server cannot be reached — `nil` when it is an error of the call itself (a constraint,
    /// a syntax error), which says the server is up.
    public static func connectivityCause(of error: any Error) -> String? {
        switch error {
        case let error as ServerUnreachable:
            return error.cause
        case let error as ConnectionClosedUnderCall:
            return error.description
        case let error as PostgresTransactionError:
            for inner in [error.beginError, error.closureError, error.commitError].compactMap({ $0 }) {
                if let cause = connectivityCause(of: inner) { return cause }
            }
            return nil
        case let error as PSQLError:
            switch error.code {
            case .server:
                // The server answered. Only its own "going away" states mean it is unavailable.
                let state = error.serverInfo?[.sqlState] ?? ""
                guard state.hasPrefix("08") || state.hasPrefix("57P") else { return nil }
                return error.serverInfo?[.message] ?? "the server is shutting down"
            case .queryCancelled, .tooManyParameters, .invalidCommandTag, .listenFailed, .unlistenFailed:
                return nil
            case .sslUnsupported:
                return "the server does not support TLS (sslmode asks for it)"
            case .failedToAddSSLHandler:
                return "TLS could not be set up: \(error.underlying.map { "\($0)" } ?? "unknown reason")"
            case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
                return "authentication failed: \(Migrator.describe(error))"
            default:
                return error.underlying.map(describeTransport) ?? "the connection failed (\(error.code))"
            }
        case is CancellationError:
            return nil
        case is IOError, is ChannelError, is NIOConnectionError, is NIOSSLError, is NIOSSLExtraError:
            return describeTransport(error)
        default:
            return nil
        }
    }

    /// A transport error in words: refused, timed out, host unknown, TLS.
    static func describeTransport(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first?.error { return describeTransport(first) }
            if error.dnsAAAAError != nil || error.dnsAError != nil { return "the host name could not be resolved" }
            return "the connection failed"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return "connection refused: nothing listens on that host and port"
        case let error as IOError where error.errnoCode == ETIMEDOUT:
            return "the connection timed out"
        case let error as ChannelError:
            if case .connectTimeout = error { return "the connection timed out" }
            return "the connection failed (\(error))"
        case let error as NIOSSLError:
            return "TLS failed: \(error)"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "TLS failed: the server's certificate does not name this host (sslmode=verify-full checks it; "
                + "connect by a name the certificate holds)"
        case let error as NIOSSLExtraError:
            return "TLS failed: \(error)"
        case let error as BoringSSLError:
            return "TLS failed: \(error)"
        default:
            return "\(error)"
        }
    }

    /// Connects once, directly, and says why that fails: for a command's first call, so that a wrong
    /// `DATABASE_URL` is reported within seconds with its cause (refused, timed out, authentication, TLS).
    /// - Returns: `nil` when the connection succeeds.
    public static func diagnoseConnection(
        to settings: DatabaseSettings, timeout: Duration = .seconds(5), logger: Logger
    ) async -> String? {
        switch await checkConnection(to: settings, timeout: timeout, logger: logger) {
        case .answers: nil
        case .unreachable(let cause), .noAnswer(let cause): cause
        }
    }

    /// Connects once, directly: whether the server answers, refuses (or cannot be reached for a reason that
    /// will not pass by waiting: no such host, authentication, TLS), or gave no answer within `timeout`.
    static func checkConnection(to settings: DatabaseSettings, timeout: Duration, logger: Logger) async -> ConnectionVerdict {
        do {
            var configuration = try settings.connectionConfiguration()
            configuration.options.connectTimeout = TimeAmount(timeout)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return .answers
        } catch let error as StorageError {
            return .unreachable(error.message)
        } catch let error as PSQLError where error.code == .server {
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = Migrator.describe(error)
            switch state {
            case "28P01", "28000": return .unreachable("authentication failed: \(message). Check the user and password in DATABASE_URL.")
            case "3D000": return .unreachable("\(message). Create the database or name another in DATABASE_URL.")
            // Too many connections, starting up: the server answers, and waiting helps.
            case "53300", "57P03": return .noAnswer(message)
            default: return .unreachable(message)
            }
        } catch {
            let cause = connectivityCause(of: error) ?? "\(error)"
            return isTimeout(error) ? .noAnswer(cause) : .unreachable(cause)
        }
    }

    /// Whether `error` is a connection attempt that ran out of time (which may be load, not an outage).
    static func isTimeout(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError: error.underlying.map(isTimeout) ?? false
        case let error as NIOConnectionError: error.connectionErrors.contains { isTimeout($0.error) }
        case let error as ChannelError: if case .connectTimeout = error { true } else { false }
        case let error as IOError: error.errnoCode == ETIMEDOUT
        default: false
        }
    }
}

/// What a direct connection attempt found.
enum ConnectionVerdict: Sendable {
    case answers
    /// Refused, no such host, authentication or TLS failed: waiting will not help.
    case unreachable(String)
    /// No answer within the time allowed: down, or only slow.
    case noAnswer(String)
}

/// A query's rows, read in full on the connection that ran it.
public struct QueryRows: Sendable {
    public let rows: [PostgresRow]

    /// The rows decoded as `columns`.
    public func decode<each Column: PostgresDecodable>(
        _ columns: (repeat each Column).Type, file: String = #fileID, line: Int = #line
    ) throws -> [(repeat each Column)] {
        try rows.map { try $0.decode(columns, file: file, line: line) }
    }

    /// The rows decoded as one column.
    public func decode<Column: PostgresDecodable>(
        _ column: Column.Type, file: String = #fileID, line: Int = #line
    ) throws -> [Column] {
        try rows.map { try $0.decode(column, file: file, line: line) }
    }
}

/// No connection came within the deadline, from a server that answers.
struct ConnectionDeadlineExceeded: Error {
    var deadline: Duration
}

/// The direct check found the server unreachable.
struct ServerUnreachable: Error {
    var cause: String
}

private enum Race<Value: Sendable>: Sendable {
    case finished(Value)
    case deadlinePassed
    /// The direct check's verdict.
    case diagnosed(ConnectionVerdict)
}

/// Whether the call got its connection.
private final class LeaseFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
