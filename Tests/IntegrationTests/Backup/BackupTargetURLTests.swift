import Foundation
import ObjectStore
import Testing

@testable import Backup

/// `--target` parsing and key checks; no server needed.
struct BackupTargetURLTests {
    static func configuration() -> S3Client.Configuration {
        S3Client.Configuration(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "not-used"),
            endpoint: "http://127.0.0.1:1")
    }

    @Test func parsesS3FileAndDefaultTargets() throws {
        let s3 = try #require(
            try BackupTargets.make(url: "s3://backups/unity-ai/prod/", dataDirectory: "/tmp", s3Configuration: Self.configuration)
                as? S3BackupTarget)
        #expect(s3.client.bucket == "backups")
        #expect(s3.prefix == "unity-ai/prod")
        #expect(s3.fullKey("sets/x/manifest.json") == "unity-ai/prod/sets/x/manifest.json")

        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let local = try #require(
            try BackupTargets.make(url: "file://\(directory.path)/b", dataDirectory: "/unused", s3Configuration: Self.configuration)
                as? LocalBackupTarget)
        #expect(local.directory.hasSuffix("/b"))
        let fallback = try #require(
            try BackupTargets.make(url: nil, dataDirectory: directory.path, s3Configuration: Self.configuration)
                as? LocalBackupTarget)
        #expect(fallback.directory.hasSuffix("/backups"))
    }

    @Test(arguments: ["ftp://host/x", "file://relative/dir", "s3:///nobucket", "backups"])
    func refusesOtherTargets(url: String) {
        #expect(throws: BackupError.self) {
            _ = try BackupTargets.make(url: url, dataDirectory: "/tmp", s3Configuration: Self.configuration)
        }
    }

    @Test(arguments: ["../x", "sets/../../x", "/etc/passwd", "sets//x", "sets/./x", ""])
    func refusesUnsafeKeys(key: String) {
        #expect(throws: BackupError.self) { try BackupTargets.validate(key: key) }
    }

    @Test func setIDsCarryTheirTimeAndSortByIt() throws {
        let date = Date(timeIntervalSince1970: 1_796_000_000)
        let id = BackupSetID.make(date: date)
        #expect(try #require(BackupSetID.date(of: id)) == date)
        #expect(BackupSetID.date(of: "not-an-id") == nil)
        #expect(BackupSetID.make(date: date) < BackupSetID.make(date: date.addingTimeInterval(1)))
    }
}
