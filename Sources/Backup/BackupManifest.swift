import Foundation

/// `sets/<id>/manifest.json`: written last, so a set with it is complete. Lists every object the set needs with its
/// SHA-256 and size, the schema version (the highest applied migration), the appliance version and row counts.
public struct BackupManifest: Codable, Sendable, Hashable {
    /// The version of this format.
    public static let currentFormat = 1

    /// One object of the set.
    public struct Object: Codable, Sendable, Hashable {
        /// `table`, `blob` (an Ollama blob, shared by sets: `blobs/sha256-<hex>`) or `modelManifest`.
        public var kind: String
        /// The key relative to the target.
        public var key: String
        /// Lowercase hex SHA-256 of the object's bytes.
        public var sha256: String
        /// Size in bytes.
        public var size: Int
        /// For tables: the table's name.
        public var table: String?
        /// For tables: the row count.
        public var rows: Int?
        /// For model manifests: the model's name.
        public var model: String?
    }

    /// ``currentFormat`` when written.
    public var format: Int
    /// The set's id (see ``BackupSetID``).
    public var id: String
    /// When the run started.
    public var created: Date
    /// The highest migration applied when the set was written.
    public var schemaVersion: Int
    /// The version of the appliance that wrote the set.
    public var applianceVersion: String
    /// Whether `chunk_embeddings` is in the set.
    public var embeddings: Bool
    /// Rows per table.
    public var tables: [String: Int]
    /// Every object the set needs, shared blobs included.
    public var objects: [Object]
    /// How the set's objects are encrypted; `nil` for a set written without encryption. The manifest itself is not
    /// encrypted: it holds names, sizes, hashes and row counts, no data.
    public var encryption: Encryption?

    /// Client-side encryption of a set. With it, each object's ``Object/sha256`` and ``Object/size`` are those of the
    /// plaintext (checked after decryption); the stored object is larger (see ``BackupCipher``).
    public struct Encryption: Codable, Sendable, Hashable {
        /// `AES-256-GCM`.
        public var algorithm: String
        /// The ``BackupEncryptionKey/id`` of the key the set was written with: a fingerprint, never the key.
        public var keyID: String
        /// Plaintext bytes per sealed segment.
        public var segmentSize: Int
    }

    /// The key of the manifest of set `id`.
    public static func key(of id: String) -> String { "sets/\(id)/manifest.json" }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// Set ids: `20261129T233000Z-1a2b3c` (UTC time of the run, then 24 random bits), so they sort by time.
public enum BackupSetID {
    static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter
    }

    /// A new id for a run at `date`.
    public static func make(date: Date) -> String {
        let suffix = String(UInt32.random(in: 0..<(1 << 24)), radix: 16)
        return formatter().string(from: date) + "-" + String(repeating: "0", count: 6 - suffix.count) + suffix
    }

    /// The time in `id`; `nil` when it is not an id.
    public static func date(of id: String) -> Date? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, parts[1].count == 6, parts[1].allSatisfy(\.isHexDigit) else { return nil }
        return formatter().date(from: String(parts[0]))
    }
}
