import Crypto
import Foundation
import NIOCore

/// Client-side encryption of backup objects: AES-256-GCM in segments, streamed, so memory holds one segment
/// whatever the object's size.
///
/// An encrypted object is a 48-byte header — the magic `UAIBKE01`, the key's 8-byte ``BackupEncryptionKey/id``,
/// a random 32-byte salt — then segments of ``segmentSize`` bytes of plaintext (the last one shorter, possibly empty),
/// each sealed with its 16-byte tag. Each object gets its own key, derived from the backup key and its salt with
/// HKDF-SHA256, so nonces never repeat across objects; segment `i` uses the nonce `i` (12 bytes, big-endian), and
/// authenticates the header and whether it is the last segment. Reordered, dropped, truncated or altered segments
/// fail to open (the STREAM construction).
enum BackupCipher {
    /// Plaintext bytes per segment.
    static let segmentSize = 1 << 20
    static let magic = Array("UAIBKE01".utf8)
    static let headerSize = 48
    static let tagSize = 16

    /// The stored size of `plainSize` bytes of plaintext.
    static func encryptedSize(plainSize: Int) -> Int {
        let segments = max(1, (plainSize + segmentSize - 1) / segmentSize)
        return headerSize + plainSize + tagSize * segments
    }

    /// `stream`, encrypted under `key`.
    static func encrypt(_ stream: BackupByteStream, key: BackupEncryptionKey) -> BackupByteStream {
        let pump = SegmentPump(stream.makeAsyncIterator())
        let salt = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
        let header = magic + key.idBytes + salt
        let objectKey = derive(key, salt: salt)
        return BackupByteStream {
            try await pump.next { pump in
                guard pump.started else {
                    pump.started = true
                    return ByteBuffer(bytes: header)
                }
                guard !pump.finished else { return nil }
                try await pump.fill(moreThan: segmentSize)
                let final = pump.buffer.count <= segmentSize
                let count = final ? pump.buffer.count : segmentSize
                let sealed = try seal(
                    pump.buffer.prefix(count), key: objectKey, index: try pump.nextIndex(), header: header, final: final)
                pump.buffer.removeFirst(count)
                pump.finished = final
                return ByteBuffer(bytes: sealed)
            }
        }
    }

    /// `stream`, decrypted with `key`; the stream fails with ``BackupError/Code/encryptionKey`` when the object was
    /// encrypted with another key, and with ``BackupError/Code/corrupt`` when any byte was altered or the object was
    /// cut short.
    static func decrypt(_ stream: BackupByteStream, key: BackupEncryptionKey, name: String) -> BackupByteStream {
        let pump = SegmentPump(stream.makeAsyncIterator())
        return BackupByteStream {
            try await pump.next { pump in
                if pump.header == nil {
                    try await pump.fill(moreThan: headerSize - 1)
                    let header = Array(pump.buffer.prefix(headerSize))
                    guard header.count == headerSize, header.starts(with: magic) else {
                        throw BackupError(.corrupt, "\(name) is not an encrypted backup object (its header is wrong).")
                    }
                    let keyID = header[8..<16].map { String(format: "%02x", $0) }.joined()
                    guard keyID == key.id else {
                        throw BackupError(
                            .encryptionKey,
                            "\(name) was encrypted with key \(keyID); the configured key is \(key.id). Configure the key "
                                + "the set was written with.")
                    }
                    pump.buffer.removeFirst(headerSize)
                    pump.header = header
                    pump.objectKey = derive(key, salt: Array(header[16..<48]))
                }
                guard !pump.finished, let header = pump.header, let objectKey = pump.objectKey else { return nil }
                try await pump.fill(moreThan: segmentSize + tagSize)
                let final = pump.buffer.count <= segmentSize + tagSize
                let count = final ? pump.buffer.count : segmentSize + tagSize
                guard count >= tagSize else {
                    throw BackupError(.corrupt, "\(name) is cut short: its last segment is incomplete.")
                }
                let opened: [UInt8]
                do {
                    opened = try open(
                        pump.buffer.prefix(count), key: objectKey, index: try pump.nextIndex(), header: header,
                        final: final)
                } catch {
                    throw BackupError(
                        .corrupt,
                        "\(name) cannot be decrypted: its bytes were altered, reordered or cut short (the key is the "
                            + "set's).")
                }
                pump.buffer.removeFirst(count)
                pump.finished = final
                return ByteBuffer(bytes: opened)
            }
        }
    }

    static func derive(_ key: BackupEncryptionKey, salt: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key.key, salt: salt, info: Array("unity-ai backup object v1".utf8), outputByteCount: 32)
    }

    static func nonce(_ index: UInt64) throws -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: index.bigEndian) { bytes += $0 }
        return try AES.GCM.Nonce(data: bytes)
    }

    static func seal(_ plain: ArraySlice<UInt8>, key: SymmetricKey, index: UInt64, header: [UInt8], final: Bool)
        throws -> [UInt8]
    {
        let box = try AES.GCM.seal(plain, using: key, nonce: try nonce(index), authenticating: header + [final ? 1 : 0])
        return Array(box.ciphertext) + Array(box.tag)
    }

    static func open(_ sealed: ArraySlice<UInt8>, key: SymmetricKey, index: UInt64, header: [UInt8], final: Bool)
        throws -> [UInt8]
    {
        let box = try AES.GCM.SealedBox(
            nonce: try nonce(index), ciphertext: sealed.dropLast(tagSize), tag: sealed.suffix(tagSize))
        return Array(try AES.GCM.open(box, using: key, authenticating: header + [final ? 1 : 0]))
    }
}

/// The state of one encrypting or decrypting stream, consumed by one task at a time (a stream's iterator is).
private final class SegmentPump: @unchecked Sendable {
    var source: BackupByteStream.AsyncIterator
    var buffer: [UInt8] = []
    var sourceEnded = false
    var started = false
    var finished = false
    var index: UInt64 = 0
    var header: [UInt8]?
    var objectKey: SymmetricKey?

    init(_ source: BackupByteStream.AsyncIterator) { self.source = source }

    func next(_ body: (SegmentPump) async throws -> ByteBuffer?) async throws -> ByteBuffer? { try await body(self) }

    /// Reads from the source until the buffer holds more than `count` bytes or the source ends.
    func fill(moreThan count: Int) async throws {
        while !sourceEnded, buffer.count <= count {
            if let chunk = try await source.next() {
                buffer += chunk.readableBytesView
            } else {
                sourceEnded = true
            }
        }
    }

    /// The next segment's index.
    func nextIndex() throws -> UInt64 {
        let (next, overflow) = index.addingReportingOverflow(1)
        guard !overflow else { throw BackupError(.corrupt, "The object has more segments than a nonce can count.") }
        defer { index = next }
        return index
    }
}
