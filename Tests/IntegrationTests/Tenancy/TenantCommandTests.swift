import Foundation
import Storage
import Testing

/// `unity-ai tenants …` and `unity-ai keys …` as an operator runs them: the real binary on a real database.
@Suite struct TenantCommandTests {
    @Test func anOperatorCreatesATenantAndAKeyListsRevokesAndDeletesThem() async throws {
        let binary = TwoProcessRateLimitTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        try await TestDatabase.withFreshDatabase { database, settings in
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = ModelLifecycleCommandTests.url(settings)
            environment["UNITY_AI_EMBEDDING_MODEL"] = "local"
            func run(_ arguments: [String]) async throws -> CommandResult {
                try await CommandResult.run(binary, arguments, environment: environment)
            }

            #expect(try await run(["tenants", "create", "acme"]).status == 0)
            let created = try await run(["keys", "create", "--tenant", "acme", "--json"])
            #expect(created.status == 0, "\(created.output)")
            let json = try ModelLifecycleCommandTests.json(created.output)
            let key = try #require(json["key"] as? String)
            let id = try #require(json["id"] as? String)
            #expect(json["tenant"] as? String == "acme" && key.hasPrefix("uai_"))

            let listed = try await run(["keys", "list"])
            #expect(listed.status == 0 && listed.output.contains(id) && !listed.output.contains(key))
            #expect(try await APIKeyStore(client: database, logger: TestDatabase.logger).authenticate(key)?.tenant == "acme")

            // Mistakes: a message and a non-zero exit, nothing changed.
            let neither = try await run(["keys", "create"])
            #expect(neither.status != 0 && neither.output.contains("--tenant"))
            let unknown = try await run(["keys", "create", "--tenant", "nobody"])
            #expect(unknown.status != 0 && unknown.output.contains("tenants create nobody"))
            let badName = try await run(["tenants", "create", "../etc"])
            #expect(badName.status != 0 && badName.output.contains("not a valid tenant name"))

            #expect(try await run(["keys", "revoke", id]).status == 0)
            #expect(try await APIKeyStore(client: database, logger: TestDatabase.logger).authenticate(key) == nil)

            #expect(try await run(["tenants", "delete", "acme"]).status == 0)
            let again = try await run(["tenants", "delete", "acme"])
            #expect(again.status != 0 && again.output.contains("no tenant 'acme'"))
            let tenants = try await run(["tenants", "list", "--json"])
            #expect(tenants.status == 0 && !tenants.output.contains("\"acme\""))
        }
    }

    /// `tenants list` says which model answers each tenant and how many of its chunks have that model's vectors;
    /// after the configured model changes, a tenant never reindexed is flagged with the command that fixes it.
    @Test func tenantsListShowsTheModelAnsweringEachTenantAndWarnsWhenItLacksVectors() async throws {
        let binary = TwoProcessRateLimitTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write("# Cafeteria\n\nThe cafeteria closes at 15:00 on weekdays.\n", to: "cafeteria.md")
        try directory.write("# Parking\n\nVisitors park in the north garage.\n", to: "parking.md")
        try await TestDatabase.withFreshDatabase { _, settings in
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = ModelLifecycleCommandTests.url(settings)
            environment["UNITY_AI_EMBEDDING_MODEL"] = "local"
            func run(_ arguments: [String], model: String = "local") async throws -> CommandResult {
                var environment = environment
                environment["UNITY_AI_EMBEDDING_MODEL"] = model
                return try await CommandResult.run(binary, arguments, environment: environment)
            }
            let ingested = try await run(["ingest", directory.path, "--tenant", "acme"])
            #expect(ingested.status == 0, "\(ingested.output)")

            let listed = try await run(["tenants", "list", "--json"])
            #expect(listed.status == 0 && !listed.output.contains("warning:"), "\(listed.output)")
            let line = try #require(listed.output.split(separator: "\n").first { $0.hasPrefix("[") })
            let tenants = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]])
            let acme = try #require(tenants.first { $0["name"] as? String == "acme" })
            let embedding = try #require(acme["embedding"] as? [String: Any])
            let chunks = try #require(embedding["chunks"] as? Int)
            #expect(embedding["model"] as? String == "local-hash-512" && embedding["is_tenant_default"] as? Bool == false)
            #expect(chunks >= 2 && embedding["chunks_with_vectors"] as? Int == chunks)

            // The configured model changed: the tenant has none of the new model's vectors, and is flagged.
            let changed = try await run(["tenants", "list"], model: "minilm")
            #expect(changed.status == 0, "\(changed.output)")
            #expect(changed.output.contains("acme: 2 documents") && changed.output.contains("0 of \(chunks) chunks"))
            #expect(changed.output.contains("warning: Tenant 'acme' is answered by 'minilm'"), "\(changed.output)")
            #expect(changed.output.contains("unity-ai reindex --model minilm --tenant acme"))
        }
    }
}
