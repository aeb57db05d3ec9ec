import Foundation
import Lifecycle
import Storage
import Testing

/// `unity-ai models usage|cleanup --json` as an operator runs them: the real binary, a fake Ollama over a real models
/// directory where blobs are shared, the real PostgreSQL.
@Suite struct ModelLifecycleCommandTests {
    /// The database as a `DATABASE_URL` for a child process.
    static func url(_ settings: DatabaseSettings) -> String {
        switch settings.endpoint {
        case .unixSocket(let path):
            let directory = (path as NSString).deletingLastPathComponent
            let port = path.split(separator: ".").last.map(String.init) ?? "5432"
            return "postgres://\(settings.username)@/\(settings.database)?host=\(directory)&port=\(port)"
        case .tcp(let host, let port):
            return "postgres://\(settings.username)@\(host):\(port)/\(settings.database)?sslmode=disable"
        }
    }

    /// Bytes of every file in `blobs/`, measured independently of the appliance.
    static func blobBytes(_ root: String) throws -> Int64 {
        try FileManager.default.contentsOfDirectory(atPath: root + "/blobs").reduce(Int64(0)) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/blobs/" + name)
            return total + ((attributes[.size] as? Int64) ?? Int64((attributes[.size] as? Int) ?? 0))
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        guard let start = text.firstIndex(of: "{"), let object = try JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [String: Any]
        else { throw TestSetupError("not JSON: \(text.prefix(400))") }
        return object
    }

    @Test func usageCountsSharedBlobsOnceAndCleanupFreesWhatItsPlanAnnouncedNeverTouchingAPinnedModel() async throws {
        let binary = TwoProcessRateLimitTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        let standard = try OllamaModelsFixtureBuilder.standard()
        let root = standard.fixture.root
        let fake = FakeOllama(modelsDirectory: root, catalogue: standard.catalogue)
        let configuration = try TemporaryDirectory()
        defer { configuration.delete() }
        // llama3.2 is pinned by a strategy; the others are idle (20 and 5 days) and over the disk budget.
        try configuration.write(
            """
            routing:
              strategies:
                local: [{provider: ollama, model: llama3.2}]
            lifecycle:
              max_idle_days: 10
              disk_budget: "1"
              orphan_grace: 24h
              remove_orphans: true
            """, to: "ai_routing.yaml")
        try await TestDatabase.withFreshDatabase { _, settings in
            try await fake.run { baseURL in
                var environment = ProcessInfo.processInfo.environment
                environment["DATABASE_URL"] = Self.url(settings)
                environment["OLLAMA_HOST"] = baseURL
                environment["OLLAMA_MODELS"] = root
                environment["UNITY_AI_CONFIG"] = configuration.path + "/ai_routing.yaml"
                environment["UNITY_AI_EMBEDDING_MODEL"] = "local"

                let usageRun = try await CommandResult.run(binary, ["models", "usage", "--json"], environment: environment)
                #expect(usageRun.status == 0, "\(usageRun.output)")
                let usage = try Self.json(usageRun.output)
                let referenced = Set(standard.manifests.flatMap(\.blobs))
                #expect(usage["source"] as? String == "files")
                #expect((usage["total_bytes"] as? NSNumber)?.int64Value == referenced.reduce(0) { $0 + $1.size })
                #expect(
                    (usage["apparent_bytes"] as? NSNumber)?.int64Value == standard.manifests.reduce(0) { $0 + $1.apparentSize })
                let models = try #require(usage["models"] as? [[String: Any]])
                let llama = try #require(models.first { $0["name"] as? String == "llama3.2:latest" })
                #expect((llama["pinned_by"] as? [String])?.contains("strategy 'local'") == true)
                #expect(llama.keys.contains("last_used"))
                #expect((usage["orphans"] as? [Any])?.count == 1 && (usage["partials"] as? [Any])?.count == 2)

                let before = try Self.blobBytes(root)
                let planRun = try await CommandResult.run(
                    binary, ["models", "cleanup", "--dry-run", "--json"], environment: environment)
                #expect(planRun.status == 0, "\(planRun.output)")
                let plan = try Self.json(planRun.output)
                #expect(try Self.blobBytes(root) == before, "a dry run changed the disk")
                #expect(fake.requestCount("/api/delete") == 0)

                let cleanupRun = try await CommandResult.run(binary, ["models", "cleanup", "--json"], environment: environment)
                #expect(cleanupRun.status == 0, "\(cleanupRun.output)")
                let done = try Self.json(cleanupRun.output)
                let announced = try #require((plan["bytes_freed_total"] as? NSNumber)?.int64Value)
                #expect((done["bytes_freed_total"] as? NSNumber)?.int64Value == announced)
                // What the disk really gained, measured here, is what the plan announced.
                #expect(before - (try Self.blobBytes(root)) == announced)
                #expect((done["measured_bytes_freed"] as? NSNumber)?.int64Value == announced)
                let deleted = (done["actions"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "delete_model" }
                    .compactMap { $0["model"] as? String }
                #expect(Set(deleted) == ["jdoe/mario:latest", "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"])
                #expect(fake.requestCount("/api/delete") == 2)
                // The pinned model is intact, with every blob it references.
                #expect(FileManager.default.fileExists(atPath: root + "/" + standard.llama.path))
                for blob in standard.llama.blobs {
                    #expect(FileManager.default.fileExists(atPath: root + "/blobs/" + blob.fileName))
                }
            }
        }
    }
}
