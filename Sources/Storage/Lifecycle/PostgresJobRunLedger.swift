import Foundation
import Lifecycle
import Logging
import PostgresNIO

/// The scheduler's claims and history in `job_runs`, shared by every instance on the database: one INSERT of a
/// `(job, slot)` pair succeeds, so each slot runs once across the cluster; an advisory lock held for the length of
/// a run keeps two slots of one job from overlapping.
public struct PostgresJobRunLedger: JobRunLedger {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The first key of the job locks' two-integer advisory-lock space ("uaij").
    static let lockNamespace: Int32 = 0x7561_696A

    public func claim(job: String, slot: Date, manual: Bool, instance: String, at: Date) async throws -> Int64? {
        let rows = try await client.query(
            """
            INSERT INTO job_runs (job, slot, manual, instance, started_at) VALUES (\(job), \(slot), \(manual), \(instance), \(at))
            ON CONFLICT (job, slot) DO NOTHING
            RETURNING id
            """, logger: logger)
        return try rows.decode(Int64.self).first
    }

    public func finish(run: Int64, status: JobRun.Status, summary: String?, error: String?, at: Date) async throws {
        try await client.query(
            """
            UPDATE job_runs SET status = \(status.rawValue), summary = \(summary.map { String($0.prefix(4_000)) }),
                   error = \(error.map { String($0.prefix(4_000)) }), finished_at = \(at)
            WHERE id = \(run)
            """, logger: logger)
    }

    public func history(job: String?, limit: Int) async throws -> [JobRun] {
        let rows = try await client.query(
            """
            SELECT id, job, slot, manual, instance, started_at, finished_at, status, summary, error
            FROM job_runs WHERE \(job) IS NULL OR job = \(job)
            ORDER BY started_at DESC, id DESC LIMIT \(max(0, min(limit, 10_000)))
            """, logger: logger)
        return try rows.decode((Int64, String, Date, Bool, String, Date, Date?, String, String?, String?).self).map {
            JobRun(
                id: $0.0, job: $0.1, slot: $0.2, manual: $0.3, instance: $0.4, startedAt: $0.5, finishedAt: $0.6,
                status: JobRun.Status(rawValue: $0.7) ?? .failed, summary: $0.8, error: $0.9)
        }
    }

    /// Releases the job lock outside the caller's task: a run cancelled at shutdown must not hand its connection
    /// back to the pool still holding the lock (a connection that fails here is closed, which releases it too).
    static func unlock(_ job: String, on connection: PostgresConnection, logger: Logger) async {
        await Task {
            _ = try? await connection.query(
                "SELECT pg_advisory_unlock(\(lockNamespace), hashtext(\(job)))", logger: logger)
        }.value
    }

    public func withJobLock<Result: Sendable>(
        job: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result? {
        let logger = self.logger
        return try await client.withConnection(logger: logger) { connection in
            let locked = try await connection.query(
                "SELECT pg_try_advisory_lock(\(Self.lockNamespace), hashtext(\(job)))", logger: logger)
            var acquired = false
            for try await value in locked.decode(Bool.self) { acquired = value }
            guard acquired else { return nil }
            do {
                // Holding the lock, any run of this job still marked running belongs to an instance that went away.
                try await connection.query(
                    """
                    UPDATE job_runs SET status = 'abandoned', finished_at = now()
                    WHERE job = \(job) AND status = 'running'
                    """, logger: logger)
                let result = try await body()
                await Self.unlock(job, on: connection, logger: logger)
                return result
            } catch {
                await Self.unlock(job, on: connection, logger: logger)
                throw error
            }
        }
    }
}
