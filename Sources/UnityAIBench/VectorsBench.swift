import Foundation
import Logging
import PostgresNIO
import Routing
import Storage

/// Tenant-filtered vector search on a database loaded by `deploy/bench-vectors.sh load` (VectorsLayout): for each
/// strategy, the latency of every query (the whole call: transaction, tenant scope, settings, query) and recall@10
/// against exact search with the same filter, for the tenant holding 1 % of the rows and for a large one.
///
/// Strategies: pgvector's HNSW scan as the appliance ran it before (`today`: planner's choice, then the index forced
/// as stale statistics or a larger tenant would get it), tuned iterative scans, the exact scan, a per-tenant partial
/// HNSW index, and ``ChunkSearch/nearest(to:modelID:dimensions:tenantID:limit:logger:)`` as shipped.
enum VectorsBench {
    static let k = 10

    struct Measured {
        var name: String
        var tenant: String
        var latencies: [Double] = []  // seconds
        var recalls: [Double] = []
        var shortQueries = 0

        func percentile(_ q: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
        }

        var json: [String: Any] {
            func ms(_ seconds: Double) -> Double { (seconds * 100_000).rounded() / 100 }
            return [
                "strategy": name, "tenant": tenant, "p50_ms": ms(percentile(0.5)), "p99_ms": ms(percentile(0.99)),
                "recall_at_10": ((recalls.reduce(0, +) / Double(max(1, recalls.count))) * 1000).rounded() / 1000,
                "queries_short_of_10": shortQueries,
            ]
        }
    }

    struct Setup {
        var database: Database
        var modelID: Int
        var rows: Int
        var queries: [[Float]]
        var logger: Logger
    }

    static func run(url: String, queryCount: Int) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let database = try Database(settings: try DatabaseSettings(url: url), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            try await Task.sleep(for: .milliseconds(5))
            try await measure(database: database, queryCount: queryCount, logger: logger)
        }
    }

    static func scalar(_ sql: String, _ database: Database, _ logger: Logger) async throws -> Int64 {
        for value in try await database.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) {
            return value
        }
        fail("no value for: \(sql)")
    }

    static func measure(database: Database, queryCount: Int, logger: Logger) async throws {
        let modelID = Int(try await scalar("SELECT id::bigint FROM embedding_models WHERE name = 'bench-384'", database, logger))
        let small = try await scalar("SELECT id FROM tenants WHERE name = 'bench-t0'", database, logger)
        let large = try await scalar("SELECT id FROM tenants WHERE name = 'bench-t1'", database, logger)
        let rows = Int(try await scalar("SELECT count(*) FROM chunk_embeddings", database, logger))
        var queries: [[Float]] = []
        for text in try await database.query(
            "SELECT embedding::text FROM bench_queries ORDER BY id LIMIT \(queryCount)", logger: logger
        ).decode(String.self) {
            queries.append(text.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",").compactMap { Float($0) })
        }
        let setup = Setup(database: database, modelID: modelID, rows: rows, queries: queries, logger: logger)
        var results: [[String: Any]] = []
        let shipped = {
            var settings = VectorSearchSettings()
            settings.halfvecFromDimensions = 1  // the benchmark's index is halfvec(384), as issue 14 asks
            return settings
        }()

        for (tenant, label) in [(small, "1%"), (large, "11%")] {
            let truth = try await exactTopK(setup: setup, tenantID: tenant)
            func record(_ name: String, _ search: @Sendable ([Float]) async throws -> [Int64]) async throws {
                results.append(try await run(name, tenant: label, setup: setup, truth: truth, search).json)
                FileHandle.standardError.write(Data("\(results.last ?? [:])\n".utf8))
            }
            try await record("today (planner's choice; relaxed, ef_search 40, max_scan_tuples 20000)") {
                try await legacy($0, setup: setup, tenantID: tenant, mode: "relaxed_order", efSearch: 40, maxScan: 20_000)
            }
            for (mode, ef, maxScan) in [
                ("relaxed_order", 40, 20_000), ("strict_order", 40, 20_000), ("relaxed_order", 100, 20_000),
                ("strict_order", 100, 50_000), ("strict_order", 200, 100_000),
            ] {
                try await record("HNSW forced: \(mode), ef_search \(ef), max_scan_tuples \(maxScan)") {
                    try await legacy($0, setup: setup, tenantID: tenant, mode: mode, efSearch: ef, maxScan: maxScan, forceIndex: true)
                }
            }
            let exact = {
                var settings = shipped
                settings.exactScanMaxRows = 100_000_000
                return settings
            }()
            try await record("exact scan (btree on model_id, tenant_id)") {
                try await ChunkSearch(client: database, vectorSearch: exact).nearest(
                    to: $0, modelID: modelID, dimensions: VectorsLayout.dimensions, tenantID: tenant, limit: k, logger: logger
                ).map(\.chunkID)
            }
        }
        // The per-tenant partial index, for the small tenant: its build, then searches through it.
        let indexes = TenantVectorIndexes(client: database, vectorSearch: shipped)
        let clock = ContinuousClock()
        let build = try await clock.measure {
            try await indexes.create(modelID: modelID, dimensions: VectorsLayout.dimensions, tenantID: small, logger: logger)
        }
        let truth = try await exactTopK(setup: setup, tenantID: small)
        var indexOnly = shipped
        indexOnly.exactScanMaxRows = 0
        for (mode, ef) in [("strict_order", 40), ("strict_order", 100)] {
            let settings = {
                var settings = indexOnly
                settings.minimumEfSearch = ef
                settings.iterativeScan = VectorSearchSettings.IterativeScan(rawValue: mode) ?? .strictOrder
                return settings
            }()
            results.append(
                try await run("tenant's own partial HNSW index, ef_search \(ef)", tenant: "1%", setup: setup, truth: truth) {
                    try await ChunkSearch(client: database, vectorSearch: settings).nearest(
                        to: $0, modelID: modelID, dimensions: VectorsLayout.dimensions, tenantID: small, limit: k, logger: logger
                    ).map(\.chunkID)
                }.json)
            FileHandle.standardError.write(Data("\(results.last ?? [:])\n".utf8))
        }
        try await indexes.drop(modelID: modelID, tenantID: small, logger: logger)
        // As shipped: the policy's indexes, then ChunkSearch.nearest with its defaults.
        let policyBuild = try await clock.measure {
            _ = try await indexes.reconcile(modelID: modelID, dimensions: VectorsLayout.dimensions, logger: logger)
        }
        for (tenant, label) in [(small, "1%"), (large, "11%")] {
            let truth = try await exactTopK(setup: setup, tenantID: tenant)
            results.append(
                try await run("chosen: ChunkSearch.nearest as shipped", tenant: label, setup: setup, truth: truth) {
                    try await ChunkSearch(client: database, vectorSearch: shipped).nearest(
                        to: $0, modelID: modelID, dimensions: VectorsLayout.dimensions, tenantID: tenant, limit: k, logger: logger
                    ).map(\.chunkID)
                }.json)
            FileHandle.standardError.write(Data("\(results.last ?? [:])\n".utf8))
        }
        let summary: [String: Any] = [
            "rows": rows, "queries": queries.count, "k": k, "results": results,
            "tenant_index_build_s": (build.seconds * 10).rounded() / 10,
            "policy_index_build_s": (policyBuild.seconds * 10).rounded() / 10,
            "load_average": (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "",
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
    }

    /// The exact top k of each query for the tenant: every row of the tenant, full-precision cosine distance.
    static func exactTopK(setup: Setup, tenantID: Int64) async throws -> [[Int64]] {
        var truth: [[Int64]] = []
        for query in setup.queries {
            let literal = KnowledgeStore.vectorLiteral(query)
            let rows = try await setup.database.query(
                """
                SELECT chunk_id FROM chunk_embeddings
                WHERE model_id = \(setup.modelID) AND tenant_id = \(tenantID)
                ORDER BY embedding <=> \(literal)::vector LIMIT \(k)
                """, logger: setup.logger)
            truth.append(try rows.decode(Int64.self).map { $0 })
        }
        return truth
    }

    /// The query as ChunkSearch.nearest ran it before this change (halfvec index), with its settings; `forceIndex`
    /// takes the sort path away from the planner, as happens when it believes the tenant is large.
    static func legacy(
        _ vector: [Float], setup: Setup, tenantID: Int64, mode: String, efSearch: Int, maxScan: Int, forceIndex: Bool = false
    ) async throws -> [Int64] {
        let literal = KnowledgeStore.vectorLiteral(vector)
        let type = "halfvec(\(VectorsLayout.dimensions))"
        return try await setup.database.withTenantScope(tenantID: tenantID, logger: setup.logger) { connection in
            try await connection.query(
                """
                SELECT set_config('hnsw.iterative_scan', \(mode), true), set_config('hnsw.ef_search', \(String(efSearch)), true),
                       set_config('hnsw.max_scan_tuples', \(String(maxScan)), true),
                       set_config('enable_sort', \(forceIndex ? "off" : "on"), true)
                """, logger: setup.logger)
            var query = PostgresQuery(
                unsafeSQL: """
                    SELECT e.chunk_id FROM chunk_embeddings e
                    WHERE e.model_id = \(setup.modelID) AND e.tenant_id = $2
                    ORDER BY e.embedding::\(type) <=> $1::\(type) LIMIT $3
                    """)
            query.binds.append(literal, context: .default)
            query.binds.append(tenantID, context: .default)
            query.binds.append(k, context: .default)
            var ids: [Int64] = []
            for try await id in try await connection.query(query, logger: setup.logger).decode(Int64.self) { ids.append(id) }
            return ids
        }
    }

    static func run(
        _ name: String, tenant: String, setup: Setup, truth: [[Int64]], _ search: @Sendable ([Float]) async throws -> [Int64]
    ) async throws -> Measured {
        for query in setup.queries.prefix(20) { _ = try await search(query) }  // warm-up: caches, connections
        var measured = Measured(name: name, tenant: tenant)
        let clock = ContinuousClock()
        for (query, expected) in zip(setup.queries, truth) {
            let start = clock.now
            let found = try await search(query)
            measured.latencies.append((clock.now - start).seconds)
            if found.count < k { measured.shortQueries += 1 }
            let hits = Set(found).intersection(expected).count
            measured.recalls.append(expected.isEmpty ? 1 : Double(hits) / Double(expected.count))
        }
        return measured
    }
}
