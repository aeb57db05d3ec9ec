import FaultInjection
import Foundation
import Lifecycle
import NIOCore
import ObjectStore
import Storage
import Testing

@testable import Backup

/// Backups through a proxy in front of SeaweedFS that fails a part of a model blob's multipart upload: a 500 on every
/// try, a reset connection, a part that stalls past the idle timeout. After each the run fails, no multipart upload
/// is left (`ListMultipartUploads` is empty) and nothing looks complete: no manifest, no lock, not the failed blob.
/// A slow part within the timeout only takes longer. A wrong secret key names the access key, never a secret, and leaves nothing.
@Suite(.serialized) struct BackupFaultTests {
    /// A models directory with one model whose weights (20 MiB) are uploaded in three parts.
    static func bigModel() throws -> (fixture: OllamaModelsFixtureBuilder, weights: OllamaModelsFixtureBuilder.Blob) {
        let fixture = try OllamaModelsFixtureBuilder()
        let weights = try fixture.blob(
            OllamaModelsFixtureBuilder.ggufWeights(
                size: 20 << 20, seed: 42, metadata: [("general.architecture", .string("llama"))]),
            mediaType: OllamaModelsFixtureBuilder.modelMediaType)
        let config = try fixture.blob(
            OllamaModelsFixtureBuilder.configJSON(family: "llama", parameterSize: "1B", quantization: "Q4_0", layers: [weights]),
            mediaType: OllamaModelsFixtureBuilder.configMediaType)
        try fixture.manifest(try #require(OllamaModelName(parsing: "big:latest")), config: config, layers: [weights], modified: .now)
        return (fixture, weights)
    }

    /// Runs a backup through a proxy applying `rule`; returns the run's outcome and the proxy's log.
    static func backUp(
        through rule: @escaping FaultInjectingProxy.Rule, prefix: String, database: Database, models: String
    ) async throws -> (Result<BackupRunReport, any Error>, [FaultInjectingProxy.Request]) {
        let settings = try BackupFixtures.s3Settings()
        return try await FaultInjectingProxy.with(upstream: settings.endpoint, rule: rule) { proxy in
            let client = try await BackupFixtures.client(endpoint: proxy.endpoint) { configuration in
                configuration.maximumAttempts = 2
                configuration.idleTimeout = .seconds(1)
            }
            let service = BackupFixtures.service(database, S3BackupTarget(client: client, prefix: prefix), modelsDirectory: models)
            do {
                return (.success(try await service.run()), proxy.requests)
            } catch {
                return (.failure(error), proxy.requests)
            }
        }
    }

    /// Nothing under `prefix` looks complete: no multipart upload, no manifest, no lock, not the blob whose upload
    /// failed; the set is listed only as incomplete, and any blob stored before the failure holds exactly the bytes
    /// its name promises (a later set may use it; prune collects it otherwise).
    static func expectNothingComplete(
        prefix: String, database: Database, failedBlob: String?, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let direct = try await BackupFixtures.client()
        let uploads = try await direct.listMultipartUploads(prefix: prefix + "/")
        #expect(uploads.isEmpty, "incomplete multipart uploads left: \(uploads)", sourceLocation: sourceLocation)
        let target = S3BackupTarget(client: direct, prefix: prefix)
        let keys = try await target.list(prefix: "").map(\.key)
        #expect(!keys.contains { $0.hasSuffix("/manifest.json") || $0.hasPrefix("locks/") }, "\(keys)", sourceLocation: sourceLocation)
        if let failedBlob { #expect(!keys.contains("blobs/" + failedBlob), "\(keys)", sourceLocation: sourceLocation) }
        let service = BackupFixtures.service(database, target)
        #expect(try await service.list().isEmpty, sourceLocation: sourceLocation)
        #expect(try await service.list(includeIncomplete: true).allSatisfy { !$0.complete }, sourceLocation: sourceLocation)
        for key in keys where key.hasPrefix("blobs/") {
            var tally = [UInt8]()
            for try await chunk in try await target.get(key) { tally += chunk.readableBytesView }
            #expect("blobs/sha256-" + OllamaModelsFixtureBuilder.sha256(tally) == key, sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [
        ("a 500 on every try of part 2", FaultInjectingProxy.Action.respond(status: 500, code: "InternalError")),
        ("a reset connection on every try of part 2", .reset),
        ("part 2 stalling past the idle timeout", .stall(.seconds(3))),
    ])
    func aFailedPartFailsTheRunAndLeavesNothingThatLooksComplete(_ name: String, _ fault: FaultInjectingProxy.Action) async throws {
        let (models, weights) = try Self.bigModel()
        let prefix = BackupFixtures.prefix("fault")
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let (result, requests) = try await Self.backUp(
                through: { $0.partNumber == 2 ? fault : .forward }, prefix: prefix, database: database, models: models.root)
            #expect(throws: (any Error).self, "\(name)") { try result.get() }
            #expect(requests.filter { $0.partNumber == 2 }.count == 2, "\(name): \(requests)")
            #expect(requests.contains { $0.method == "DELETE" && $0.uri.contains("uploadId=") }, "\(name): not aborted")
            try await Self.expectNothingComplete(prefix: prefix, database: database, failedBlob: weights.fileName)
        }
    }

    /// A blob whose bytes no longer match its name (one bit flipped on disk) fails the run before its upload is
    /// completed: nothing is stored under the name, no upload is left, and the error names both hashes.
    @Test func aDamagedBlobIsNeverStoredUnderItsName() async throws {
        let (models, weights) = try Self.bigModel()
        let path = models.root + "/blobs/" + weights.fileName
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 12 << 20)
        let byte = try handle.read(upToCount: 1)?.first ?? 0
        try handle.seek(toOffset: 12 << 20)
        try handle.write(contentsOf: Data([byte ^ 1]))
        try handle.close()
        let prefix = BackupFixtures.prefix("damaged-blob")
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let (result, requests) = try await Self.backUp(
                through: { _ in .forward }, prefix: prefix, database: database, models: models.root)
            let error = try #require(throws: ObjectStoreError.self) { try result.get() }
            #expect(error.code == .checksumMismatch)
            #expect(error.message.contains(weights.hex), "\(error)")
            #expect(!requests.contains { $0.method == "POST" && $0.uri.contains("uploadId=") }, "completed: \(requests)")
            try await Self.expectNothingComplete(prefix: prefix, database: database, failedBlob: weights.fileName)
        }
    }

    @Test func aSlowPartWithinTheTimeoutOnlyTakesLonger() async throws {
        let (models, weights) = try Self.bigModel()
        let prefix = BackupFixtures.prefix("slow")
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let (result, _) = try await Self.backUp(
                through: { $0.partNumber == 2 && $0.attempt == 1 ? .delay(.milliseconds(500)) : .forward }, prefix: prefix,
                database: database, models: models.root)
            let report = try result.get()
            let direct = try await BackupFixtures.client()
            #expect(try await direct.listMultipartUploads(prefix: prefix + "/").isEmpty)
            let service = BackupFixtures.service(database, S3BackupTarget(client: direct, prefix: prefix))
            #expect(try await service.verify(id: report.id).ok)
            #expect(try await direct.head(prefix + "/blobs/" + weights.fileName)?.size == Int(weights.size))
        }
    }

    @Test func aWrongSecretNamesTheAccessKeyNeverASecretAndLeavesNothing() async throws {
        let (models, _) = try Self.bigModel()
        let settings = try BackupFixtures.s3Settings()
        let prefix = BackupFixtures.prefix("wrong-secret")
        let wrongSecret = "wrong-secret-\(UUID().uuidString)"
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let client = try await BackupFixtures.client(secretAccessKey: wrongSecret)
            let service = BackupFixtures.service(database, S3BackupTarget(client: client, prefix: prefix), modelsDirectory: models.root)
            let error = await #expect(throws: ObjectStoreError.self) { try await service.run() }
            #expect(error?.code == .signatureMismatch)
            #expect(
                error?.message.contains(
                    "the signature does not match for access key \(settings.accessKeyID): check the secret key") == true,
                "\(error.map { "\($0)" } ?? "")")
            for text in [error.map { "\($0)" }, error.map { String(reflecting: $0) }, error?.message].compactMap({ $0 }) {
                #expect(!text.contains(wrongSecret) && !text.contains(settings.secretAccessKey))
            }
            try await Self.expectNothingComplete(prefix: prefix, database: database, failedBlob: nil)
            #expect(try await S3BackupTarget(client: try await BackupFixtures.client(), prefix: prefix).list(prefix: "").isEmpty)
        }
    }
}
