import Crypto
import Foundation
import Ingest
import Lifecycle
import Retrieval
import Storage
import Testing

@testable import Backup

/// What an operator checks by hand: a set on the S3 server read back with the AWS CLI matches its manifest, and an
/// appliance restored from a set answers as the original did.
@Suite(.serialized) struct BackupAcceptanceTests {
    /// The AWS CLI `deploy/start-seaweedfs.sh` installs (or `UNITY_AI_TEST_AWS_CLI`).
    static func awsCLI() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let path = environment["UNITY_AI_TEST_AWS_CLI"], !path.isEmpty { candidates.append(path) }
        if let tools = environment["UNITY_AI_TOOLS_DIR"], !tools.isEmpty { candidates.append("\(tools)/s3-venv/bin/aws") }
        candidates.append("/opt/unity-ai/s3-venv/bin/aws")
        if let home = environment["HOME"] { candidates.append("\(home)/.local/share/unity-ai/s3-venv/bin/aws") }
        return try #require(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
            "The AWS CLI is not installed (looked in \(candidates)); deploy/start-seaweedfs.sh installs it.")
    }

    /// Runs the AWS CLI against the test server with its credentials; fails with its output when it fails.
    static func aws(_ arguments: [String]) async throws -> String {
        let settings = try BackupFixtures.s3Settings()
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = settings.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = settings.secretAccessKey
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        let result = try await CommandResult.run(
            URL(fileURLWithPath: try awsCLI()), ["--endpoint-url", settings.endpoint] + arguments, environment: environment)
        try #require(result.status == 0, "aws \(arguments.joined(separator: " ")): \(result.output)")
        return result.output
    }

    @Test func aSetOnTheServerListsAndDownloadsWithTheAWSCLIAndMatchesItsManifest() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let report = try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            return try await BackupFixtures.service(database, target, modelsDirectory: models.fixture.root).run()
        }
        let root = "s3://\(BackupFixtures.bucket)/\(target.prefix)/"
        let listing = try await Self.aws(["s3", "ls", "--recursive", root])
        let listed = Set(
            listing.split(separator: "\n").compactMap { line in
                line.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init)
            })

        let download = try TemporaryDirectory()
        defer { download.delete() }
        _ = try await Self.aws(["s3", "cp", "--recursive", "--only-show-errors", root, download.path])
        let manifestData = try Data(
            contentsOf: URL(fileURLWithPath: "\(download.path)/sets/\(report.id)/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let objects = try #require(manifest["objects"] as? [[String: Any]])
        #expect(objects.count == report.objects && !objects.isEmpty)
        for object in objects {
            let key = try #require(object["key"] as? String)
            #expect(listed.contains("\(target.prefix)/\(key)"), "\(key) is not in the listing")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(download.path)/\(key)"))
            let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            #expect(digest == object["sha256"] as? String, "\(key): the downloaded bytes do not hash to the manifest's")
            #expect(bytes.count == object["size"] as? Int, "\(key)")
        }

        // Two models share their weights: every blob on the server is there once, under its content address.
        let blobKeys = listed.filter { $0.hasPrefix("\(target.prefix)/blobs/") }
        let unique = models.manifests.reduce(Set<OllamaModelsFixtureBuilder.Blob>()) { $0.union($1.blobs) }
        #expect(blobKeys.count == unique.count && unique.count < models.manifests.reduce(0) { $0 + $1.blobs.count })
        for key in blobKeys {
            let name = String(key.split(separator: "/").last ?? "")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(download.path)/blobs/\(name)"))
            #expect("sha256-" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() == name)
        }
    }

    @Test func anApplianceRestoredIntoAnEmptyDatabaseAnswersTheSameQuestionsWithTheSameCitations() async throws {
        struct Question: Decodable { var question: String }
        let questions = try JSONDecoder().decode(
            [Question].self,
            from: Data(contentsOf: TestDatabase.fixtures.appendingPathComponent("handbook-questions.json")))
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let target = try LocalBackupTarget(directory: directory.path + "/backups")
        @Sendable func answers(_ appliance: Appliance) async throws -> [String] {
            var answers: [String] = []
            for item in questions.prefix(12) {
                let answer = try await appliance.askService.ask(question: item.question, tenant: "library", topK: 5)
                let citations = answer.citations.map { "[\($0.n)] \($0.source) #\($0.chunkID) \($0.heading)" }
                answers.append("\(item.question) → \(answer.answer) \(citations.joined(separator: "; "))")
            }
            return answers
        }
        let (report, original) = try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            let summary = try await appliance.ingest(
                [TestDatabase.fixtures.appendingPathComponent("handbook").path], tenant: "library")
            #expect(summary.failed == 0 && summary.added == 12)
            let report = try await BackupFixtures.service(database, target).run()
            return (report, try await answers(appliance))
        }
        #expect(original.contains { !$0.contains("does not cover") }, "the handbook answers some questions")

        try await TestDatabase.withFreshDatabase { database, _ in
            _ = try await BackupFixtures.service(database, target).restore(id: report.id)
            let restored = try await answers(Appliance(client: database))
            #expect(restored == original)
        }
    }
}
