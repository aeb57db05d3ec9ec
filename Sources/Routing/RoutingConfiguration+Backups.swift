import Foundation
import Lifecycle

extension RoutingConfiguration {
    /// The `backups:` section: where sets go (`s3`), how long they are kept (`retention`) and how they are encrypted
    /// (`encryption`). Secrets are never in the file: it names the environment variables (or the key file) that
    /// hold them.
    public struct Backups: Sendable, Equatable {
        /// Which sets `backup prune` and the `backup_prune` job keep. Defaults to no rule: prune refuses to run.
        public var retention = BackupRetention()
        /// The S3 bucket used when no `--target` is given. Defaults to `nil`: `<data-dir>/backups`.
        public var s3: S3?
        /// Client-side encryption of new sets. Defaults to `nil`: sets are written unencrypted.
        public var encryption: Encryption?

        /// No S3 section, no retention, no encryption.
        public init() {}

        /// `backups.s3`: a bucket and prefix on AWS or another S3 server.
        public struct S3: Sendable, Equatable {
            /// The bucket (`bucket`, or the host of `url`).
            public var bucket: String
            /// The prefix inside it, without slashes at either end; empty for the bucket's root.
            public var prefix: String = ""
            /// The server's base URL (`endpoint`); `nil` (the default) reads `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`,
            /// else AWS.
            public var endpoint: String?
            /// `region`; `nil` (the default) reads `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
            public var region: String?
            /// `path_style`: `true` for `endpoint/bucket/key` URLs, `false` for `bucket.host/key`; `nil` (the
            /// default) is path-style whenever an endpoint is given and virtual-hosted for AWS.
            public var pathStyle: Bool?
            /// The environment variables holding the access key ID, the secret key and a session token; `nil` (the
            /// default) reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
            public var accessKeyIDVariable: String?
            /// `secret_access_key_env`: the variable holding the secret key.
            public var secretAccessKeyVariable: String?
            /// `session_token_env`: the variable holding a session token.
            public var sessionTokenVariable: String?

            /// A section for `bucket` and `prefix`, every other key at its default.
            public init(bucket: String, prefix: String = "") {
                self.bucket = bucket
                self.prefix = prefix
            }

            /// `s3://bucket/prefix`: the target URL this section stands for.
            public var url: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
        }

        /// `backups.encryption`: where the 256-bit key is found. One of the two is set.
        public struct Encryption: Sendable, Equatable {
            /// `key_env`: an environment variable holding the key (64 hex digits or base64 of 32 bytes).
            public var keyVariable: String?
            /// `key_file`: a file holding the key (32 raw bytes, or 64 hex digits or base64 text).
            public var keyFile: String?

            /// The key from the variable `keyVariable` or the file `keyFile`.
            public init(keyVariable: String? = nil, keyFile: String? = nil) {
                self.keyVariable = keyVariable
                self.keyFile = keyFile
            }
        }
    }

    /// The `backups:` section.
    static func parseBackups(_ node: YAMLNode) throws -> Backups {
        let fields = try node.mapping()
        try fields.rejectUnknown(["s3", "retention", "encryption"])
        var backups = Backups()
        if let s3 = fields.value("s3") { backups.s3 = try parseBackupS3(s3) }
        if let retention = fields.value("retention") {
            let values = try retention.mapping()
            try values.rejectUnknown(["keep_last", "keep_daily", "keep_weekly", "time_zone"])
            func count(_ key: String) throws -> Int? {
                guard let value = values.value(key) else { return nil }
                let number = try value.integer()
                guard (1...BackupRetention.maximumCount).contains(number) else {
                    throw value.error("\(key) is a whole number from 1 to \(BackupRetention.maximumCount); leave it out to not use it")
                }
                return number
            }
            backups.retention = BackupRetention(
                keepLast: try count("keep_last"), keepDaily: try count("keep_daily"), keepWeekly: try count("keep_weekly"),
                timeZone: try values.value("time_zone")?.timeZone() ?? .gmt)
            guard backups.retention.isConfigured else {
                throw retention.error("name at least one of keep_last, keep_daily, keep_weekly (or leave `retention:` out)")
            }
        }
        if let encryption = fields.value("encryption") {
            let values = try encryption.mapping()
            try values.rejectUnknown(["key_env", "key_file"])
            let variable = try values.value("key_env").map { try $0.environmentVariableName() }
            let file = try values.value("key_file")?.string()
            guard (variable == nil) != (file == nil) else {
                throw encryption.error("give the key's place as exactly one of key_env (an environment variable) or key_file")
            }
            if let file, !file.hasPrefix("/") {
                throw (values.value("key_file") ?? encryption).error("key_file must be an absolute path")
            }
            backups.encryption = Backups.Encryption(keyVariable: variable, keyFile: file)
        }
        return backups
    }

    private static func parseBackupS3(_ node: YAMLNode) throws -> Backups.S3 {
        let fields = try node.mapping()
        // Secrets never belong in the file: say where they go instead of "unknown key".
        for secret in ["access_key_id", "secret_access_key", "session_token", "access_key", "secret_key"] {
            if let value = fields.value(secret) {
                throw value.error(
                    "credentials are not read from the file: put them in environment variables and name them with "
                        + "access_key_id_env, secret_access_key_env (and session_token_env), or use AWS_ACCESS_KEY_ID and "
                        + "AWS_SECRET_ACCESS_KEY")
            }
        }
        try fields.rejectUnknown([
            "url", "bucket", "prefix", "endpoint", "region", "path_style", "access_key_id_env", "secret_access_key_env",
            "session_token_env",
        ])
        var bucket = try fields.value("bucket")?.string()
        var prefix = try fields.value("prefix")?.string()
        if let urlNode = fields.value("url") {
            guard bucket == nil, prefix == nil else {
                throw urlNode.error("give either url or bucket (and prefix), not both")
            }
            let url = try urlNode.string()
            guard url.hasPrefix("s3://") else { throw urlNode.error("the url is s3://bucket/prefix") }
            let rest = url.dropFirst("s3://".count)
            bucket = String(rest.prefix { $0 != "/" })
            prefix = String(rest.drop { $0 != "/" })
        }
        guard let bucket, !bucket.isEmpty else {
            throw node.error("name the bucket: `bucket: my-backups` (and `prefix:`), or `url: s3://my-backups/prefix`")
        }
        guard !bucket.contains(where: { $0.isWhitespace }) else { throw node.error("the bucket name '\(bucket.prefix(80))' has blanks") }
        var s3 = Backups.S3(
            bucket: bucket, prefix: (prefix ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        if let endpointNode = fields.value("endpoint") {
            let endpoint = try endpointNode.string()
            guard let parsed = URL(string: endpoint), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil
            else { throw endpointNode.error("`\(endpoint.prefix(200))` is not an http(s) URL such as http://127.0.0.1:8333") }
            guard parsed.user == nil, parsed.password == nil, parsed.query == nil else {
                throw endpointNode.error("the endpoint must not carry credentials or a query; name the credentials' variables")
            }
            s3.endpoint = endpoint
        }
        if let region = fields.value("region") {
            s3.region = try region.string()
            guard s3.region?.isEmpty == false else { throw region.error("the region is empty; leave it out for us-east-1") }
        }
        s3.pathStyle = try fields.value("path_style")?.bool()
        s3.accessKeyIDVariable = try fields.value("access_key_id_env").map { try $0.environmentVariableName() }
        s3.secretAccessKeyVariable = try fields.value("secret_access_key_env").map { try $0.environmentVariableName() }
        s3.sessionTokenVariable = try fields.value("session_token_env").map { try $0.environmentVariableName() }
        guard (s3.accessKeyIDVariable == nil) == (s3.secretAccessKeyVariable == nil) else {
            throw node.error("name both access_key_id_env and secret_access_key_env, or neither (then AWS_* are read)")
        }
        return s3
    }
}

extension YAMLNode {
    /// An IANA time zone name such as `Europe/Berlin` or `UTC`; abbreviations (CET, EST), whose meaning is
    /// ambiguous, are refused although Foundation takes them.
    func timeZone() throws -> TimeZone {
        let identifier = try string()
        guard let zone = TimeZone(identifier: identifier),
            identifier == "UTC" || identifier == "GMT" || TimeZone.knownTimeZoneIdentifiers.contains(identifier)
        else {
            throw error("'\(identifier.prefix(80))' is not an IANA time zone; use a name such as Europe/Berlin or UTC")
        }
        return zone
    }

    /// The name of an environment variable: letters, digits and `_`, not starting with a digit.
    func environmentVariableName() throws -> String {
        let name = try string()
        guard let first = name.unicodeScalars.first, !CharacterSet.decimalDigits.contains(first),
            name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") })
        else {
            throw error("'\(name.prefix(80))' is not an environment variable's name (letters, digits and _)")
        }
        return name
    }
}
