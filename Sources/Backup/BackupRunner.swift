import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs backups asked for over HTTP in the background, one at a time, as a `Service`: `POST /api/backups` gets the
/// new set's id at once and `GET /api/backups/{id}` follows the run. Runs in progress are cancelled at shutdown (the
/// set stays incomplete and is cleaned up by a later run).
public final class BackupRunner: Service, Sendable {
    /// How a run started here is doing.
    public enum Status: Sendable {
        case running(started: Date)
        case succeeded(BackupRunReport)
        case failed(started: Date, error: BackupError)
    }

    private struct State {
        var running: String?
        /// The latest runs, oldest first (at most ``remembered``).
        var statuses: [(id: String, status: Status)] = []
        var continuation: AsyncStream<(id: String, started: Date)>.Continuation?
    }

    /// How many finished runs are remembered for `GET /api/backups/{id}`.
    static let remembered = 20

    let make: @Sendable () throws -> BackupService
    let now: @Sendable () -> Date
    let logger: Logger
    private let requests: AsyncStream<(id: String, started: Date)>
    private let state: Mutex<State>

    /// A runner over the service `make` returns, made for each run.
    public init(
        make: @escaping @Sendable () throws -> BackupService, now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger
    ) {
        self.make = make
        self.now = now
        self.logger = logger
        let (requests, continuation) = AsyncStream.makeStream(of: (id: String, started: Date).self)
        self.requests = requests
        self.state = Mutex(State(continuation: continuation))
    }

    /// Starts a backup; returns the id its set will have.
    /// - Throws: ``BackupError/Code/busy`` while a run started here is still running.
    public func start() throws -> String {
        let date = now()
        let id = BackupSetID.make(date: date)
        try state.withLock { state in
            if let running = state.running {
                throw BackupError(
                    .busy, "The backup \(running) is still running: follow it with GET /api/backups/\(running).")
            }
            guard let continuation = state.continuation else {
                throw BackupError(.busy, "The server is shutting down: no backup is started.")
            }
            state.running = id
            remember(id, .running(started: date), in: &state)
            continuation.yield((id, date))
        }
        return id
    }

    /// The status of the run that writes set `id`, when it was started here and is among the latest.
    public func status(of id: String) -> Status? {
        state.withLock { state in state.statuses.last { $0.id == id }?.status }
    }

    /// Runs the backups started with ``start()`` until graceful shutdown, then cancels the one in progress.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await request in requests.cancelOnGracefulShutdown() {
                group.addTask { await self.execute(request.id, started: request.started) }
            }
            state.withLock { $0.continuation = nil }
            group.cancelAll()
        }
    }

    private func execute(_ id: String, started: Date) async {
        let status: Status
        do {
            let report = try await make().run(date: started, id: id)
            status = .succeeded(report)
        } catch let error as BackupError {
            status = .failed(started: started, error: error)
        } catch {
            status = .failed(started: started, error: BackupError(.io, String(describing: error)))
            logger.warning("Backup failed", metadata: ["backup.id": "\(id)", "error": "\(String(reflecting: error))"])
        }
        state.withLock { state in
            state.running = nil
            remember(id, status, in: &state)
        }
    }

    private func remember(_ id: String, _ status: Status, in state: inout State) {
        state.statuses.removeAll { $0.id == id }
        state.statuses.append((id, status))
        if state.statuses.count > Self.remembered { state.statuses.removeFirst(state.statuses.count - Self.remembered) }
    }
}
