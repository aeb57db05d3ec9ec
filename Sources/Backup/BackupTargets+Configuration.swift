import Foundation
import ObjectStore
import Routing

extension BackupTargets {
    /// The S3 client settings for backups: the AWS conventions (`AWS_*`), with the `backups.s3` section's endpoint,
    /// region, path style and credential variables over them. Secrets come from the environment only, and errors name
    /// the variables, never their values.
    public static func s3Configuration(
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

    /// The target for `url` (`s3://bucket/prefix` or `file:///dir`), else the `backups.s3` section's bucket and
    /// prefix, else `<dataDirectory>/backups`; S3 clients are set up by ``s3Configuration(_:environment:)``.
    public static func make(
        url: String?, backups: RoutingConfiguration.Backups, dataDirectory: String, environment: [String: String]
    ) throws -> any BackupTarget {
        try make(
            url: url ?? backups.s3?.url, dataDirectory: dataDirectory,
            s3Configuration: { try s3Configuration(backups.s3, environment: environment) })
    }
}
