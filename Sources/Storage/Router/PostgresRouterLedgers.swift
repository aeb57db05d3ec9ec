import Foundation
import Logging
import PostgresNIO
import Routing

/// The router's shared state in PostgreSQL: what lets several instances enforce one rate limit and one budget,
/// share cached answers and account for every request.
public struct PostgresRouterLedgers: Sendable {
    public let client: Database
    public let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// All four ledgers, for ``AIRouter``.
    public var ledgers: AIRouter.Ledgers {
        AIRouter.Ledgers(
            rateLimits: PostgresRateLimitLedger(client: client, logger: logger),
            budgets: PostgresBudgetLedger(client: client, logger: logger),
            responses: PostgresResponseCacheStore(client: client, logger: logger),
            usage: PostgresUsageLedger(client: client, logger: logger))
    }
}

/// `rate_limit_windows`: one atomic upsert per lease.
public struct PostgresRateLimitLedger: RateLimitLedger {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func claim(key: String, windowStart: Date, limit: Int, amount: Int) async throws -> (granted: Int, used: Int) {
        // One upsert: the row lock serialises claims from every instance, and SET reads the old `used`, so
        // `last_grant` is exactly what this claim added.
        let rows = try await client.query(
            """
            INSERT INTO rate_limit_windows AS w (key, window_start, used, last_grant)
            VALUES (\(key), \(windowStart), LEAST(\(amount), \(limit)), LEAST(\(amount), \(limit)))
            ON CONFLICT (key, window_start) DO UPDATE
                SET used = GREATEST(w.used, LEAST(w.used + \(amount), \(limit))),
                    last_grant = GREATEST(0, LEAST(w.used + \(amount), \(limit)) - w.used)
            RETURNING last_grant, used
            """, logger: logger)
        for (granted, used) in try rows.decode((Int, Int).self) {
            return (granted, used)
        }
        return (0, limit)
    }
}

/// `tenant_budget_periods`: reserve with a conditional upsert, settle with one update.
public struct PostgresBudgetLedger: BudgetLedger {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func reserve(tenant: String, period: BudgetPeriod, start: Date, limitUSD: Double, amountUSD: Double) async throws -> Bool {
        let name = period.rawValue
        let rows = try await client.query(
            """
            INSERT INTO tenant_budget_periods AS b (tenant, period, period_start, reserved_usd)
            SELECT \(tenant), \(name), \(start), \(amountUSD) WHERE \(amountUSD) <= \(limitUSD)
            ON CONFLICT (tenant, period, period_start) DO UPDATE SET reserved_usd = b.reserved_usd + EXCLUDED.reserved_usd
                WHERE b.reserved_usd + b.spent_usd + EXCLUDED.reserved_usd <= \(limitUSD)
            RETURNING 1
            """, inScopeOf: nil, tenant: tenant, logger: logger)
        for _ in try rows.decode(Int.self) { return true }
        return false
    }

    public func settle(tenant: String, period: BudgetPeriod, start: Date, reservedUSD: Double, actualUSD: Double) async throws {
        let name = period.rawValue
        try await client.query(
            """
            UPDATE tenant_budget_periods
            SET reserved_usd = GREATEST(reserved_usd - \(reservedUSD), 0), spent_usd = spent_usd + \(actualUSD)
            WHERE tenant = \(tenant) AND period = \(name) AND period_start = \(start)
            """, inScopeOf: nil, tenant: tenant, logger: logger)
    }
}

/// `response_cache`.
public struct PostgresResponseCacheStore: ResponseCacheStore {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func load(key: String, tenant: String, now: Date) async throws -> (answer: CachedAnswer, expiresAt: Date)? {
        let rows = try await client.query(
            "SELECT answer::text, expires_at FROM response_cache WHERE key = \(key) AND tenant = \(tenant) AND expires_at > \(now)",
            inScopeOf: nil, tenant: tenant, logger: logger)
        for (json, expiresAt) in try rows.decode((String, Date).self) {
            guard let answer = try? JSONDecoder().decode(CachedAnswer.self, from: Data(json.utf8)) else { return nil }
            return (answer, expiresAt)
        }
        return nil
    }

    public func store(key: String, tenant: String, answer: CachedAnswer, expiresAt: Date) async throws {
        let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        try await client.query(
            """
            INSERT INTO response_cache (key, tenant, answer, expires_at) VALUES (\(key), \(tenant), \(json)::jsonb, \(expiresAt))
            ON CONFLICT (key) DO UPDATE SET answer = EXCLUDED.answer, expires_at = EXCLUDED.expires_at
            """, inScopeOf: nil, tenant: tenant, logger: logger)
    }

    /// Deletes expired entries; returns how many.
    @discardableResult
    public func deleteExpired(now: Date) async throws -> Int {
        let rows = try await client.query(
            "WITH gone AS (DELETE FROM response_cache WHERE expires_at <= \(now) RETURNING 1) SELECT count(*)::int FROM gone",
            logger: logger)
        for count in try rows.decode(Int.self) { return count }
        return 0
    }
}

/// `usage_records`: batches in one `INSERT … SELECT FROM unnest(…)`.
public struct PostgresUsageLedger: UsageLedger {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func append(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        let dates = records.map(\.date)
        let tenants = records.map(\.tenant)
        let providers = records.map(\.provider)
        let models = records.map(\.model)
        let endpoints = records.map(\.endpoint)
        let inputs = records.map { Int32(clamping: $0.inputTokens) }
        let outputs = records.map { Int32(clamping: $0.outputTokens) }
        let costs = records.map(\.costUSD)
        let latencies = records.map(\.latencyMilliseconds)
        let hits = records.map(\.cacheHit)
        let fallbacks = records.map { Int32(clamping: $0.fallbacks) }
        let statuses = records.map(\.status)
        let strategies = records.map { $0.strategy ?? "" }
        try await client.query(
            """
            INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens, output_tokens, cost_usd,
                latency_ms, cache_hit, fallbacks, status, strategy)
            SELECT r.recorded_at, r.tenant, r.provider, r.model, r.endpoint, r.input_tokens, r.output_tokens, r.cost_usd,
                r.latency_ms, r.cache_hit, r.fallbacks, r.status, NULLIF(r.strategy, '')
            FROM unnest(\(dates)::timestamptz[], \(tenants)::text[], \(providers)::text[], \(models)::text[], \(endpoints)::text[],
                \(inputs)::int[], \(outputs)::int[], \(costs)::float8[], \(latencies)::float8[], \(hits)::bool[], \(fallbacks)::int[],
                \(statuses)::text[], \(strategies)::text[])
                AS r(recorded_at, tenant, provider, model, endpoint, input_tokens, output_tokens, cost_usd, latency_ms, cache_hit,
                    fallbacks, status, strategy)
            """, logger: logger)
    }

    /// One group of ``summary(tenant:from:to:groupBy:)``.
    public struct Summary: Sendable, Equatable, Encodable {
        public var key: String
        public var requests: Int
        public var errors: Int
        public var cacheHits: Int
        public var fallbacks: Int
        public var inputTokens: Int
        public var outputTokens: Int
        public var costUSD: Double

        public init(
            key: String, requests: Int, errors: Int, cacheHits: Int, fallbacks: Int, inputTokens: Int, outputTokens: Int,
            costUSD: Double
        ) {
            self.key = key
            self.requests = requests
            self.errors = errors
            self.cacheHits = cacheHits
            self.fallbacks = fallbacks
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.costUSD = costUSD
        }

        enum CodingKeys: String, CodingKey {
            case key, requests, errors, fallbacks
            case cacheHits = "cache_hits", inputTokens = "input_tokens", outputTokens = "output_tokens", costUSD = "cost_usd"
        }
    }

    /// What usage records are grouped by.
    public enum Grouping: String, Sendable, CaseIterable {
        case provider, model, day, tenant
    }

    /// Usage between `from` (inclusive) and `to` (exclusive), optionally for one tenant, grouped.
    public func summary(tenant: String?, from: Date, to: Date, groupBy: Grouping) async throws -> [Summary] {
        let key: String =
            switch groupBy {
            case .provider: "provider"
            case .model: "provider || '/' || model"
            case .day: "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            case .tenant: "tenant"
            }
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT \(key) AS key, count(*), count(*) FILTER (WHERE status <> 'ok'),
                    count(*) FILTER (WHERE cache_hit), COALESCE(sum(fallbacks), 0)::bigint,
                    COALESCE(sum(input_tokens), 0)::bigint, COALESCE(sum(output_tokens), 0)::bigint, COALESCE(sum(cost_usd), 0)::float8
                FROM usage_records
                WHERE recorded_at >= $1 AND recorded_at < $2 AND ($3::text IS NULL OR tenant = $3)
                GROUP BY 1 ORDER BY 1
                """)
        query.binds.append(from)
        query.binds.append(to)
        query.binds.append(tenant)
        // One tenant's usage is read in its scope (row-level security behind the filter); every tenant's, for an
        // operator, as the appliance.
        let rows =
            if let tenant {
                try await client.query(query, inScopeOf: nil, tenant: tenant, logger: logger)
            } else {
                try await client.query(query, logger: logger)
            }
        var summaries: [Summary] = []
        for (key, requests, errors, hits, fallbacks, input, output, cost) in try rows.decode(
            (String, Int64, Int64, Int64, Int64, Int64, Int64, Double).self)
        {
            summaries.append(
                Summary(
                    key: key, requests: Int(requests), errors: Int(errors), cacheHits: Int(hits), fallbacks: Int(fallbacks),
                    inputTokens: Int(input), outputTokens: Int(output), costUSD: cost))
        }
        return summaries
    }
}

/// `plugin_metrics`: the router's aggregates as plugin `ai-router`, for the seed's unified monitoring.
public struct PostgresPluginMetricsWriter: PluginMetricsSink {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// One row per metric, written in one statement.
    public func write(plugin: String, host: String, metrics: [PluginMetric]) async throws {
        guard !metrics.isEmpty else { return }
        let names = metrics.map(\.metric)
        let values = metrics.map(\.value)
        let units = metrics.map(\.unit)
        let labels = try metrics.map { String(decoding: try JSONEncoder().encode($0.labels), as: UTF8.self) }
        try await client.query(
            """
            INSERT INTO plugin_metrics (plugin, metric, value, unit, labels, host)
            SELECT \(plugin), m.metric, m.value, m.unit, m.labels::jsonb, \(host)
            FROM unnest(\(names)::text[], \(values)::float8[], \(units)::text[], \(labels)::text[]) AS m(metric, value, unit, labels)
            """, logger: logger)
    }
}
