import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lifecycle
import NIOCore
import Providers
import Routing
import Server
import Storage
import Testing

/// `GET /api/jobs`, `GET /api/models/usage` and `POST /api/models/cleanup` over the real database and a fake Ollama.
@Suite struct OperatorEndpointTests {
    @Test func jobsAndModelsAnswerAsDocumented() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fake = FakeOllama(modelsDirectory: standard.fixture.root)
        try await TestDatabase.withFreshDatabase { database, _ in
            try await fake.run { baseURL in
                let logger = TestDatabase.logger
                let inventory = PostgresModelInventory(client: database, logger: logger)
                let server = try await Self.server(baseURL)
                let manager = ModelLifecycleManager(
                    configuration: .init(modelsDirectory: standard.fixture.root, ollamaProviders: ["ollama"]), servers: [server],
                    inventory: inventory, traffic: inventory)
                let schedule = JobSchedule(
                    name: "housekeeping", kind: .housekeeping, cron: try CronSchedule(expression: "*/10 * * * *", timeZoneIdentifier: "UTC"))
                let ledger = PostgresJobRunLedger(client: database, logger: logger)
                let scheduler = JobScheduler(schedules: [schedule], jobs: [.housekeeping: { "swept" }], ledger: ledger, logger: logger)
                _ = try await scheduler.runNow(name: "housekeeping")
                let appliance = Appliance(client: database)
                var dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration()).dependencies(ask: appliance.askService)
                dependencies.jobs = .init(scheduler: scheduler, ledger: ledger)
                dependencies.models = .init(manager: manager, inventory: inventory)
                let app = buildApplication(configuration: ServerConfiguration(), dependencies: dependencies, logger: logger)
                try await app.test(.router) { client in
                    let jobs = try await Self.get(client, "/api/jobs")
                    let first = try #require((jobs["jobs"] as? [[String: Any]])?.first)
                    #expect(first["name"] as? String == "housekeeping" && first["next_slot"] is String)
                    #expect((first["last_run"] as? [String: Any])?["status"] as? String == "succeeded")
                    let runs = try await Self.get(client, "/api/jobs/housekeeping/runs?limit=5")
                    #expect((runs["runs"] as? [Any])?.count == 1)
                    try await client.execute(uri: "/api/jobs/nope/runs", method: .get) { #expect($0.status == .notFound) }

                    let usage = try await Self.get(client, "/api/models/usage")
                    #expect(usage["source"] as? String == "files")
                    #expect((usage["models"] as? [Any])?.count == 3)
                    let models = try await Self.get(client, "/api/models")
                    #expect((models["models"] as? [Any])?.count == 3)
                    // A real cleanup must be asked for in so many words.
                    try await client.execute(uri: "/api/models/cleanup", method: .post, body: ByteBuffer(string: "{}")) {
                        #expect($0.status == .badRequest)
                    }
                    try await client.execute(uri: "/api/models/cleanup", method: .post, body: ByteBuffer(string: #"{"dry_run": true}"#)) {
                        #expect($0.status == .ok)
                    }
                    #expect(fake.requestCount("/api/delete") == 0)
                }
            }
        }
    }

    static func server(_ baseURL: String) async throws -> any ModelServer {
        OllamaModelServer(
            client: OllamaAdminClient(
                configuration: .init(endpoint: ProviderEndpoint(baseURL: baseURL, apiKey: nil, timeouts: .init())),
                transport: ProviderTransport()))
    }

    static func get(_ client: some TestClientProtocol, _ uri: String) async throws -> [String: Any] {
        try await client.execute(uri: uri, method: .get) { response in
            #expect(response.status == .ok, "\(uri)")
            return (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
        }
    }
}
