import Foundation
import NIOCore
import Storage
import Testing

@testable import Backup

/// Client-side encryption against the real SeaweedFS: an encrypted set round-trips (backup → fresh database →
/// restore), stores no plaintext, and refuses a missing or wrong key with a message naming both key ids.
@Suite(.serialized) struct BackupEncryptionTests {
    static func key(_ seed: UInt8) throws -> BackupEncryptionKey {
        try BackupEncryptionKey(bytes: (0..<32).map { UInt8(truncatingIfNeeded: Int($0) * 31 + Int(seed)) })
    }

    static func bytes(_ stream: BackupByteStream) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in stream { bytes += chunk.readableBytesView }
        return bytes
    }

    @Test func anEncryptedSetRoundTripsAndStoresNoPlaintext() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let key = try Self.key(1)
        let (report, original) = try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let service = BackupFixtures.service(database, target, modelsDirectory: models.fixture.root, key: key)
            return (try await service.run(), try await BackupFixtures.checksums(database))
        }
        let manifestText = String(decoding: try await Self.bytes(try await target.get(BackupManifest.key(of: report.id))), as: UTF8.self)
        #expect(manifestText.contains(#""keyID" : "\#(key.id)""#))
        #expect(manifestText.contains("AES-256-GCM"))
        // Every stored object of the set is ciphertext: the header, never gzip's magic or a blob's own bytes.
        let stored = try await target.list(prefix: "sets/\(report.id)/").filter { !$0.key.hasSuffix("manifest.json") }
        let blobs = try await target.list(prefix: "blobs/")
        #expect(!stored.isEmpty && !blobs.isEmpty)
        #expect(blobs.allSatisfy { $0.key.hasPrefix("blobs/enc-\(key.id)/sha256-") })
        for object in stored + blobs {
            let bytes = try await Self.bytes(try await target.get(object.key))
            #expect(Array(bytes.prefix(8)) == Array("UAIBKE01".utf8), "\(object.key)")
        }
        let weights = try await Self.bytes(try await target.get("blobs/enc-\(key.id)/\(models.weights.fileName)"))
        #expect(!weights.contains(Array("GGUF".utf8)))

        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target, key: key)
            let verified = try await service.verify(id: report.id)
            #expect(verified.ok, "\(verified.failures)")
            #expect(verified.objects == report.objects)
            #expect(try await service.restore(id: report.id).rowsWritten > 0)
            #expect(try await BackupFixtures.checksums(database) == original)
        }
    }

    @Test func aWrongOrMissingKeyFailsClearlyAndATamperedObjectFailsVerify() async throws {
        let target = try await BackupFixtures.s3Target()
        let key = try Self.key(2)
        let other = try Self.key(3)
        try await TestDatabase.withFreshDatabase { database, _ in
            try await BackupFixtures.seed(database)
            let report = try await BackupFixtures.service(database, target, key: key).run()
            let before = try await BackupFixtures.checksums(database)

            let wrong = BackupFixtures.service(database, target, key: other)
            for attempt in ["verify", "restore"] {
                let error = await #expect(throws: BackupError.self, "\(attempt)") {
                    if attempt == "verify" { _ = try await wrong.verify(id: report.id) } else { _ = try await wrong.restore(id: report.id) }
                }
                #expect(error?.code == .encryptionKey)
                #expect(
                    error?.message == "Set \(report.id) was encrypted with key \(key.id); the configured key is \(other.id). "
                        + "Configure the key the set was written with (backups.encryption).")
            }
            let missing = await #expect(throws: BackupError.self) {
                _ = try await BackupFixtures.service(database, target).verify(id: report.id)
            }
            #expect(missing?.code == .encryptionKey)
            #expect(missing?.message.contains("no key is configured") == true)
            #expect(try await BackupFixtures.checksums(database) == before)

            // One flipped byte in a stored table: GCM refuses it, and verify names the object.
            let chunks = "sets/\(report.id)/tables/chunks.tar.gz"
            var bytes = try await Self.bytes(try await target.get(chunks))
            bytes[BackupCipher.headerSize + 100] ^= 0x40
            try await target.put(.single(ByteBuffer(bytes: bytes)), at: chunks, sizeHint: bytes.count)
            let verified = try await BackupFixtures.service(database, target, key: key).verify(id: report.id)
            #expect(verified.failures.count == 1)
            #expect(verified.failures.first?.hasPrefix("\(chunks): \(chunks) cannot be decrypted") == true, "\(verified.failures)")
        }
    }
}
