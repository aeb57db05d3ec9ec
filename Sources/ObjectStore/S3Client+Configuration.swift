import Foundation

extension S3Client {
    /// Where the S3 server is, who we are to it, and how hard to try.
    public struct Configuration: Sendable, CustomStringConvertible {
        /// The server's base URL: scheme, host, optional port and base path (`http://127.0.0.1:8333`,
        /// `https://minio.example.com`). `nil` (the default) means AWS: `https://s3.<region>.amazonaws.com`.
        public var endpoint: String?
        /// The region signatures are scoped to. Defaults to `us-east-1`, which MinIO and SeaweedFS accept.
        public var region: String = "us-east-1"
        /// The key pair (and session token, for temporary credentials) that signs every request.
        public var credentials: AWSCredentials
        /// `true` for path-style URLs (`endpoint/bucket/key`), `false` for virtual-hosted ones (`bucket.host/key`).
        /// `nil` (the default) picks path-style whenever an endpoint is given (MinIO, SeaweedFS) and virtual-hosted
        /// for AWS, except for bucket names that cannot be a TLS host name (dots, upper case), which stay path-style.
        public var pathStyle: Bool?
        /// The size of a multipart upload's parts, and the largest body ``S3Client/upload(from:to:contentType:metadata:sizeHint:)``
        /// sends with one PutObject. Defaults to 8 MiB; S3 accepts 5 MiB to 5 GiB. An upload holds at most
        /// `partsInFlight × partSize` bytes in memory.
        public var partSize: Int = 8 << 20
        /// Parts uploaded at once. Defaults to 4.
        public var partsInFlight: Int = 4
        /// How uploaded bytes are checked by the server. Defaults to ``Checksum/sha256``.
        public var checksum: Checksum = .sha256
        /// Whether a whole-object download is re-hashed and compared with the SHA-256 checksum the server stored
        /// (when it stored one). Defaults to `true`.
        public var verifiesDownloads: Bool = true
        /// Attempts per request, the first included, for failures worth retrying (5xx, throttling, broken
        /// connections, timeouts); 4xx answers are never retried. Defaults to 5.
        public var maximumAttempts: Int = 5
        /// The backoff before the first retry; it doubles with every retry, with full jitter. Defaults to 200 ms.
        public var retryBaseDelay: Duration = .milliseconds(200)
        /// The longest backoff between two attempts. Defaults to 10 s.
        public var retryMaximumDelay: Duration = .seconds(10)
        /// Time to open a connection. Defaults to 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// Silence tolerated on a connection, while sending a body or waiting for or reading the answer, before the
        /// attempt counts as failed (and is retried). Defaults to 60 s.
        public var idleTimeout: Duration = .seconds(60)
        /// Time for one attempt to send its request and receive the response head. Defaults to 15 minutes, room for
        /// a 5 GiB part on a slow link; ``idleTimeout`` catches stalled connections much sooner.
        public var requestTimeout: Duration = .seconds(900)

        /// How the server checks the bytes it receives.
        public struct Checksum: Hashable, Sendable, CustomStringConvertible {
            private enum Base: String { case sha256, contentMD5 }
            private let base: Base
            /// `x-amz-checksum-sha256` on every upload and part, compared with what the server echoes; multipart
            /// uploads also get S3's composite checksum. AWS, MinIO and SeaweedFS verify it.
            public static let sha256 = Checksum(base: .sha256)
            /// `Content-MD5` on every upload and part, and the returned ETag compared with the MD5 where it is one:
            /// for servers without the flexible checksums.
            public static let contentMD5 = Checksum(base: .contentMD5)
            public var description: String { base.rawValue }
        }

        /// A configuration with the values that have no safe default.
        ///
        /// - Parameters:
        ///   - endpoint: The server's base URL; `nil` for AWS.
        public init(credentials: AWSCredentials, endpoint: String? = nil, region: String = "us-east-1") {
            self.credentials = credentials
            self.endpoint = endpoint
            self.region = region
        }

        /// Reads the AWS conventions: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (required),
        /// `AWS_SESSION_TOKEN`, `AWS_REGION` or else `AWS_DEFAULT_REGION` (default `us-east-1`), and
        /// `AWS_ENDPOINT_URL_S3` or else `AWS_ENDPOINT_URL` (default: AWS). Empty values count as unset.
        ///
        /// - Parameters:
        ///   - credentialVariables: Other variables to read the access key ID, secret key and session token from
        ///     (a configuration file names them); `nil` for the `AWS_*` ones.
        /// - Throws: ``ObjectStoreError/Code/invalidConfiguration`` naming the variable that is missing or malformed,
        ///   never its value.
        public static func fromEnvironment(
            _ environment: [String: String] = ProcessInfo.processInfo.environment,
            credentialVariables: CredentialVariables? = nil
        ) throws -> Configuration {
            func value(_ name: String) -> String? {
                guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                    return nil
                }
                return value
            }
            let names = credentialVariables ?? .aws
            guard let accessKeyID = value(names.accessKeyID) else {
                throw ObjectStoreError.invalidConfiguration(
                    "\(names.accessKeyID) is not set: export the S3 access key ID (and \(names.secretAccessKey)).")
            }
            guard let secret = value(names.secretAccessKey) else {
                throw ObjectStoreError.invalidConfiguration(
                    "\(names.secretAccessKey) is not set: export the secret key of access key \(accessKeyID).")
            }
            var configuration = Configuration(
                credentials: AWSCredentials(
                    accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: names.sessionToken.flatMap(value)))
            if let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") { configuration.region = region }
            if let name = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"].first(where: { value($0) != nil }),
                let endpoint = value(name)
            {
                do {
                    _ = try Endpoint(parsing: endpoint)
                } catch let error as ObjectStoreError {
                    throw ObjectStoreError.invalidConfiguration("\(name): \(error.message)")
                }
                configuration.endpoint = endpoint
            }
            return configuration
        }

        /// Checks an endpoint URL as the client will read it.
        /// - Throws: ``ObjectStoreError/Code/invalidConfiguration`` saying what is wrong with it.
        public static func validate(endpoint: String) throws {
            _ = try Endpoint(parsing: endpoint)
        }

        /// The environment variables that hold the credentials.
        public struct CredentialVariables: Sendable, Hashable {
            /// The access key ID's variable.
            public var accessKeyID: String
            /// The secret key's variable.
            public var secretAccessKey: String
            /// The session token's variable, for temporary credentials; `nil` for none.
            public var sessionToken: String?

            /// The variables called so.
            public init(accessKeyID: String, secretAccessKey: String, sessionToken: String?) {
                self.accessKeyID = accessKeyID
                self.secretAccessKey = secretAccessKey
                self.sessionToken = sessionToken
            }

            /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
            public static let aws = CredentialVariables(
                accessKeyID: "AWS_ACCESS_KEY_ID", secretAccessKey: "AWS_SECRET_ACCESS_KEY",
                sessionToken: "AWS_SESSION_TOKEN")
        }

        public var description: String {
            "S3Client.Configuration(endpoint: \(endpoint ?? "AWS"), region: \(region), credentials: \(credentials), "
                + "pathStyle: \(pathStyle.map(String.init) ?? "auto"), partSize: \(partSize), "
                + "partsInFlight: \(partsInFlight), checksum: \(checksum))"
        }

        /// Throws for values S3 or this client cannot work with.
        func validate() throws {
            guard partSize >= 5 << 20, partSize <= 5 << 30 else {
                throw ObjectStoreError.invalidConfiguration(
                    "partSize is \(partSize) bytes; S3 accepts parts of 5 MiB (5242880) to 5 GiB. Use 8 MiB or more.")
            }
            guard partsInFlight >= 1 else {
                throw ObjectStoreError.invalidConfiguration("partsInFlight is \(partsInFlight); it must be at least 1.")
            }
            guard maximumAttempts >= 1 else {
                throw ObjectStoreError.invalidConfiguration(
                    "maximumAttempts is \(maximumAttempts); it must be at least 1 (1 means no retries).")
            }
            guard !region.isEmpty, region.utf8.allSatisfy(SigV4Signer.isUnreserved) else {
                throw ObjectStoreError.invalidConfiguration(
                    "The region \(ObjectStoreError.quoted(region)) is not a region name such as us-east-1.")
            }
            guard !credentials.accessKeyID.isEmpty, !credentials.secretAccessKey.isEmpty else {
                throw ObjectStoreError.invalidConfiguration(
                    "The access key ID or the secret key is empty: set both (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."
                )
            }
        }
    }
}

/// A parsed endpoint: where to connect, and the host name and base path requests are built on.
struct Endpoint: Sendable, Equatable {
    /// `http` or `https`.
    var scheme: String
    /// The host name, IPv6 addresses without brackets.
    var host: String
    /// The port, `nil` for the scheme's default.
    var port: Int?
    /// The decoded base path without a trailing slash: empty, or like `/s3`.
    var basePath: String

    /// AWS's endpoint for a region.
    static func aws(region: String) -> Endpoint {
        Endpoint(scheme: "https", host: "s3.\(region).amazonaws.com", port: nil, basePath: "")
    }

    init(scheme: String, host: String, port: Int?, basePath: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    init(parsing text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            throw ObjectStoreError.invalidConfiguration(
                "The endpoint \(ObjectStoreError.quoted(text)) is not an http:// or https:// URL "
                    + "(such as http://127.0.0.1:8333).")
        }
        guard var host = components.host, !host.isEmpty else {
            throw ObjectStoreError.invalidConfiguration(
                "The endpoint \(ObjectStoreError.quoted(text)) has no host name.")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard components.user == nil, components.password == nil else {
            throw ObjectStoreError.invalidConfiguration(
                "The endpoint must not carry credentials in its URL: set them as the access key and secret key.")
        }
        guard components.query == nil, components.fragment == nil else {
            throw ObjectStoreError.invalidConfiguration(
                "The endpoint \(ObjectStoreError.quoted(text)) has a query or fragment; give only scheme, host, port "
                    + "and path.")
        }
        self.scheme = scheme
        self.host = host.lowercased()
        let defaultPort = scheme == "https" ? 443 : 80
        self.port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        if !path.isEmpty, !path.hasPrefix("/") { path = "/" + path }
        self.basePath = path
    }

    /// `host[:port]` as the `Host` header carries it, IPv6 in brackets.
    func authority(host: String? = nil) -> String {
        let name = host ?? self.host
        let bracketed = name.contains(":") ? "[\(name)]" : name
        return port.map { "\(bracketed):\($0)" } ?? bracketed
    }
}
