import Backup
import Foundation
import Routing

extension ApplianceRuntime {
    /// The backup service over `url` (`s3://bucket/prefix` or `file:///dir`), else the `backups.s3` section's bucket,
    /// else `<dataDirectory>/backups`; with the Ollama models directory and the encryption key of the configuration.
    func makeBackupService(
        target url: String?, dataDirectory: String, environment: [String: String],
        configure: (inout BackupService.Configuration) -> Void = { _ in }
    ) throws -> BackupService {
        let backups = routing.backups
        let target = try BackupTargets.make(
            url: url, backups: backups, dataDirectory: dataDirectory, environment: environment)
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
