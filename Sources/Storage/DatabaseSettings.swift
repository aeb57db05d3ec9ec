import Foundation
import NIOSSL
import PostgresNIO

/// Where the appliance's PostgreSQL is: a server named by `DATABASE_URL`, or the embedded one.
public struct DatabaseSettings: Sendable, CustomStringConvertible {
    /// A TCP host or a unix-socket path.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var username: String
    /// The password, if any. Never printed.
    public var password: String?
    public var database: String
    /// libpq's `sslmode`: `disable`, `allow`, `prefer`, `require` (encrypted, server not verified), `verify-ca`
    /// (the certificate chain is verified) or `verify-full` (the chain and the host name).
    public var tlsMode: String
    /// libpq's `sslrootcert`: a PEM file of the certificate authorities to trust when verifying; the system's
    /// trust store when `nil` (or `system`).
    public var tlsRootCertificates: String?

    public init(endpoint: Endpoint, username: String, password: String? = nil, database: String, tlsMode: String = "disable") {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
    }

    /// Parses a libpq-style URL: `postgres://user:password@host:port/database?sslmode=require`; a `host` query
    /// parameter starting with `/` names a unix-socket directory.
    public init(url string: String) throws {
        guard let components = URLComponents(string: string),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw StorageError(
                .invalidDatabaseURL,
                "DATABASE_URL is not a PostgreSQL URL. Use postgres://USER:PASSWORD@HOST:PORT/DATABASE.")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let port = components.port ?? Int(query["port"] ?? "") ?? 5432
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            endpoint = .unixSocket(path: "\(socketDirectory)/.s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost", port: port)
        }
        username = components.user.flatMap { $0.removingPercentEncoding } ?? query["user"] ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding } ?? query["password"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? (query["dbname"] ?? username) : (path.removingPercentEncoding ?? path)
        tlsMode = query["sslmode"] ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(tlsMode) else {
            throw StorageError(
                .invalidDatabaseURL,
                "DATABASE_URL has sslmode=\(tlsMode); use disable, allow, prefer, require, verify-ca or verify-full.")
        }
        if let root = query["sslrootcert"], !root.isEmpty, root != "system" {
            tlsRootCertificates = root
        }
        // Never silently weaker than asked: what verification needs must be there before anything connects.
        _ = try tlsConfiguration()
    }

    /// The TLS settings `sslmode` asks for; `nil` for `disable`.
    /// - Throws: ``StorageError`` `invalidDatabaseURL` when `sslrootcert` cannot be read.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard tlsMode != "disable" else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case "verify-full":
            configuration.certificateVerification = .fullVerification
        case "verify-ca":
            configuration.certificateVerification = .noHostnameVerification
        default:
            // libpq's require, prefer and allow encrypt without verifying the server: that is what they mean.
            configuration.certificateVerification = .none
        }
        if tlsMode.hasPrefix("verify-"), let path = tlsRootCertificates {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw StorageError(
                    .invalidDatabaseURL,
                    "DATABASE_URL's sslrootcert=\(path) cannot be read as PEM certificates (\(error)); sslmode=\(tlsMode) "
                        + "needs the certificate authority that signed the server's certificate.")
            }
        }
        return configuration
    }

    /// The same server, another database.
    public func with(database: String) -> DatabaseSettings {
        var copy = self
        copy.database = database
        return copy
    }

    /// A `PostgresClient` configuration for these settings.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .unixSocket(let path):
            // As libpq: a unix socket is local, and TLS does not apply to it.
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch (tlsMode, try tlsConfiguration()) {
                case (_, nil): .disable
                case ("allow", let tls?), ("prefer", let tls?): .prefer(tls)
                case (_, let tls?): .require(tls)
                }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = 16
        return configuration
    }

    /// A single connection's configuration for these settings (for a first check of the server).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS =
                switch (tlsMode, try tlsConfiguration()) {
                case (_, nil): .disable
                case ("allow", let tls?), ("prefer", let tls?): .prefer(try .init(configuration: tls))
                case (_, let tls?): .require(try .init(configuration: tls))
                }
            return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
    }

    /// The server and database, without credentials.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): "postgres://\(username)@\(host):\(port)/\(database)"
        case .unixSocket(let path): "postgres://\(username)@/\(database) (socket \(path))"
        }
    }
}
