import FaultInjection
import Crypto
import Foundation
import NIOCore
import ObjectStore
import Testing

/// Multipart uploads against the real server, directly and through a proxy that injects failures mid-upload: a
/// failure that outlasts the retries aborts the upload and leaves nothing behind; a transient one is retried away.
@Suite(.serialized) struct MultipartUploadTests {
    /// 20 MiB: three parts of 8, 8 and 4 MiB.
    static let size = 20 << 20

    @Test func uploadsTwentyMiBInThreePartsWithTheirChecksums() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("twenty.bin")
        let bytes = testBytes(count: Self.size, seed: 10)

        let stored = try await client.upload(from: ChunkedBytes(bytes: bytes), to: key, metadata: ["kind": "test"])
        #expect(stored.partCount == 3)
        #expect(stored.size == bytes.count)
        #expect(stored.etag.hasSuffix("-3"))
        // S3's composite checksum: the SHA-256 of the three parts' SHA-256s.
        let partDigests = [0..<(8 << 20), (8 << 20)..<(16 << 20), (16 << 20)..<Self.size].flatMap {
            Array(SHA256.hash(data: bytes[$0]))
        }
        let composite = Data(SHA256.hash(data: partDigests)).base64EncodedString() + "-3"
        #expect(stored.checksumSHA256 == composite)

        let info = try #require(try await client.head(key))
        #expect(info.size == bytes.count)
        #expect(info.metadata["kind"] == "test")
        #expect(info.checksumSHA256 == composite)
        let read = try await client.get(key).body.bytes()
        #expect(read.count == bytes.count)
        #expect(sha256Hex(read) == sha256Hex(bytes))
        #expect(
            try await client.get(key, range: (8 << 20) - 5...(8 << 20) + 4).body.bytes()
                == Array(bytes[(8 << 20) - 5...(8 << 20) + 4]))
        #expect(try await client.uploadsLeft(prefix: s3.prefix) == 0)
    }

    @Test func aStreamOfExactlyOnePartIsOnePut() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let bytes = testBytes(count: 8 << 20, seed: 11)
        let stored = try await client.upload(from: ChunkedBytes(bytes: bytes, chunkSize: 1 << 20), to: s3.key("one"))
        #expect(stored.partCount == nil)
        let twoParts = try await client.upload(
            from: ChunkedBytes(bytes: bytes + [7], chunkSize: 1 << 20), to: s3.key("two"))
        #expect(twoParts.partCount == 2)
        #expect(try await client.get(s3.key("two")).body.bytes() == bytes + [7])
    }

    @Test func uploadsSeveralPartsAtOnceWithinTheBound() async throws {
        let s3 = try await S3TestEnvironment.make()
        let bytes = testBytes(count: 6 * (5 << 20) + 100, seed: 12)
        let delayParts: FaultInjectingProxy.Rule = { $0.partNumber != nil ? .delay(.milliseconds(300)) : .forward }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: delayParts) { proxy in
            var configuration = s3.configuration(endpoint: proxy.endpoint)
            configuration.partSize = 5 << 20
            configuration.partsInFlight = 3
            let client = try S3Client(bucket: s3.bucket, configuration: configuration)
            let stored = try await client.upload(from: ChunkedBytes(bytes: bytes), to: s3.key("parallel"))
            #expect(stored.partCount == 7)
            // The part being filled counts against the bound, so at most 3 parts are in memory and in flight.
            #expect(proxy.maximumConcurrentParts >= 2)
            #expect(proxy.maximumConcurrentParts <= 3)
        }
        #expect(try await s3.client().get(s3.key("parallel")).body.bytes() == bytes)
    }

    // MARK: Failures that outlast the retries: the upload is aborted

    @Test func aServerErrorOnEveryTryOfThePartAbortsTheUpload() async throws {
        try await expectAborted(
            rule: { $0.partNumber == 2 ? .respond(status: 500, code: "InternalError") : .forward },
            code: .serverError, attemptsOfPartTwo: 3)
    }

    @Test func aConnectionResetOnEveryTryAbortsTheUpload() async throws {
        try await expectAborted(
            rule: { $0.partNumber == 2 ? .reset : .forward }, code: .connectionFailed, attemptsOfPartTwo: 3)
    }

    @Test func aRefusedPartIsNotRetriedAndAbortsTheUpload() async throws {
        try await expectAborted(
            rule: { $0.partNumber == 2 ? .respond(status: 403, code: "AccessDenied") : .forward },
            code: .accessDenied, attemptsOfPartTwo: 1)
    }

    @Test func aCorruptedPartIsRefusedByItsChecksumAndAbortsTheUpload() async throws {
        try await expectAborted(
            rule: { $0.partNumber == 2 ? .corruptRequest : .forward }, code: .checksumMismatch, attemptsOfPartTwo: 1)
    }

    @Test func aStreamThatFailsMidwayAbortsTheUpload() async throws {
        let s3 = try await S3TestEnvironment.make()
        let client = try s3.client()
        let key = s3.key("broken-source")
        let source = ChunkedBytes(bytes: testBytes(count: Self.size, seed: 13), failAfter: 17 << 20)
        await #expect(throws: ChunkedBytes.SourceFailed.self) { try await client.upload(from: source, to: key) }
        try await s3.expectNothingLeft(at: key)
    }

    @Test func aCancelledUploadIsAborted() async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("cancelled")
        let stallPartTwo: FaultInjectingProxy.Rule = { $0.partNumber == 2 ? .stall(.seconds(30)) : .forward }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: stallPartTwo) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            let upload = Task {
                try await client.upload(from: ChunkedBytes(bytes: testBytes(count: Self.size, seed: 14)), to: key)
            }
            // Cancel once part 2 is stuck in the proxy.
            while !proxy.requests.contains(where: { $0.partNumber == 2 }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            upload.cancel()
            let error = await #expect(throws: ObjectStoreError.self) { try await upload.value }
            #expect(error?.code == .cancelled)
        }
        try await s3.expectNothingLeft(at: key)
    }

    // MARK: Transient failures: retried, and the upload succeeds

    @Test(arguments: [
        ("500 once", FaultInjectingProxy.Action.respond(status: 500, code: "InternalError")),
        ("503 SlowDown once", .respond(status: 503, code: "SlowDown")),
        ("429 once", .respond(status: 429, code: "TooManyRequests")),
        ("reset once", .reset),
        ("stalled past the idle timeout once", .stall(.seconds(30))),
    ])
    func aTransientFailureOfAPartIsRetried(_ name: String, _ failure: FaultInjectingProxy.Action) async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("retried")
        let bytes = testBytes(count: Self.size, seed: 20)
        let failPartTwoOnce: FaultInjectingProxy.Rule = { request in
            request.partNumber == 2 && request.attempt == 1 ? failure : .forward
        }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: failPartTwoOnce) { proxy in
            var configuration = s3.configuration(endpoint: proxy.endpoint)
            // Long enough for an 8 MiB part through the proxy on a busy machine, short against the stall.
            configuration.idleTimeout = .seconds(8)
            let client = try S3Client(bucket: s3.bucket, configuration: configuration)
            let stored = try await client.upload(from: ChunkedBytes(bytes: bytes), to: key)
            #expect(stored.partCount == 3)
            // The failed attempt and its retry (a busy machine may need one more).
            #expect(proxy.requests.filter { $0.partNumber == 2 }.count >= 2)
        }
        let direct = try s3.client()
        #expect(sha256Hex(try await direct.get(key).body.bytes()) == sha256Hex(bytes))
        #expect(try await direct.uploadsLeft(prefix: s3.prefix) == 0)
    }

    @Test func aSlowPartWithinTheTimeoutJustTakesLonger() async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("slow")
        let bytes = testBytes(count: Self.size, seed: 21)
        let delayPartTwo: FaultInjectingProxy.Rule = { $0.partNumber == 2 ? .delay(.seconds(2)) : .forward }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: delayPartTwo) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            let stored = try await client.upload(from: ChunkedBytes(bytes: bytes), to: key)
            #expect(stored.partCount == 3)
            #expect(proxy.requests.filter { $0.partNumber != nil }.count == 3)
        }
        #expect(sha256Hex(try await s3.client().get(key).body.bytes()) == sha256Hex(bytes))
    }

    @Test func aCreateThatWasThrottledIsRetriedButAFailedOneIsNot() async throws {
        let s3 = try await S3TestEnvironment.make()
        let bytes = testBytes(count: 9 << 20, seed: 22)
        // SlowDown means the server did not act: safe to send again.
        let throttleFirstCreate: FaultInjectingProxy.Rule = { request in
            request.uri.hasSuffix("?uploads=") && request.attempt == 1
                ? .respond(status: 503, code: "SlowDown") : .forward
        }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: throttleFirstCreate) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            #expect(try await client.upload(from: ChunkedBytes(bytes: bytes), to: s3.key("throttled")).partCount == 2)
        }
        // A 500 may come after the server created the upload; a blind retry could leave one no one knows of.
        let failEveryCreate: FaultInjectingProxy.Rule = { request in
            request.uri.hasSuffix("?uploads=") ? .respond(status: 500, code: "InternalError") : .forward
        }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: failEveryCreate) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            let error = try await #require(throws: ObjectStoreError.self) {
                try await client.upload(from: ChunkedBytes(bytes: bytes), to: s3.key("failed-create"))
            }
            #expect(error.code == .serverError)
            #expect(proxy.requests.filter { $0.uri.hasSuffix("?uploads=") }.count == 1)
        }
    }

    @Test func aCorruptedDownloadFailsItsChecksum() async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("to-corrupt")
        try await s3.client().put(ByteBuffer(bytes: testBytes(count: 4096, seed: 23)), at: key)
        let corruptDownloads: FaultInjectingProxy.Rule = { $0.method == "GET" ? .corruptResponse : .forward }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: corruptDownloads) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            let download = try await client.get(key)
            let error = try await #require(throws: ObjectStoreError.self) { try await download.body.bytes() }
            #expect(error.code == .checksumMismatch)
        }
    }

    @Test func singleRequestsRetryTransientFailuresOnly() async throws {
        let s3 = try await S3TestEnvironment.make()
        let key = s3.key("single")
        let failSomeRequests: FaultInjectingProxy.Rule = { request in
            switch (request.method, request.attempt) {
            case ("PUT", 1): .respond(status: 503, code: "SlowDown")
            case ("GET", 1): .reset
            case ("DELETE", _): .respond(status: 403, code: "AccessDenied")
            default: .forward
            }
        }
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: failSomeRequests) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            try await client.put(ByteBuffer(string: "x"), at: key)
            #expect(try await client.get(key).body.bytes() == Array("x".utf8))
            let error = try await #require(throws: ObjectStoreError.self) { try await client.delete(key) }
            #expect(error.code == .accessDenied)
            #expect(
                proxy.requests.map { "\($0.method) \($0.attempt)" } == ["PUT 1", "PUT 2", "GET 1", "GET 2", "DELETE 1"])
        }
    }

    /// Uploads 20 MiB through a proxy that applies `rule`, and expects the upload to fail with `code`, part 2 to
    /// have been tried `attemptsOfPartTwo` times, and nothing to be left on the server.
    private func expectAborted(
        rule: @escaping @Sendable (FaultInjectingProxy.Request) -> FaultInjectingProxy.Action,
        code: ObjectStoreError.Code, attemptsOfPartTwo: Int, _ test: String = #function,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let s3 = try await S3TestEnvironment.make(test)
        let key = s3.key("aborted")
        try await FaultInjectingProxy.with(upstream: s3.endpoint, rule: rule) { proxy in
            let client = try s3.client(endpoint: proxy.endpoint)
            let error = try await #require(throws: ObjectStoreError.self, sourceLocation: sourceLocation) {
                try await client.upload(from: ChunkedBytes(bytes: testBytes(count: Self.size, seed: 30)), to: key)
            }
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(
                proxy.requests.filter { $0.partNumber == 2 }.count == attemptsOfPartTwo, "\(proxy.requests)",
                sourceLocation: sourceLocation)
            #expect(
                proxy.requests.contains { $0.method == "DELETE" && $0.uri.contains("uploadId=") },
                "the upload was not aborted: \(proxy.requests)", sourceLocation: sourceLocation)
        }
        try await s3.expectNothingLeft(at: key, sourceLocation: sourceLocation)
    }
}
