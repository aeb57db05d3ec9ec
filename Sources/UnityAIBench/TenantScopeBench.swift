import Foundation
import Logging
import PostgresNIO
import Storage

/// What the tenant scope adds to a request's query: the same one-row read of `response_cache`, run directly as the
/// appliance's own role and in the tenant scope (a transaction as `unity_ai_request` with the tenant's settings, as
/// every request query runs), alternating rounds on one database. Prints microseconds per call, median round.
///
/// Needs `DATABASE_URL` of a database the appliance has migrated (it adds one cached answer for tenant `bench`).
enum TenantScopeBench {
    static func run(calls: Int, rounds: Int) async throws {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"] else {
            fail("set DATABASE_URL to a database `unity-ai migrate` has prepared")
        }
        var logger = Logger(label: "unity-ai-bench")
        logger.logLevel = .error
        let database = try Database(settings: try DatabaseSettings(url: url), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            let expiry = Date().addingTimeInterval(3600)
            try await database.query(
                """
                INSERT INTO response_cache (key, tenant, answer, expires_at) VALUES ('bench-key', 'bench', '{}'::jsonb, \(expiry))
                ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
                """, logger: logger)
            func read(scoped: Bool) async throws -> Int {
                let query: PostgresQuery = "SELECT expires_at FROM response_cache WHERE key = 'bench-key' AND tenant = 'bench'"
                let rows = scoped
                    ? try await database.query(query, inScopeOf: nil, tenant: "bench", logger: logger)
                    : try await database.query(query, logger: logger)
                return try rows.decode(Date.self).count
            }
            var found = 0
            for _ in 0..<100 { found += try await read(scoped: true) + read(scoped: false) }  // warm-up
            var perCall: [String: [Double]] = ["direct": [], "scoped": []]
            for round in 0..<max(1, rounds) {
                // Alternate which goes first so a drift in load favours neither.
                for scoped in round % 2 == 0 ? [false, true] : [true, false] {
                    let clock = ContinuousClock()
                    let start = clock.now
                    for _ in 0..<calls { found += try await read(scoped: scoped) }
                    let elapsed = clock.now - start
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    perCall[scoped ? "scoped" : "direct", default: []].append(seconds / Double(calls) * 1e6)
                }
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let direct = median(perCall["direct"] ?? [0])
            let scoped = median(perCall["scoped"] ?? [0])
            let line: [String: Any] = [
                "bench": "tenant_scope", "calls_per_round": calls, "rounds": rounds, "rows_read": found,
                "direct_us": (direct * 10).rounded() / 10, "scoped_us": (scoped * 10).rounded() / 10,
                "scoped_over_direct": direct > 0 ? (scoped / direct * 100).rounded() / 100 : 0,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}
