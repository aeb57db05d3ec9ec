import Crypto
import Foundation
import Logging
import PostgresNIO

/// API keys: 32 random bytes behind the recognisable prefix `uai_`, stored only as SHA-256 hashes.
///
/// A key is shown once, when it is created. Its id (the 12 characters after the prefix) names it in listings,
/// logs and `keys revoke`; the id alone does not authenticate.
public struct APIKeyStore: Sendable {
    let client: Database
    let logger: Logger

    /// What every key starts with, so that a leaked key is recognisable (secret scanners, logs).
    public static let prefix = "uai_"

    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A new key: `key` is the secret, shown once.
    public struct CreatedKey: Sendable, Encodable {
        public var id: String
        public var key: String
        /// The key's tenant; `nil` for an admin key.
        public var tenant: String?
        public var admin: Bool
    }

    /// A key as listed (never the secret).
    public struct KeyInfo: Sendable, Encodable, Equatable {
        public var id: String
        public var tenant: String?
        public var admin: Bool
        public var createdAt: Date
        public var revokedAt: Date?
        public var lastUsedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, tenant, admin, createdAt = "created_at", revokedAt = "revoked_at", lastUsedAt = "last_used_at"
        }
    }

    /// Who a valid key is.
    public struct Identity: Sendable, Equatable {
        public var keyID: String
        /// `nil` for an admin key.
        public var tenant: String?
        public var tenantID: Int64?
    }

    /// Creates a key for `tenant` (which must exist), or an admin key (`tenant` nil).
    public func create(tenant: String?) async throws -> CreatedKey {
        let (key, id) = Self.generate()
        let digest = Self.digest(key)
        if let tenant {
            try TenantStore.validate(tenant)
            let rows = try await client.query(
                """
                INSERT INTO api_keys (id, tenant_id, is_admin, key_sha256)
                SELECT \(id), t.id, false, \(digest) FROM tenants t WHERE t.name = \(tenant)
                RETURNING id
                """, logger: logger)
            guard try !rows.decode(String.self).isEmpty else {
                throw StorageError(
                    .tenantNotFound, "There is no tenant '\(tenant)'. Create it first: unity-ai tenants create \(tenant)")
            }
        } else {
            try await client.query(
                "INSERT INTO api_keys (id, tenant_id, is_admin, key_sha256) VALUES (\(id), NULL, true, \(digest))",
                logger: logger)
        }
        return CreatedKey(id: id, key: key, tenant: tenant, admin: tenant == nil)
    }

    /// Every key, newest first, revoked ones included.
    public func list() async throws -> [KeyInfo] {
        let rows = try await client.query(
            """
            SELECT k.id, t.name, k.is_admin, k.created_at, k.revoked_at, k.last_used_at
            FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
            ORDER BY k.created_at DESC, k.id
            """, logger: logger)
        return try rows.decode((String, String?, Bool, Date, Date?, Date?).self).map {
            KeyInfo(id: $0.0, tenant: $0.1, admin: $0.2, createdAt: $0.3, revokedAt: $0.4, lastUsedAt: $0.5)
        }
    }

    /// Revokes the key `id`; requests with it fail from now on. Throws `notFound` for an unknown id.
    public func revoke(id: String) async throws {
        guard Self.isWellFormedID(id) else {
            throw StorageError(.invalidInput, "'\(id.prefix(40))' is not a key id: ids are the 12 characters after 'uai_' that `unity-ai keys list` shows.")
        }
        let rows = try await client.query(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(id) RETURNING id", logger: logger)
        guard try !rows.decode(String.self).isEmpty else {
            throw StorageError(.notFound, "There is no key '\(id)'. `unity-ai keys list` shows the keys.")
        }
    }

    /// The identity of `key`, or `nil` when it is unknown, malformed or revoked. Marks the key used (at most once a
    /// minute, so a busy key does not write on every request).
    public func authenticate(_ key: String) async throws -> Identity? {
        guard Self.isWellFormedKey(key) else { return nil }
        let rows = try await client.query(
            """
            WITH found AS (
                SELECT k.id, k.tenant_id, t.name, k.last_used_at
                FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
                WHERE k.key_sha256 = \(Self.digest(key)) AND k.revoked_at IS NULL
            ), touched AS (
                -- Written only when stale: a busy key is read on every request, not rewritten.
                UPDATE api_keys SET last_used_at = now()
                WHERE id IN (SELECT id FROM found WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            )
            SELECT id, tenant_id, name FROM found
            """, logger: logger)
        for (id, tenantID, tenant) in try rows.decode((String, Int64?, String?).self) {
            return Identity(keyID: id, tenant: tenant, tenantID: tenantID)
        }
        return nil
    }

    // MARK: Key material

    static let keyCharacters = 43  // base64url of 32 bytes, unpadded

    /// A new key and its id.
    static func generate() -> (key: String, id: String) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let body = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (prefix + body, String(body.prefix(12)))
    }

    static func digest(_ key: String) -> Data { Data(SHA256.hash(data: Data(key.utf8))) }

    static func isWellFormedKey(_ key: String) -> Bool {
        key.hasPrefix(prefix) && key.utf8.count == prefix.utf8.count + keyCharacters
            && key.utf8.dropFirst(prefix.utf8.count).allSatisfy(isBase64URL)
    }

    static func isWellFormedID(_ id: String) -> Bool { id.utf8.count == 12 && id.utf8.allSatisfy(isBase64URL) }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
