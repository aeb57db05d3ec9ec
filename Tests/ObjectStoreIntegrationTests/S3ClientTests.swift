import Foundation
import NIOCore
import ObjectStore
import Testing

/// Single-request operations against the real server: put, head, get (whole and ranged), list with pagination,
/// delete one and many, odd keys, and the errors a user meets first.
@Suite struct S3ClientTests {
    @Test func putsHeadsAndGetsAnObjectWithItsMetadata() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("hello.txt")
        let bytes = Array("hello, object store\n".utf8)

        let stored = try await client.put(
            ByteBuffer(bytes: bytes), at: key, contentType: "text/plain", metadata: ["Origin": "unity-ai", "set": "7"])
        #expect(stored.size == bytes.count)
        #expect(stored.etag == md5Hex(bytes))
        #expect(stored.partCount == nil)

        let info = try #require(try await client.head(key))
        #expect(info.size == bytes.count)
        #expect(info.etag == stored.etag)
        #expect(info.contentType == "text/plain")
        #expect(info.metadata == ["origin": "unity-ai", "set": "7"])
        #expect(info.checksumSHA256 == stored.checksumSHA256)
        let modified = try #require(info.lastModified)
        #expect(abs(modified.timeIntervalSinceNow) < 300)

        let download = try await client.get(key)
        #expect(download.info.size == bytes.count)
        #expect(try await download.body.bytes() == bytes)
    }

    @Test func headOfAMissingObjectIsNilAndGetFailsWithNotFound() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        #expect(try await client.head(s3.key("missing")) == nil)
        let error = try await #require(throws: ObjectStoreError.self) { try await client.get(s3.key("missing")) }
        #expect(error.code == .notFound)
        #expect(error.message.contains(s3.key("missing")))
    }

    @Test func readsRangesOfAnObject() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("ranged.bin")
        let bytes = testBytes(count: 100_000, seed: 1)
        try await client.put(ByteBuffer(bytes: bytes), at: key)

        let middle = try await client.get(key, range: 1000...1999)
        #expect(middle.info.range == 1000...1999)
        #expect(middle.info.size == bytes.count)
        #expect(try await middle.body.bytes() == Array(bytes[1000...1999]))

        let first = try await client.get(key, range: 0...0)
        #expect(try await first.body.bytes() == [bytes[0]])

        // A range past the end is cut at the end; one that starts past it is refused.
        let tail = try await client.get(key, range: 99_990...200_000)
        #expect(try await tail.body.bytes() == Array(bytes[99_990...]))
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.get(key, range: 200_000...200_010)
        }
        #expect(error.code == .invalidRange)
    }

    @Test func storesAndReadsAnEmptyObject() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("empty")
        try await client.put(ByteBuffer(), at: key)
        #expect(try await client.head(key)?.size == 0)
        #expect(try await client.get(key).body.bytes() == [])
    }

    @Test(arguments: [
        "with space/ünïcødé/file.txt", "plus+equals=amp&query?hash#percent%25", "double//slash", "trailing space ",
        "tilde~star*(paren)'quote'!",
    ])
    func roundTripsKeysThatNeedEncoding(_ name: String) async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key(name)
        try await client.put(ByteBuffer(string: name), at: key)
        #expect(try await client.head(key)?.size == name.utf8.count)
        #expect(try await client.get(key).body.bytes() == Array(name.utf8))
        // SeaweedFS keeps keys as filer paths and lists `a//b` as `a/b` (AWS keeps it); get and head find either.
        let listed = try await client.allObjects(prefix: s3.prefix).map(\.key)
        #expect(listed == [key] || listed == [key.replacingOccurrences(of: "//", with: "/")])
        try await client.delete(key)
        #expect(try await client.head(key) == nil)
    }

    @Test func listsManyKeysPageByPage() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let keys = (0..<250).map { s3.key(String(format: "k%04d", $0)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, key) in keys.enumerated() {
                if index >= 16 { try await group.next() }
                group.addTask { try await client.put(ByteBuffer(string: key), at: key) }
            }
            try await group.waitForAll()
        }

        let firstPage = try await client.listObjectsPage(prefix: s3.prefix, maxKeys: 100)
        #expect(firstPage.objects.map(\.key) == Array(keys[0..<100]))
        let token = try #require(firstPage.nextContinuationToken)
        let secondPage = try await client.listObjectsPage(prefix: s3.prefix, continuationToken: token, maxKeys: 100)
        #expect(secondPage.objects.map(\.key) == Array(keys[100..<200]))
        #expect(secondPage.nextContinuationToken != nil)

        var listed: [ObjectSummary] = []
        for try await object in client.listObjects(prefix: s3.prefix, pageSize: 100) { listed.append(object) }
        #expect(listed.map(\.key) == keys)
        #expect(listed.allSatisfy { $0.size == $0.key.utf8.count && !$0.etag.isEmpty && $0.lastModified != nil })

        #expect(try await client.allObjects(prefix: s3.prefix, limit: 250).count == 250)
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.allObjects(prefix: s3.prefix, limit: 249)
        }
        #expect(error.code == .limitExceeded)

        try await client.delete(keys: keys)
        #expect(try await client.allObjects(prefix: s3.prefix).isEmpty)
    }

    @Test func listsCommonPrefixesWithADelimiter() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        for name in ["sets/a/manifest.json", "sets/a/db.tar.gz", "sets/b/manifest.json", "blobs/sha256-1"] {
            try await client.put(ByteBuffer(string: name), at: s3.key(name))
        }
        let page = try await client.listObjectsPage(prefix: s3.key("sets/"), delimiter: "/")
        #expect(page.commonPrefixes == [s3.key("sets/a/"), s3.key("sets/b/")])
        #expect(page.objects.isEmpty)
        let top = try await client.listObjectsPage(prefix: s3.prefix, delimiter: "/")
        #expect(top.commonPrefixes == [s3.key("blobs/"), s3.key("sets/")])
    }

    @Test func deletesOneAndManyObjects() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let keys = (0..<30).map { s3.key("d\($0)") }
        for key in keys { try await client.put(ByteBuffer(string: key), at: key) }

        try await client.delete(keys[0])
        #expect(try await client.head(keys[0]) == nil)
        try await client.delete(keys[0])  // deleting what is gone succeeds, as in S3

        try await client.delete(keys: Array(keys[1...]) + [s3.key("never-existed")])
        #expect(try await client.allObjects(prefix: s3.prefix).isEmpty)
        try await client.delete(keys: [])
    }

    @Test func uploadsASmallStreamWithOnePut() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("small-stream")
        let bytes = testBytes(count: 3 << 20, seed: 2)
        let stored = try await client.upload(
            from: ChunkedBytes(bytes: bytes), to: key, contentType: "application/x-test")
        #expect(stored.partCount == nil)
        #expect(stored.size == bytes.count)
        #expect(try await client.uploadsLeft(prefix: s3.prefix) == 0)
        let download = try await client.get(key)
        #expect(download.info.contentType == "application/x-test")
        #expect(try await download.body.bytes() == bytes)
    }

    @Test func checksWithContentMD5WhenConfiguredTo() async throws {
        let s3 = try await S3TestEnvironment.make()
        var configuration = s3.configuration()
        configuration.checksum = .contentMD5
        let client = try S3Client(bucket: s3.bucket, configuration: configuration)
        let bytes = testBytes(count: 10 << 20, seed: 3)
        let stored = try await client.upload(from: ChunkedBytes(bytes: bytes), to: s3.key("md5"))
        #expect(stored.partCount == 2)
        #expect(stored.checksumSHA256 == nil)
        #expect(try await client.get(s3.key("md5")).body.bytes() == bytes)
        let small = try await client.put(ByteBuffer(bytes: [1, 2, 3]), at: s3.key("md5-small"))
        #expect(small.etag == md5Hex([1, 2, 3]))
    }

    // MARK: Errors

    @Test func aWrongSecretNamesTheAccessKeyAndNeverTheSecret() async throws {
        let s3 = try await S3TestEnvironment.make()
        let wrongSecret = "wrong-secret-\(UUID().uuidString)"
        let client = try s3.client(
            credentials: AWSCredentials(accessKeyID: s3.accessKeyID, secretAccessKey: wrongSecret))
        let key = s3.key("refused")

        let putError = try await #require(throws: ObjectStoreError.self) {
            try await client.put(ByteBuffer(string: "x"), at: key)
        }
        #expect(putError.code == .signatureMismatch)
        #expect(
            putError.message.contains(
                "the signature does not match for access key \(s3.accessKeyID): check the secret key"))
        // A HEAD answer has no body: the client asks again to learn why, so the message is the same.
        let headError = try await #require(throws: ObjectStoreError.self) { try await client.head(key) }
        #expect(headError.code == .signatureMismatch)
        // A multipart upload fails at its first request and leaves nothing.
        let uploadError = try await #require(throws: ObjectStoreError.self) {
            try await client.upload(from: ChunkedBytes(bytes: testBytes(count: 9 << 20, seed: 4)), to: key)
        }
        #expect(uploadError.code == .signatureMismatch)

        for error in [putError, headError, uploadError] {
            for text in [error.description, error.message, String(reflecting: error), "\(error)"] {
                #expect(text.contains(s3.accessKeyID))
                #expect(!text.contains(wrongSecret))
                #expect(!text.contains(s3.secretAccessKey))
            }
            var dumped = ""
            dump(error, to: &dumped)
            #expect(!dumped.contains(wrongSecret))
        }
        try await s3.expectNothingLeft(at: key)
        #expect(!"\(client)".contains(wrongSecret))
        #expect(!"\(client.configuration)".contains(wrongSecret))
    }

    @Test func anUnknownAccessKeyIsNamed() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client(
            credentials: AWSCredentials(accessKeyID: "AKIANOSUCHKEY0000000", secretAccessKey: s3.secretAccessKey))
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.put(ByteBuffer(string: "x"), at: s3.key("x"))
        }
        #expect(error.code == .invalidAccessKeyID)
        #expect(error.message.contains("AKIANOSUCHKEY0000000"))
        #expect(!error.message.contains(s3.secretAccessKey))
    }

    @Test func aSessionTokenIsSentAndNeverShowsInErrors() async throws {
        let s3 = try await S3TestEnvironment.make()
        let token = "session-token-\(UUID().uuidString)"
        let client = try s3.client(
            credentials: AWSCredentials(
                accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey, sessionToken: token))
        // SeaweedFS takes session tokens only from its own STS: it looks the key up there and does not find it.
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.put(ByteBuffer(string: "x"), at: s3.key("x"))
        }
        #expect(error.code == .invalidAccessKeyID || error.code == .expiredCredentials, "\(error)")
        #expect(error.message.contains("AWS_SESSION_TOKEN"))
        for text in [error.description, String(reflecting: error), "\(client.configuration)", "\(client)"] {
            #expect(!text.contains(token))
            #expect(!text.contains(s3.secretAccessKey))
        }
    }

    @Test func uploadsAStreamOfByteArrays() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let bytes = testBytes(count: 9 << 20, seed: 5)
        let chunks = AsyncStream<[UInt8]> { continuation in
            for start in stride(from: 0, to: bytes.count, by: 3 << 20) {
                continuation.yield(Array(bytes[start..<min(start + (3 << 20), bytes.count)]))
            }
            continuation.finish()
        }
        let stored = try await client.upload(from: chunks, to: s3.key("arrays"))
        #expect(stored.partCount == 2)
        #expect(try await client.get(s3.key("arrays")).body.bytes() == bytes)
    }

    @Test func aMissingBucketIsNamed() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client(bucket: "unity-ai-no-such-bucket-\(UInt32.random(in: 0...UInt32.max))")
        let error = try await #require(throws: ObjectStoreError.self) {
            try await client.listObjectsPage()
        }
        #expect(error.code == .noSuchBucket)
        #expect(error.message.contains(client.bucket))
        let getError = try await #require(throws: ObjectStoreError.self) { try await client.get("x") }
        #expect(getError.code == .noSuchBucket)
        // deploy/start-seaweedfs.sh turns off SeaweedFS's auto-creation, so a write fails as on AWS.
        let putError = try await #require(throws: ObjectStoreError.self) {
            try await client.put(ByteBuffer(string: "x"), at: "x")
        }
        #expect(putError.code == .noSuchBucket)
    }

    @Test func anUnreachableServerFailsAfterItsRetries() async throws {
        let s3 = try await S3TestEnvironment.make()
        // A port nothing listens on: bound and closed.
        let client = try s3.client(endpoint: "http://127.0.0.1:1")
        let started = ContinuousClock.now
        let error = try await #require(throws: ObjectStoreError.self) { try await client.head("x") }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("after 3 attempts"))
        #expect(error.message.contains("http://127.0.0.1:1"))
        #expect(ContinuousClock.now - started < .seconds(60))  // bounded retries, not a time goal (a loaded 2-core machine)
    }
}

extension S3Client {
    /// How many multipart uploads are in progress under `prefix`.
    func uploadsLeft(prefix: String) async throws -> Int {
        try await listMultipartUploads(prefix: prefix).count
    }
}
