import Foundation
import Lifecycle
import Logging
import PostgresNIO

/// The Ollama inventory in `ollama_models`, shared by every instance, and each model's traffic from the router's
/// `usage_records`.
public struct PostgresModelInventory: ModelInventoryStore, ModelTrafficSource {
    let client: Database
    let logger: Logger

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func record(endpoint: String, models: [InstalledModel], loaded: [LoadedModel], at date: Date) async throws {
        let loadedByName = Dictionary(loaded.map { ($0.name, $0.expiresAt) }, uniquingKeysWith: { first, _ in first })
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            for model in models {
                let isLoaded = loadedByName.keys.contains(model.name)
                let expires = loadedByName[model.name] ?? nil
                try await connection.query(
                    """
                    INSERT INTO ollama_models (endpoint, name, digest, size_bytes, family, quantization, parameter_size,
                                               context_length, first_seen, last_seen, loaded, expires_at, gone_at)
                    VALUES (\(endpoint), \(model.name), \(model.digest), \(max(0, model.sizeBytes)), \(model.family),
                            \(model.quantization), \(model.parameterSize), \(model.contextLength.map { Int32(clamping: $0) }),
                            \(date), \(date), \(isLoaded), \(expires), NULL)
                    ON CONFLICT (endpoint, name) DO UPDATE SET
                        digest = EXCLUDED.digest, size_bytes = EXCLUDED.size_bytes, family = EXCLUDED.family,
                        quantization = EXCLUDED.quantization, parameter_size = EXCLUDED.parameter_size,
                        context_length = EXCLUDED.context_length, last_seen = EXCLUDED.last_seen,
                        loaded = EXCLUDED.loaded, expires_at = EXCLUDED.expires_at, gone_at = NULL
                    """, logger: logger)
            }
            // Gone from the endpoint: marked, not forgotten.
            try await connection.query(
                """
                UPDATE ollama_models SET gone_at = \(date), loaded = false
                WHERE endpoint = \(endpoint) AND gone_at IS NULL AND NOT (name = ANY(\(models.map(\.name))::text[]))
                """, logger: logger)
        }
    }

    public func models() async throws -> [InventoryModel] {
        let rows = try await client.query(
            """
            SELECT endpoint, name, digest, size_bytes, family, quantization, parameter_size, context_length,
                   first_seen, last_seen, loaded, expires_at, gone_at
            FROM ollama_models ORDER BY endpoint, name
            """, logger: logger)
        return try rows.decode(
            (String, String, String, Int64, String?, String?, String?, Int32?, Date, Date, Bool, Date?, Date?).self
        ).map { row in
            InventoryModel(
                endpoint: row.0,
                model: InstalledModel(
                    name: row.1, digest: row.2, sizeBytes: row.3, family: row.4, quantization: row.5, parameterSize: row.6,
                    contextLength: row.7.map(Int.init)),
                firstSeen: row.8, lastSeen: row.9, loaded: row.10, expiresAt: row.11, goneAt: row.12)
        }
    }

    /// Answered requests per model over the last 1, 7 and 30 days, and the latest one ever.
    public func traffic(providers: [String], now: Date) async throws -> [String: ModelTraffic] {
        guard !providers.isEmpty else { return [:] }
        let day = now.addingTimeInterval(-86_400)
        let week = now.addingTimeInterval(-7 * 86_400)
        let month = now.addingTimeInterval(-30 * 86_400)
        let rows = try await client.query(
            """
            SELECT model, max(recorded_at),
                   count(*) FILTER (WHERE recorded_at > \(day))::bigint,
                   count(*) FILTER (WHERE recorded_at > \(week))::bigint,
                   count(*) FILTER (WHERE recorded_at > \(month))::bigint
            FROM usage_records
            WHERE provider = ANY(\(providers)::text[]) AND status = 'ok' AND NOT cache_hit
            GROUP BY model
            """, logger: logger)
        var traffic: [String: ModelTraffic] = [:]
        for (model, last, d1, d7, d30) in try rows.decode((String, Date?, Int64, Int64, Int64).self) {
            traffic[model] = ModelTraffic(lastUsed: last, requests1d: Int(d1), requests7d: Int(d7), requests30d: Int(d30))
        }
        return traffic
    }
}
