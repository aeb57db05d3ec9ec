import Crypto
import FaultInjection
import Foundation
import NIOCore
import ObjectStore
import Testing

/// `S3Client.uploadFile`: a file read once into reused part buffers, its parts and its whole hashed in one pass. It
/// stores the same bytes with the same checksums as a streamed upload; a file that does not hash to the expected
/// SHA-256 is never stored; a failed part aborts the upload as for streams.
@Suite(.serialized) struct FileUploadTests {
    /// Writes `bytes` to a new temporary file; the caller removes it.
    static func file(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("file-upload-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return path
    }

    @Test func uploadsAFileInPartsWithTheirChecksumsAndTheWholeHash() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        // Parts of 8, 8 and 4 MiB plus 3 bytes: the last part does not end on a 64-byte block.
        let bytes = testBytes(count: (20 << 20) + 3, seed: 40)
        let path = try Self.file(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key = s3.key("file.bin")

        let stored = try await client.uploadFile(
            at: path, to: key, metadata: ["kind": "file"], expectingSHA256: sha256Hex(bytes).uppercased())
        #expect(stored.partCount == 3)
        #expect(stored.size == bytes.count)
        #expect(stored.contentSHA256 == sha256Hex(bytes))
        let partDigests = [0..<(8 << 20), (8 << 20)..<(16 << 20), (16 << 20)..<bytes.count].flatMap {
            Array(SHA256.hash(data: bytes[$0]))
        }
        let composite = Data(SHA256.hash(data: partDigests)).base64EncodedString() + "-3"
        #expect(stored.checksumSHA256 == composite)
        let info = try #require(try await client.head(key))
        #expect(info.checksumSHA256 == composite)
        #expect(info.metadata["kind"] == "file")
        #expect(sha256Hex(try await client.get(key).body.bytes()) == sha256Hex(bytes))
        #expect(try await client.uploadsLeft(prefix: s3.prefix) == 0)
    }

    @Test func aFileOfOnePartIsOnePutAndAnEmptyFileIsStoredEmpty() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        for (name, bytes) in [("one-part", testBytes(count: 8 << 20, seed: 41)), ("empty", [])] {
            let path = try Self.file(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let stored = try await client.uploadFile(at: path, to: s3.key(name), expectingSHA256: sha256Hex(bytes))
            #expect(stored.partCount == nil, "\(name)")
            #expect(stored.contentSHA256 == sha256Hex(bytes), "\(name)")
            #expect(try await client.get(s3.key(name)).body.bytes() == bytes, "\(name)")
        }
    }

    @Test(arguments: [8 << 20, 20 << 20])
    func aFileThatDoesNotHashToItsNameIsNeverStored(size: Int) async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let bytes = testBytes(count: size, seed: 42)
        let path = try Self.file(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key = s3.key("damaged-\(size)")
        var damaged = bytes
        damaged[size / 2] ^= 1
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.uploadFile(at: path, to: key, expectingSHA256: sha256Hex(damaged))
        }
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains(sha256Hex(damaged)))
        try await s3.expectNothingLeft(at: key)
    }

    @Test func aMissingFileIsAClearErrorAndSendsNothing() async throws {
        let s3 = try await S3TestEnvironment.make()
        let error = try await #require(throws: ObjectStoreError.self) {
            try await s3.client().uploadFile(at: "/nonexistent/\(UUID().uuidString)", to: s3.key("missing"))
        }
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("cannot be opened"))
        try await s3.expectNothingLeft(at: s3.key("missing"))
    }

    @Test(arguments: [
        ("a 500 on every try", FaultInjectingProxy.Action.respond(status: 500, code: "InternalError")),
        ("a reset on every try", .reset),
    ])
    func aFailedPartAbortsTheUpload(_ name: String, _ fault: FaultInjectingProxy.Action) async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("aborted-file")
        let path = try Self.file(testBytes(count: 20 << 20, seed: 43))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: { $0.partNumber == 2 ? fault : .forward }) {
            proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            await #expect(throws: ObjectStoreError.self, "\(name)") { try await client.uploadFile(at: path, to: key) }
            #expect(proxy.requests.contains { $0.method == "DELETE" && $0.uri.contains("uploadId=") }, "\(name)")
        }
        try await s3.expectNothingLeft(at: key)
    }

    @Test func partsReuseTheirBuffersWithinTheBoundAndAreRetriedWithTheirBytes() async throws {
        let s3 = try await S3TestEnvironment.make()
        let bytes = testBytes(count: 7 * (5 << 20) + 11, seed: 44)
        let path = try Self.file(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Part 3 fails once: its retry must send the same bytes although later parts reuse buffers meanwhile.
        let rule: FaultInjectingProxy.Rule = { request in
            if request.partNumber == 3 && request.attempt == 1 { return .respond(status: 500, code: "InternalError") }
            return request.partNumber != nil ? .delay(.milliseconds(200)) : .forward
        }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: rule) { proxy in
            var configuration = s3.configuration(endpoint: proxy.endpoint)
            configuration.partSize = 5 << 20
            configuration.partsInFlight = 2
            let client = try S3Client(bucket: s3.bucket, configuration: configuration)
            let stored = try await client.uploadFile(at: path, to: s3.key("reused"), expectingSHA256: sha256Hex(bytes))
            #expect(stored.partCount == 8)
            #expect(proxy.maximumConcurrentParts <= 2)
        }
        #expect(try await s3.client().get(s3.key("reused")).body.bytes() == bytes)
    }
}
