import Backup
import Foundation
import ObjectStore
import Routing

extension ApplianceRuntime {
    /// The S3 client settings: the AWS conventions (`AWS_*`), with the `backups.s3` section's endpoint, region, path
    /// style and credential variables over them. Secrets come from the environment only.
    static func s3Configuration(
        _ settings: RoutingConfiguration.Backups.S3?, environment: [String: String]
    ) throws -> S3Client.Configuration {
        var variables: S3Client.Configuration.CredentialVariables?
        if let settings, let accessKeyID = settings.accessKeyIDVariable, let secret = settings.secretAccessKeyVariable {
            variables = .init(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: settings.sessionTokenVariable)
        }
        var configuration = try S3Client.Configuration.fromEnvironment(environment, credentialVariables: variables)
        if let endpoint = settings?.endpoint {
            try S3Client.Configuration.validate(endpoint: endpoint)
            configuration.endpoint = endpoint
        }
        if let region = settings?.region { configuration.region = region }
        if let pathStyle = settings?.pathStyle { configuration.pathStyle = pathStyle }
        return configuration
    }

    /// The backup service over `url` (`s3://bucket/prefix` or `file:///dir`), else the `backups.s3` section's bucket,
    /// else `<dataDirectory>/backups`; with the Ollama models directory and the encryption key of the configuration.
    func makeBackupService(
        target url: String?, dataDirectory: String, environment: [String: String],
        configure: (inout BackupService.Configuration) -> Void = { _ in }
    ) throws -> BackupService {
        let backups = routing.backups
        let target = try BackupTargets.make(
            url: url ?? backups.s3?.url, dataDirectory: dataDirectory,
            s3Configuration: { try Self.s3Configuration(backups.s3, environment: environment) })
        var configuration = BackupService.Configuration()
        configuration.ollamaModelsDirectory = routing.lifecycle.ollamaModelsDirectory
        configuration.encryptionKey = try BackupEncryptionKey.load(
            variable: backups.encryption?.keyVariable, file: backups.encryption?.keyFile, environment: environment)
        configure(&configuration)
        return BackupService(configuration: configuration, database: client, target: target, logger: logger)
    }

    /// Makes the backup service over the configured target (`backups.s3`, else `<data-dir>/backups`), for the
    /// scheduler and the server.
    func backupServiceMaker(_ options: CommonOptions) -> @Sendable () throws -> BackupService {
        let (dataDirectory, environment) = (options.resolvedDataDirectory, options.environment)
        return { try self.makeBackupService(target: nil, dataDirectory: dataDirectory, environment: environment) }
    }
}
