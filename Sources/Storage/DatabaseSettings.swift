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
    /// `disable`, `prefer` or `require`, as libpq's `sslmode`.
    public var tlsMode: String

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
                "DATABASE_URL has sslmode=\(tlsMode); use disable, prefer, require or verify-full.")
        }
    }

    /// The same server, another database.
    public func with(database: String) -> DatabaseSettings {
        var copy = self
        copy.database = database
        return copy
    }

    /// A `PostgresClient` configuration for these settings.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            if tlsMode != "verify-full" { tlsConfiguration.certificateVerification = .none }
            let tls: PostgresClient.Configuration.TLS =
                switch tlsMode {
                case "disable": .disable
                case "allow", "prefer": .prefer(tlsConfiguration)
                default: .require(tlsConfiguration)
                }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = 16
        return configuration
    }

    /// The server and database, without credentials.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): "postgres://\(username)@\(host):\(port)/\(database)"
        case .unixSocket(let path): "postgres://\(username)@/\(database) (socket \(path))"
        }
    }
}
