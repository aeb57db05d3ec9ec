import Foundation
import NIOCore
import Testing

@testable import Backup

/// The segmented AES-256-GCM format, without I/O: round trips of every shape of size, and each way of damaging an
/// object (altered, truncated, reordered, another key) failing clearly.
@Suite struct BackupCipherTests {
    /// The key of bytes 0…31.
    static func key() throws -> BackupEncryptionKey { try BackupEncryptionKey(bytes: (0..<32).map { UInt8($0) }) }
    /// Another key: bytes 255…224.
    static func otherKey() throws -> BackupEncryptionKey { try BackupEncryptionKey(bytes: (0..<32).map { UInt8(255 - $0) }) }

    /// `bytes` as a stream of chunks of `chunk` bytes.
    static func stream(_ bytes: [UInt8], chunk: Int) -> BackupByteStream {
        let chunks = stride(from: 0, to: bytes.count, by: max(1, chunk)).map {
            ByteBuffer(bytes: bytes[$0..<min($0 + chunk, bytes.count)])
        }
        return BackupByteStream { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
    }

    static func collect(_ stream: BackupByteStream) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in stream { bytes += chunk.readableBytesView }
        return bytes
    }

    static func noise(_ count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static let segment = BackupCipher.segmentSize

    @Test(arguments: [0, 1, 1000, segment - 1, segment, segment + 1, 2 * segment + 5])
    func roundTripsAndHasTheAnnouncedSize(size: Int) async throws {
        let plain = Self.noise(size)
        let sealed = try await Self.collect(BackupCipher.encrypt(Self.stream(plain, chunk: 65_537), key: try Self.key()))
        #expect(sealed.count == BackupCipher.encryptedSize(plainSize: size))
        #expect(Array(sealed.prefix(8)) == Array("UAIBKE01".utf8))
        if size >= 32 { #expect(!sealed.contains(plain.prefix(32))) }
        // Any chunking of the stored bytes opens the same.
        for chunk in [1 << 20, 4097] {
            let opened = try await Self.collect(BackupCipher.decrypt(Self.stream(sealed, chunk: chunk), key: try Self.key(), name: "o"))
            #expect(opened == plain)
        }
    }

    @Test func twoEncryptionsOfTheSameBytesDiffer() async throws {
        let plain = Self.noise(100)
        let first = try await Self.collect(BackupCipher.encrypt(Self.stream(plain, chunk: 10), key: try Self.key()))
        let second = try await Self.collect(BackupCipher.encrypt(Self.stream(plain, chunk: 10), key: try Self.key()))
        #expect(first != second)
    }

    /// Two segments and a short third one, sealed.
    static func sealedObject() async throws -> (plain: [UInt8], sealed: [UInt8]) {
        let plain = noise(2 * segment + 100)
        return (plain, try await collect(BackupCipher.encrypt(stream(plain, chunk: 1 << 16), key: try key())))
    }

    static func expectCorrupt(_ bytes: [UInt8], _ comment: Comment) async throws {
        let key = try key()
        let error = await #expect(throws: BackupError.self, comment) {
            _ = try await collect(BackupCipher.decrypt(stream(bytes, chunk: 1 << 16), key: key, name: "sets/x/tables/t.tar.gz"))
        }
        #expect(error?.code == .corrupt, comment)
        #expect(error?.message.hasPrefix("sets/x/tables/t.tar.gz") == true, comment)
    }

    @Test func alteredTruncatedOrReorderedObjectsFailToOpen() async throws {
        let (_, sealed) = try await Self.sealedObject()
        let segment = Self.segment + BackupCipher.tagSize
        let header = BackupCipher.headerSize
        var flipped = sealed
        flipped[header + 10] ^= 0x01
        try await Self.expectCorrupt(flipped, "a flipped byte")
        var flippedHeader = sealed
        flippedHeader[20] ^= 0x01  // in the salt
        try await Self.expectCorrupt(flippedHeader, "a flipped salt byte")
        try await Self.expectCorrupt(Array(sealed.dropLast(header)), "the last segment cut short")
        try await Self.expectCorrupt(Array(sealed.prefix(header + 2 * segment)), "the last segment dropped")
        try await Self.expectCorrupt(Array(sealed.prefix(header + segment)), "the last two segments dropped")
        try await Self.expectCorrupt(Array(sealed.prefix(header)), "only the header")
        try await Self.expectCorrupt(Array(sealed.prefix(20)), "half a header")
        let reordered = Array(sealed[0..<header]) + Array(sealed[(header + segment)..<(header + 2 * segment)])
            + Array(sealed[header..<(header + segment)]) + Array(sealed[(header + 2 * segment)...])
        try await Self.expectCorrupt(reordered, "two segments swapped")
        try await Self.expectCorrupt(Array("not encrypted at all, just text".utf8), "plaintext")
    }

    @Test func anotherKeyIsNamedByItsIdAndNeverShown() async throws {
        let (_, sealed) = try await Self.sealedObject()
        let (key, otherKey) = (try Self.key(), try Self.otherKey())
        let error = await #expect(throws: BackupError.self) {
            _ = try await Self.collect(BackupCipher.decrypt(Self.stream(sealed, chunk: 1 << 16), key: otherKey, name: "o"))
        }
        #expect(error?.code == .encryptionKey)
        #expect(error?.message.contains(key.id) == true && error?.message.contains(otherKey.id) == true)
    }

    @Test func keysAreReadAsHexOrBase64AndIdentifiedWithoutRevealingThem() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 % 256) }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let fromHex = try BackupEncryptionKey(text: hex + "\n", source: "test")
        let fromBase64 = try BackupEncryptionKey(text: Data(bytes).base64EncodedString(), source: "test")
        let fromUpperHex = try BackupEncryptionKey(text: hex.uppercased(), source: "test")
        #expect(fromHex.id == fromBase64.id && fromHex.id == fromUpperHex.id)
        #expect(fromHex.id.count == 16 && !hex.contains(fromHex.id))
        #expect(fromHex.id != (try Self.key()).id)
        for bad in ["", "abc", String(hex.dropLast()), hex + "00", Data(bytes.dropLast()).base64EncodedString(), "zz" + hex.dropFirst(2)] {
            let error = #expect(throws: BackupError.self) { try BackupEncryptionKey(text: bad, source: "The variable K") }
            #expect(error?.code == .encryptionKey)
            #expect(error?.message.hasPrefix("The variable K does not hold a 256-bit key") == true)
            if bad.count > 8 { #expect(error?.message.contains(bad) == false) }
        }
    }

    @Test func loadingNamesTheVariableOrFileAndNeverTheKey() throws {
        #expect(try BackupEncryptionKey.load(variable: nil, file: nil, environment: [:]) == nil)
        let missing = #expect(throws: BackupError.self) {
            try BackupEncryptionKey.load(variable: "MY_BACKUP_KEY", file: nil, environment: [:])
        }
        #expect(missing?.message.contains("MY_BACKUP_KEY, which is not set") == true)
        let secret = String(repeating: "ab", count: 32)
        let loaded = try BackupEncryptionKey.load(variable: "K", file: nil, environment: ["K": secret])
        #expect(loaded?.id == (try BackupEncryptionKey(text: secret, source: "")).id)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data((0..<32).map { UInt8($0) }).write(to: file)
        #expect(try BackupEncryptionKey.load(variable: nil, file: file.path, environment: [:])?.id == (try Self.key()).id)
        let unreadable = #expect(throws: BackupError.self) {
            try BackupEncryptionKey.load(variable: nil, file: "/nonexistent/key", environment: [:])
        }
        #expect(unreadable?.message.contains("'/nonexistent/key'") == true)
    }
}
