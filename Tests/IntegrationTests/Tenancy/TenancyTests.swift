import Foundation
import PostgresNIO
import Providers
import Routing
import Storage
import Testing

/// One tenant identity, API keys stored as hashes, deletion of everything a tenant owns, and row-level security for
/// the role requests run as.
@Suite struct TenancyTests {
    static let alpha = "# Alpha\n\nThe alpha warehouse opens at 06:00 and its forklift code is 4411.\n"
    static let beta = "# Beta\n\nThe beta warehouse opens at 08:00 and its forklift code is 9922.\n"

    /// Tenants `alpha` and `beta`, each with one document.
    static func twoTenants(_ appliance: Appliance) async throws {
        let a = try TemporaryDirectory()
        defer { a.delete() }
        try a.write(alpha, to: "alpha.md")
        let b = try TemporaryDirectory()
        defer { b.delete() }
        try b.write(beta, to: "beta.md")
        _ = try await appliance.ingest([a.path], tenant: "alpha")
        _ = try await appliance.ingest([b.path], tenant: "beta")
    }

    static func tenantID(_ client: Database, _ name: String) async throws -> Int64 {
        try #require(try await KnowledgeStore(client: client).tenantID(named: name, logger: TestDatabase.logger))
    }

    @Test func aKeyIsStoredOnlyAsItsHashAndRevokingItEndsIt() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let tenants = TenantStore(client: client, logger: TestDatabase.logger)
            let keys = APIKeyStore(client: client, logger: TestDatabase.logger)
            #expect(try await tenants.create("alpha"))
            #expect(try await tenants.create("alpha") == false)

            let created = try await keys.create(tenant: "alpha")
            #expect(created.key.hasPrefix("uai_") && created.key.count == 47)
            #expect(created.key.dropFirst(4).hasPrefix(created.id))
            let everything = try await client.query("SELECT row_to_json(k)::text FROM api_keys k", logger: TestDatabase.logger)
                .decode(String.self).joined()
            #expect(!everything.contains(String(created.key.dropFirst(4))))

            let identity = try await keys.authenticate(created.key)
            #expect(identity?.tenant == "alpha" && identity?.keyID == created.id)
            #expect(try await keys.authenticate(created.key + "x") == nil)
            #expect(try await keys.authenticate("uai_" + String(repeating: "A", count: 43)) == nil)
            #expect(try await keys.authenticate("") == nil)

            let admin = try await keys.create(tenant: nil)
            let adminIdentity = try await keys.authenticate(admin.key)
            #expect(adminIdentity != nil && adminIdentity?.tenant == nil)

            try await keys.revoke(id: created.id)
            #expect(try await keys.authenticate(created.key) == nil)
            let listed = try await keys.list()
            #expect(listed.count == 2 && listed.first { $0.id == created.id }?.revokedAt != nil)

            let unknown = await #expect(throws: StorageError.self) { try await keys.create(tenant: "nobody") }
            #expect(unknown?.code == .tenantNotFound)
            let badID = await #expect(throws: StorageError.self) { try await keys.revoke(id: "../../etc") }
            #expect(badID?.code == .invalidInput)
            let missing = await #expect(throws: StorageError.self) { try await keys.revoke(id: "AAAAAAAAAAAA") }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func everyTableRefersToTheTenantsTable() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let logger = TestDatabase.logger
            // A router ledger or a plugin naming a new tenant creates it, as before: the name now refers to it.
            try await client.query(
                """
                INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens, output_tokens,
                                           cost_usd, latency_ms, cache_hit, fallbacks, status)
                VALUES (now(), 'gamma', 'openai', 'm', 'e', 1, 1, 0, 1, false, 0, 'ok')
                """, logger: logger)
            try await client.query(
                "INSERT INTO knowledge_items (tenant, title, content) VALUES ('delta', 'T', 'C')", logger: logger)
            let names = try await TenantStore(client: client, logger: logger).list().map(\.name)
            #expect(names.contains("gamma") && names.contains("delta"))
            // A name no tenant can have is refused where it is written.
            await #expect(throws: (any Error).self) {
                try await client.query(
                    "INSERT INTO knowledge_items (tenant, title, content) VALUES ('../x', 'T', 'C')", logger: logger)
            }
        }
    }

    @Test func deletingATenantDeletesAllOfItsDataAndNothingElse() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let logger = TestDatabase.logger
            try await Self.twoTenants(appliance)
            for tenant in ["alpha", "beta"] {
                try await client.query(
                    """
                    INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens,
                                               output_tokens, cost_usd, latency_ms, cache_hit, fallbacks, status)
                    VALUES (now(), \(tenant), 'openai', 'm', 'e', 1, 1, 0, 1, false, 0, 'ok')
                    """, logger: logger)
                try await client.query(
                    "INSERT INTO response_cache (key, tenant, answer, expires_at) VALUES (\(tenant + "-k"), \(tenant), '{}', now() + interval '1 hour')",
                    logger: logger)
                try await client.query(
                    "INSERT INTO tenant_budget_periods (tenant, period, period_start) VALUES (\(tenant), 'day', now())", logger: logger)
                try await client.query(
                    "INSERT INTO knowledge_items (tenant, title, content) VALUES (\(tenant), 'T', 'C')", logger: logger)
                _ = try await APIKeyStore(client: client, logger: logger).create(tenant: tenant)
            }
            let tables = ["documents d JOIN tenants t ON t.id = d.tenant_id", "chunks c JOIN tenants t ON t.id = c.tenant_id",
                          "chunk_embeddings e JOIN tenants t ON t.id = e.tenant_id", "api_keys k JOIN tenants t ON t.id = k.tenant_id"]
            let named = ["usage_records", "response_cache", "tenant_budget_periods", "knowledge_items"]
            func counts(_ tenant: String) async throws -> [Int] {
                var result: [Int] = []
                for table in tables { result.append(try await appliance.count("SELECT count(*) FROM \(table) WHERE t.name = '\(tenant)'")) }
                for table in named { result.append(try await appliance.count("SELECT count(*) FROM \(table) WHERE tenant = '\(tenant)'")) }
                return result
            }
            let betaBefore = try await counts("beta")
            #expect(try await counts("alpha").allSatisfy { $0 > 0 })

            #expect(try await TenantStore(client: client, logger: logger).delete("alpha"))
            #expect(try await counts("alpha").allSatisfy { $0 == 0 })
            #expect(try await counts("beta") == betaBefore)
            #expect(try await TenantStore(client: client, logger: logger).delete("alpha") == false)
        }
    }

    /// The defence in depth: a query that forgets its tenant filter, run as requests run, sees one tenant only.
    @Test func anUnfilteredQueryInATenantScopeSeesThatTenantOnly() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            try await Self.twoTenants(appliance)
            let logger = TestDatabase.logger
            for tenant in ["alpha", "beta"] {
                try await client.query(
                    """
                    INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens,
                                               output_tokens, cost_usd, latency_ms, cache_hit, fallbacks, status)
                    VALUES (now(), \(tenant), 'openai', 'm', 'e', 1, 1, 0, 1, false, 0, 'ok')
                    """, logger: logger)
            }
            let alpha = try await Self.tenantID(client, "alpha")
            let everything = try await appliance.count("SELECT count(*) FROM chunks")
            let alphaOnly = try await appliance.count("SELECT count(*) FROM chunks WHERE tenant_id = \(alpha)")
            #expect(everything > alphaOnly && alphaOnly > 0)

            let seen = try await client.withTenantScope(tenantID: alpha, tenant: "alpha", logger: logger) { connection in
                var result: [String: Int64] = [:]
                for table in ["chunks", "documents", "chunk_embeddings", "usage_records", "knowledge_items"] {
                    for try await count in try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger)
                        .decode(Int64.self)
                    {
                        result[table] = count
                    }
                }
                for try await text in try await connection.query("SELECT string_agg(text, ' ') FROM chunks", logger: logger)
                    .decode(String?.self)
                {
                    result["beta text"] = (text ?? "").contains("9922") ? 1 : 0
                }
                for try await (role, isSuperuser) in try await connection.query(
                    "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user", logger: logger
                ).decode((String, Bool).self) {
                    result["role is unity_ai_request"] = role == Database.requestRole ? 1 : 0
                    result["superuser"] = isSuperuser ? 1 : 0
                }
                return result
            }
            #expect(seen["chunks"] == Int64(alphaOnly))
            #expect(seen["documents"] == 1 && seen["usage_records"] == 1)
            #expect(seen["beta text"] == 0)
            #expect(seen["role is unity_ai_request"] == 1 && seen["superuser"] == 0)

            // Writing another tenant's row from inside the scope is refused too.
            let beta = try await Self.tenantID(client, "beta")
            await #expect(throws: (any Error).self) {
                try await client.withTenantScope(tenantID: alpha, tenant: "alpha", logger: logger) { connection in
                    try await connection.query(
                        "INSERT INTO documents (tenant_id, source_uri, content_sha256) VALUES (\(beta), 'file:///x', 'x')",
                        logger: logger)
                }
            }
            // And the scope ends with its transaction: the connection is the appliance's own again.
            let after = try await appliance.count("SELECT count(*) FROM chunks")
            #expect(after == everything)
        }
    }

    @Test func theRoutersCacheAndBudgetLedgersRunInTheTenantScope() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let logger = TestDatabase.logger
            let cache = PostgresResponseCacheStore(client: client, logger: logger)
            let answer = CachedAnswer(
                ChatResponse(
                    text: "alpha's answer", finishReason: .stop, usage: TokenUsage(inputTokens: 1, outputTokens: 1),
                    provider: "openai", model: "m", endpoint: "e", latency: .zero))
            let later = Date().addingTimeInterval(3600)
            // A tenant named for the first time by a cached answer is created (the trigger runs as its owner).
            try await cache.store(key: "same-key", tenant: "alpha", answer: answer, expiresAt: later)
            #expect(try await KnowledgeStore(client: client).tenantID(named: "alpha", logger: logger) != nil)
            #expect(try await cache.load(key: "same-key", tenant: "alpha", now: Date())?.answer.text == "alpha's answer")
            // Another tenant asking with the very same key gets nothing.
            #expect(try await cache.load(key: "same-key", tenant: "beta", now: Date()) == nil)

            let budgets = PostgresBudgetLedger(client: client, logger: logger)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await budgets.reserve(tenant: "gamma", period: .day, start: start, limitUSD: 1, amountUSD: 0.6))
            #expect(try await budgets.reserve(tenant: "gamma", period: .day, start: start, limitUSD: 1, amountUSD: 0.6) == false)
            try await budgets.settle(tenant: "gamma", period: .day, start: start, reservedUSD: 0.6, actualUSD: 0.25)
            let rows = try await client.query(
                "SELECT tenant, reserved_usd, spent_usd FROM tenant_budget_periods", logger: logger)
            var periods: [String] = []
            for (tenant, reserved, spent) in try rows.decode((String, Double, Double).self) {
                periods.append("\(tenant) \(reserved) \(spent)")
            }
            #expect(periods == ["gamma 0.0 0.25"])

            // Both run as the request role: revoking its grant makes them fail, which only that role would.
            try await client.query("REVOKE SELECT, INSERT, UPDATE ON response_cache FROM unity_ai_request", logger: logger)
            await #expect(throws: (any Error).self) {
                _ = try await cache.load(key: "same-key", tenant: "alpha", now: Date())
            }
        }
    }
}
