import Crypto
import Foundation

/// The 256-bit key that encrypts backup sets (AES-256-GCM, see ``BackupCipher``), read from an environment variable
/// or a file that the configuration names. The key is never written with the data, logged or shown: sets and
/// messages carry only its ``id``.
public struct BackupEncryptionKey: Sendable {
    let key: SymmetricKey
    /// The key's fingerprint: 16 hex digits of an HMAC of a fixed label under the key. It identifies the key a set
    /// was written with and reveals nothing about the key.
    public let id: String
    /// The ``id`` as 8 bytes, as object headers carry it.
    let idBytes: [UInt8]

    /// A key from its 32 bytes.
    /// - Throws: ``BackupError/Code/encryptionKey`` when there are not exactly 32.
    public init(bytes: some Collection<UInt8>) throws {
        guard bytes.count == 32 else {
            throw BackupError(
                .encryptionKey,
                "The backup key has \(bytes.count) bytes; it must have 32 (256 bits). Make one with `openssl rand -hex 32`.")
        }
        key = SymmetricKey(data: Array(bytes))
        let code = HMAC<SHA256>.authenticationCode(for: Array("unity-ai backup key id v1".utf8), using: key)
        idBytes = Array(code.prefix(8))
        id = idBytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A key written as 64 hex digits or as the base64 of 32 bytes (surrounding blanks ignored).
    ///
    /// - Parameters:
    ///   - source: Where the text came from (`the variable UNITY_AI_BACKUP_KEY`), for messages; never the key.
    public init(text: String, source: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.utf8.count == 64, let bytes = Self.hexBytes(trimmed) {
            try self.init(bytes: bytes)
        } else if let data = Data(base64Encoded: trimmed), data.count == 32 {
            try self.init(bytes: Array(data))
        } else {
            throw BackupError(
                .encryptionKey,
                "\(source) does not hold a 256-bit key: write it as 64 hex digits or as the base64 of 32 bytes "
                    + "(`openssl rand -hex 32` makes one).")
        }
    }

    /// The key the configuration names: from the environment variable `variable`, or from `file` (32 raw bytes, or
    /// the key as text). `nil` when neither is given: sets are then written unencrypted.
    /// - Throws: ``BackupError/Code/encryptionKey`` naming the variable or file (never the key) when it is unset,
    ///   unreadable or not a 256-bit key.
    public static func load(
        variable: String?, file: String?, environment: [String: String]
    ) throws -> BackupEncryptionKey? {
        if let variable {
            guard let text = environment[variable], !text.isEmpty else {
                throw BackupError(
                    .encryptionKey,
                    "backups.encryption.key_env names \(variable), which is not set: export the backup key in it "
                        + "(64 hex digits; `openssl rand -hex 32` makes one).")
            }
            return try BackupEncryptionKey(text: text, source: "The variable \(variable)")
        }
        guard let file else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BackupError(
                .encryptionKey,
                "Cannot read the backup key file '\(file)' (backups.encryption.key_file): check that it exists and "
                    + "that the appliance's user may read it.")
        }
        if data.count == 32 { return try BackupEncryptionKey(bytes: Array(data)) }
        return try BackupEncryptionKey(text: String(decoding: data, as: UTF8.self), source: "The key file '\(file)'")
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }
}
