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
}
