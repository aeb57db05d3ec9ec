import Foundation
import ObjectStore
import Routing
import Testing

@testable import Backup

/// The S3 settings of backups: the `backups.s3` section over the AWS conventions, secrets only from the variables
/// it names, and errors that name variables, never values.
@Suite struct BackupTargetConfigurationTests {
    static let environment = [
        "AWS_ACCESS_KEY_ID": "AKIAAWSDEFAULT", "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": "http://aws-endpoint:9000", "BACKUP_ID": "AKIABACKUP", "BACKUP_SECRET": "backup-secret",
        "BACKUP_TOKEN": "backup-token",
    ]

    @Test func withoutASectionTheAWSConventionsApply() throws {
        let configuration = try BackupTargets.s3Configuration(nil, environment: Self.environment)
        #expect(configuration.credentials.accessKeyID == "AKIAAWSDEFAULT")
        #expect(configuration.region == "us-west-2" && configuration.endpoint == "http://aws-endpoint:9000")
        #expect(configuration.pathStyle == nil)
    }

    @Test func theSectionNamesTheVariablesAndOverridesEndpointRegionAndPathStyle() throws {
        var s3 = RoutingConfiguration.Backups.S3(bucket: "b", prefix: "p")
        s3.endpoint = "http://127.0.0.1:8333"
        s3.region = "eu-central-1"
        s3.pathStyle = false
        s3.accessKeyIDVariable = "BACKUP_ID"
        s3.secretAccessKeyVariable = "BACKUP_SECRET"
        s3.sessionTokenVariable = "BACKUP_TOKEN"
        let configuration = try BackupTargets.s3Configuration(s3, environment: Self.environment)
        #expect(configuration.credentials.accessKeyID == "AKIABACKUP")
        #expect(configuration.credentials.secretAccessKey == "backup-secret")
        #expect(configuration.credentials.sessionToken == "backup-token")
        #expect(configuration.endpoint == "http://127.0.0.1:8333" && configuration.region == "eu-central-1")
        #expect(configuration.pathStyle == false)
        for text in ["\(configuration)", String(reflecting: configuration)] {
            #expect(!text.contains("backup-secret") && !text.contains("backup-token"))
        }
    }

    @Test func aMissingVariableIsNamedAndNoSecretIsShown() throws {
        var s3 = RoutingConfiguration.Backups.S3(bucket: "b")
        s3.accessKeyIDVariable = "BACKUP_ID"
        s3.secretAccessKeyVariable = "UNSET_SECRET"
        let error = #expect(throws: ObjectStoreError.self) {
            try BackupTargets.s3Configuration(s3, environment: Self.environment)
        }
        #expect(error?.message == "UNSET_SECRET is not set: export the secret key of access key AKIABACKUP.")
        #expect(error.map { !"\($0)".contains("secret-") } == true)
    }

    @Test func theSectionIsTheTargetWhenNoURLIsGiven() throws {
        var backups = RoutingConfiguration.Backups()
        backups.s3 = .init(bucket: "unity-ai-backups", prefix: "site-a")
        let target = try BackupTargets.make(url: nil, backups: backups, dataDirectory: "/tmp/d", environment: Self.environment)
        #expect("\(target)" == "s3://unity-ai-backups/site-a")
        let explicit = try BackupTargets.make(url: "s3://other/x", backups: backups, dataDirectory: "/tmp/d", environment: Self.environment)
        #expect("\(explicit)" == "s3://other/x")
        let local = try BackupTargets.make(
            url: nil, backups: .init(), dataDirectory: NSTemporaryDirectory() + "unity-ai-\(UUID().uuidString)", environment: [:])
        #expect("\(local)".hasSuffix("/backups"))
    }
}
