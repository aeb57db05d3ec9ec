import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Routing
import Server
import Storage
import Testing

@testable import Backup

/// `GET /api/backups`, `POST /api/backups`, `GET /api/backups/{id}` and `POST /api/backups/{id}/verify` through
/// Hummingbird's test client, over the real PostgreSQL and SeaweedFS, with the runner running as a service.
@Suite(.serialized) struct BackupEndpointTests {
    static func json(_ response: TestResponse) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    /// The error body's code, checking its shape `{"error": {"code", "message"}}`.
    static func errorCode(_ response: TestResponse) throws -> String? {
        let error = try json(response)["error"] as? [String: Any]
        #expect(error?["message"] is String)
        return error?["code"] as? String
    }

    @Test func operatorsStartListFollowAndVerifyBackups() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let make: @Sendable () throws -> BackupService = { BackupFixtures.service(database, target) }
            let runner = BackupRunner(make: make, logger: TestDatabase.logger)
            let appliance = Appliance(client: database)
            var dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration())
                .dependencies(ask: appliance.askService)
            dependencies.backups = .init(service: make, runner: runner)
            dependencies.services.append(runner)
            let app = buildApplication(configuration: ServerConfiguration(), dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in
                try await client.execute(uri: "/api/backups", method: .get) { response in
                    #expect(response.status == .ok)
                    let sets = try Self.json(response)["sets"] as? [Any]
                    #expect(sets?.isEmpty == true)
                }
                let id = try await client.execute(uri: "/api/backups", method: .post) { response in
                    #expect(response.status == .accepted)
                    let body = try Self.json(response)
                    #expect(body["status"] as? String == "running")
                    let id = try #require(body["id"] as? String)
                    #expect(response.headers[.location] == "/api/backups/\(id)")
                    return id
                }
                // Follow the run until it is done (no time bound: the machine may be slow).
                var status = "running"
                var body: [String: Any] = [:]
                while status == "running" {
                    try await Task.sleep(for: .milliseconds(100))
                    body = try await client.execute(uri: "/api/backups/\(id)", method: .get) { response in
                        #expect(response.status == .ok)
                        return try Self.json(response)
                    }
                    status = body["status"] as? String ?? "?"
                }
                #expect(status == "complete", "\(body)")
                #expect((body["set"] as? [String: Any])?["complete"] as? Bool == true)

                try await client.execute(uri: "/api/backups", method: .get) { response in
                    let sets = try #require(try Self.json(response)["sets"] as? [[String: Any]])
                    #expect(sets.map { $0["id"] as? String } == [id])
                    #expect((sets.first?["objects"] as? Int ?? 0) > 0)
                }
                try await client.execute(uri: "/api/backups/\(id)/verify", method: .post) { response in
                    #expect(response.status == .ok)
                    let report = try Self.json(response)
                    #expect(report["ok"] as? Bool == true)
                    #expect((report["failures"] as? [Any])?.isEmpty == true)
                }

                // A damaged set verifies with "ok": false and names the object.
                let damaged = "sets/\(id)/tables/tenants.tar.gz"
                try await target.put(.single(ByteBuffer(string: "x")), at: damaged, sizeHint: nil)
                try await client.execute(uri: "/api/backups/\(id)/verify", method: .post) { response in
                    #expect(response.status == .ok)
                    let report = try Self.json(response)
                    #expect(report["ok"] as? Bool == false)
                    #expect((report["failures"] as? [String])?.first?.hasPrefix(damaged) == true)
                }
            }
        }
    }

    @Test(arguments: [
        ("/api/backups/..%2F..%2Fetc", HTTPRequest.Method.get), ("/api/backups/20261129T233000Z-1a2b3c..", .get),
        ("/api/backups/nope/verify", .post), ("/api/backups/20261129T233000Z-zzzzzz/verify", .post),
        ("/api/backups/20261129T233000Z-1a2b3c%2F..%2Fx/verify", .post),
    ])
    func badIdsAreRefusedWithAJSONError(uri: String, method: HTTPRequest.Method) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let target = try LocalBackupTarget(directory: directory.path)
        try await TestDatabase.withFreshDatabase { database, _ in
            let app = try Self.application(database: database, target: target)
            try await app.test(.router) { client in
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    let code = try Self.errorCode(response)
                    #expect(code == "invalid_request")
                }
            }
        }
    }

    @Test func unknownAndIncompleteSetsAnswer404And409() async throws {
        let target = try await BackupFixtures.s3Target()
        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target)
            struct Interrupted: Error {}
            let start = Date()
            await #expect(throws: Interrupted.self) { _ = try await service.run(date: start) { throw Interrupted() } }
            let incomplete = try #require(try await service.list(includeIncomplete: true).first?.id)
            let app = try Self.application(database: database, target: target)
            try await app.test(.router) { client in
                let unknown = "20261129T233000Z-1a2b3c"
                try await client.execute(uri: "/api/backups/\(unknown)/verify", method: .post) { response in
                    #expect(response.status == .notFound)
                    let code = try Self.errorCode(response)
                    #expect(code == "backup_not_found")
                }
                try await client.execute(uri: "/api/backups/\(unknown)", method: .get) { response in
                    #expect(response.status == .notFound)
                    let code = try Self.errorCode(response)
                    #expect(code == "backup_not_found")
                }
                try await client.execute(uri: "/api/backups/\(incomplete)/verify", method: .post) { response in
                    #expect(response.status == .conflict)
                    let code = try Self.errorCode(response)
                    #expect(code == "backup_incomplete")
                }
                try await client.execute(uri: "/api/backups/\(incomplete)", method: .get) { response in
                    #expect(response.status == .ok)
                    let status = try Self.json(response)["status"] as? String
                    #expect(status == "incomplete")
                }
                try await client.execute(uri: "/api/backups?all=true", method: .get) { response in
                    let sets = try #require(try Self.json(response)["sets"] as? [[String: Any]])
                    #expect(sets.map { $0["complete"] as? Bool } == [false])
                }
                try await client.execute(uri: "/api/backups?all=maybe", method: .get) { response in
                    #expect(response.status == .badRequest)
                }
            }
        }
    }

    /// A local target whose first put waits until the test opens the gate: a backup that is still running.
    struct GatedTarget: BackupTarget {
        let inner: LocalBackupTarget
        let gate: AsyncStream<Void>
        var description: String { inner.description }
        func put(_ body: BackupByteStream, at key: String, sizeHint: Int?) async throws {
            for await _ in gate { break }
            try await inner.put(body, at: key, sizeHint: sizeHint)
        }
        func get(_ key: String) async throws -> BackupByteStream { try await inner.get(key) }
        func head(_ key: String) async throws -> BackupObject? { try await inner.head(key) }
        func list(prefix: String) async throws -> [BackupObject] { try await inner.list(prefix: prefix) }
        func delete(_ key: String) async throws { try await inner.delete(key) }
    }

    @Test func oneBackupRunsAtATimeAndASecondStartIsRefusedWith409() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let (gate, opener) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .unbounded)
        let target = GatedTarget(inner: try LocalBackupTarget(directory: directory.path), gate: gate)
        try await TestDatabase.withFreshDatabase { database, _ in
            let app = try Self.application(database: database, target: target)
            try await app.test(.router) { client in
                let id = try await client.execute(uri: "/api/backups", method: .post) { response in
                    #expect(response.status == .accepted)
                    return try #require(try Self.json(response)["id"] as? String)
                }
                try await client.execute(uri: "/api/backups", method: .post) { response in
                    #expect(response.status == .conflict)
                    let code = try Self.errorCode(response)
                    #expect(code == "backup_busy")
                    #expect(String(buffer: response.body).contains("/api/backups/\(id)"))
                }
                try await client.execute(uri: "/api/backups/\(id)", method: .get) { response in
                    let status = try Self.json(response)["status"] as? String
                    #expect(status == "running")
                }
                opener.finish()  // every put goes through from now on
                var status = "running"
                while status == "running" {
                    try await Task.sleep(for: .milliseconds(100))
                    status = try await client.execute(uri: "/api/backups/\(id)", method: .get) { response in
                        try Self.json(response)["status"] as? String ?? "?"
                    }
                }
                #expect(status == "complete")
                try await client.execute(uri: "/api/backups", method: .post) { response in
                    #expect(response.status == .accepted)
                }
            }
        }
    }

    @Test func aRefusingS3ServerAnswers502NamingTheAccessKeyAndNoSecret() async throws {
        let wrongSecret = "wrong-secret-\(UUID().uuidString)"
        let client = try await BackupFixtures.client(secretAccessKey: wrongSecret)
        let target = S3BackupTarget(client: client, prefix: BackupFixtures.prefix("refused"))
        let accessKeyID = try BackupFixtures.s3Settings().accessKeyID
        try await TestDatabase.withFreshDatabase { database, _ in
            let app = try Self.application(database: database, target: target)
            try await app.test(.router) { client in
                try await client.execute(uri: "/api/backups", method: .get) { response in
                    #expect(response.status == .badGateway)
                    let code = try Self.errorCode(response)
                    #expect(code == "object_store_signature_mismatch")
                    let body = String(buffer: response.body)
                    #expect(body.contains(accessKeyID) && !body.contains(wrongSecret))
                }
            }
        }
    }

    static func application(database: Database, target: any BackupTarget) throws -> some ApplicationProtocol {
        let make: @Sendable () throws -> BackupService = { BackupFixtures.service(database, target) }
        let runner = BackupRunner(make: make, logger: TestDatabase.logger)
        var dependencies = ApplianceRouter(client: database, configuration: RoutingConfiguration())
            .dependencies(ask: Appliance(client: database).askService)
        dependencies.backups = .init(service: make, runner: runner)
        dependencies.services.append(runner)
        return buildApplication(configuration: ServerConfiguration(), dependencies: dependencies, logger: TestDatabase.logger)
    }
}
