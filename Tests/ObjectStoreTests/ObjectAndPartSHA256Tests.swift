import Crypto
import Testing

@testable import ObjectStore

/// The one-pass hasher of a multipart file upload against swift-crypto: the whole object's and every part's SHA-256,
/// on the hardware path (when the CPU has the SHA extensions) and on the fallback, for lengths and splits that do and
/// do not line up with 64-byte blocks.
@Suite struct ObjectAndPartSHA256Tests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func parts(of count: Int, size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }

    @Test(arguments: [
        (0, 64), (1, 64), (55, 64), (56, 64), (63, 64), (64, 64), (65, 64), (119, 64), (120, 64), (1000, 64),
        (1000, 100), (4096, 1024), (5000, 333), (70_000, 65_536),
    ])
    func matchesSwiftCryptoForTheObjectAndEveryPart(count: Int, partSize: Int) {
        let data = Self.bytes(count, seed: UInt64(count * 31 + partSize))
        for hardware in [SHA256Words.hardwareAvailable, false] {
            var hasher = ObjectAndPartSHA256(hardware: hardware)
            for part in Self.parts(of: count, size: partSize) {
                // Fed in uneven pieces, as reads may come.
                var start = part.lowerBound
                var piece = 1
                while start < part.upperBound {
                    let end = min(part.upperBound, start + piece)
                    data[start..<end].withUnsafeBytes { hasher.update($0) }
                    start = end
                    piece = piece * 3 + 5
                }
                #expect(hasher.finishPart() == Array(SHA256.hash(data: data[part])), "part \(part), hardware \(hardware)")
            }
            #expect(hasher.finishObject() == Array(SHA256.hash(data: data)), "\(count) bytes, hardware \(hardware)")
        }
    }

    @Test func aBlockHasherHashesLikeSwiftCryptoAtEveryLength() {
        let data = Self.bytes(300, seed: 7)
        for count in 0...data.count {
            var hasher = BlockSHA256()
            data[..<count].withUnsafeBytes { hasher.update($0) }
            #expect(hasher.finalize() == Array(SHA256.hash(data: data[..<count])), "\(count) bytes")
        }
    }

    @Test func theKnownAnswerOfABC() {
        var hasher = BlockSHA256()
        Array("abc".utf8).withUnsafeBytes { hasher.update($0) }
        #expect(SigV4Signer.hex(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

extension ObjectAndPartSHA256Tests {
    @Test func oneShotDigestsMatchSwiftCryptoAtEveryLengthAndPrefix() {
        let data = Self.bytes(300, seed: 9)
        for count in 0...data.count {
            let digest = data[..<count].withUnsafeBytes { SHA256Words.digest(of: $0) }
            #expect(digest == Array(SHA256.hash(data: data[..<count])), "\(count) bytes")
        }
        // A state that already holds two blocks, finished with the rest of the message.
        var state = SHA256Words()
        data.withUnsafeBytes { if let base = $0.baseAddress { state.compress(base, count: 2) } }
        let digest = [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            data[128...].withUnsafeBytes { rest in
                if let base = buffer.baseAddress { state.finish(rest, prefixLength: 128, into: base) }
            }
            count = 32
        }
        #expect(digest == Array(SHA256.hash(data: data)))
    }
}
