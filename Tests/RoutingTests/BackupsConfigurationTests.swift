import Foundation
import Lifecycle
import Testing

@testable import Routing

/// The configuration file's `backups:` section: the S3 target, retention and encryption, secrets only by name.
@Suite struct BackupsConfigurationTests {
    @Test func parsesEveryKey() throws {
        let yaml = """
            backups:
              s3:
                bucket: unity-ai-backups
                prefix: /site-a/
                endpoint: http://127.0.0.1:8333
                region: eu-central-1
                path_style: false
                access_key_id_env: BACKUP_KEY_ID
                secret_access_key_env: BACKUP_SECRET
                session_token_env: BACKUP_TOKEN
              retention: {keep_last: 7, keep_daily: 14, keep_weekly: 8, time_zone: Europe/Berlin}
              encryption: {key_env: UNITY_AI_BACKUP_KEY}
            """
        let backups = try RoutingConfiguration.parse(yaml: yaml, environment: [:]).backups
        let s3 = try #require(backups.s3)
        #expect(s3.bucket == "unity-ai-backups" && s3.prefix == "site-a" && s3.url == "s3://unity-ai-backups/site-a")
        #expect(s3.endpoint == "http://127.0.0.1:8333" && s3.region == "eu-central-1" && s3.pathStyle == false)
        #expect(s3.accessKeyIDVariable == "BACKUP_KEY_ID" && s3.secretAccessKeyVariable == "BACKUP_SECRET")
        #expect(s3.sessionTokenVariable == "BACKUP_TOKEN")
        #expect(backups.retention == BackupRetention(keepLast: 7, keepDaily: 14, keepWeekly: 8, timeZone: TimeZone(identifier: "Europe/Berlin") ?? .gmt))
        #expect(backups.encryption == .init(keyVariable: "UNITY_AI_BACKUP_KEY"))
    }

    @Test func aURLStandsForBucketAndPrefixAndDefaultsAreEmpty() throws {
        let backups = try RoutingConfiguration.parse(yaml: "backups:\n  s3: {url: s3://b/x/y}\n  encryption: {key_file: /etc/k}\n", environment: [:]).backups
        #expect(backups.s3?.bucket == "b" && backups.s3?.prefix == "x/y")
        #expect(backups.s3?.endpoint == nil && backups.s3?.pathStyle == nil && backups.s3?.accessKeyIDVariable == nil)
        #expect(backups.encryption?.keyFile == "/etc/k")
        #expect(!backups.retention.isConfigured)
        #expect(RoutingConfiguration().backups.s3 == nil)
    }

    @Test func theBackupJobKindsCanBeScheduled() throws {
        let yaml = """
            schedules:
              - {name: nightly, job: backup, cron: "0 2 * * *"}
              - {name: check, job: backup_verify, cron: "0 5 * * 0"}
              - {name: prune, job: backup_prune, cron: "30 5 * * *"}
            """
        let schedules = try RoutingConfiguration.parse(yaml: yaml, environment: [:]).schedules
        #expect(schedules.map(\.kind) == [.backup, .backupVerify, .backupPrune])
        // None runs unless scheduled.
        #expect(!RoutingConfiguration().effectiveSchedules.contains { [.backup, .backupVerify, .backupPrune].contains($0.kind) })
    }

    @Test(arguments: [
        ("backups:\n  s3: {bucket: b, secret_access_key: hunter2}\n", "credentials are not read from the file"),
        ("backups:\n  s3: {bucket: b, access_key_id: AKIA}\n", "access_key_id_env"),
        ("backups:\n  s3: {url: s3://b/p, bucket: b}\n", "either url or bucket"),
        ("backups:\n  s3: {prefix: p}\n", "name the bucket"),
        ("backups:\n  s3: {bucket: b, endpoint: 'ftp://x'}\n", "is not an http(s) URL"),
        ("backups:\n  s3: {bucket: b, endpoint: 'http://user:pw@host:9000'}\n", "must not carry credentials"),
        ("backups:\n  s3: {bucket: b, access_key_id_env: K}\n", "name both access_key_id_env and secret_access_key_env"),
        ("backups:\n  s3: {bucket: b, access_key_id_env: 'A-B', secret_access_key_env: S}\n", "environment variable"),
        ("backups:\n  retention: {keep_last: 0}\n", "from 1 to 100000"),
        ("backups:\n  retention: {keep_monthly: 3}\n", "unknown key"),
        ("backups:\n  retention: {time_zone: UTC}\n", "name at least one of keep_last"),
        ("backups:\n  retention: {keep_last: 1, time_zone: CET}\n", "IANA"),
        ("backups:\n  encryption: {key_env: K, key_file: /k}\n", "exactly one of key_env"),
        ("backups:\n  encryption: {key_file: key.bin}\n", "absolute path"),
        ("backups:\n  encryption: {key: 00ff}\n", "unknown key"),
        ("backups:\n  target: s3://b\n", "unknown key"),
    ])
    func refusesWhatCannotWorkSayingWhere(yaml: String, fragment: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error.description.contains(fragment), "\(error)")
        #expect(error.keyPath.hasPrefix("backups"), "\(error)")
        #expect(!error.description.contains("hunter2"))
    }
}
