import Crypto
import Foundation
import NIOCore
import ObjectStore
import Testing

/// The real S3 server the tests run against (SeaweedFS, started by `deploy/start-seaweedfs.sh`), read from
/// `UNITY_AI_TEST_S3_ENDPOINT`, `UNITY_AI_TEST_S3_ACCESS_KEY` and `UNITY_AI_TEST_S3_SECRET_KEY`. Unset variables fail
/// the test with a message naming the script: a green run always means a real server was exercised.
struct S3TestEnvironment {
    let endpoint: String
    let accessKeyID: String
    let secretAccessKey: String
    /// One bucket per test process; each test works under its own ``prefix``.
    let bucket: String
    /// `t-<test>-<random>/`: keeps parallel tests' keys and uploads apart.
    let prefix: String

    static let bucketName = "unity-ai-it-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)

    static let startHint = """
        Start SeaweedFS with `deploy/start-seaweedfs.sh DIR` and `source DIR/s3.env` (deploy/test.sh does both), \
        then run the tests again.
        """

    /// Reads the environment, creates the bucket if needed and checks that the server is up.
    static func make(_ test: String = #function) async throws -> S3TestEnvironment {
        let environment = ProcessInfo.processInfo.environment
        func required(_ name: String) throws -> String {
            try #require(
                environment[name].flatMap { $0.isEmpty ? nil : $0 },
                "\(name) is not set: these tests need a real S3 server. \(startHint)")
        }
        let name = test.prefix { $0 != "(" }
        let environmentValue = S3TestEnvironment(
            endpoint: try required("UNITY_AI_TEST_S3_ENDPOINT"),
            accessKeyID: try required("UNITY_AI_TEST_S3_ACCESS_KEY"),
            secretAccessKey: try required("UNITY_AI_TEST_S3_SECRET_KEY"),
            bucket: bucketName,
            prefix: "t-\(name)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))/")
        do {
            try await environmentValue.client().createBucket()
        } catch {
            Issue.record("Cannot reach the S3 server at \(environmentValue.endpoint): \(error). \(startHint)")
            throw error
        }
        return environmentValue
    }

    var credentials: AWSCredentials {
        AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
    }

    /// A configuration for the server (or for a proxy in front of it), with fast retries for the tests.
    func configuration(endpoint: String? = nil, credentials: AWSCredentials? = nil) -> S3Client.Configuration {
        var configuration = S3Client.Configuration(
            credentials: credentials ?? self.credentials, endpoint: endpoint ?? self.endpoint)
        configuration.retryBaseDelay = .milliseconds(10)
        configuration.retryMaximumDelay = .milliseconds(200)
        configuration.maximumAttempts = 3
        return configuration
    }

    func client(endpoint: String? = nil, credentials: AWSCredentials? = nil, bucket: String? = nil) throws -> S3Client {
        try S3Client(
            bucket: bucket ?? self.bucket, configuration: configuration(endpoint: endpoint, credentials: credentials))
    }

    func key(_ name: String) -> String { prefix + name }

    /// Checks, straight against the server, that nothing is left under the test's prefix: no multipart upload in
    /// progress, and no object under `key`.
    func expectNothingLeft(at key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let direct = try client()
        let uploads = try await direct.listMultipartUploads(prefix: prefix)
        #expect(uploads.isEmpty, "incomplete multipart uploads left behind: \(uploads)", sourceLocation: sourceLocation)
        let object = try await direct.head(key)
        #expect(object == nil, "an object was left at \(key)", sourceLocation: sourceLocation)
    }

    /// The AWS CLI from the tools venv (`UNITY_AI_TEST_AWS_CLI`, else where start-seaweedfs.sh installs it).
    static func awsCLI() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let path = environment["UNITY_AI_TEST_AWS_CLI"], !path.isEmpty { candidates.append(path) }
        if let tools = environment["UNITY_AI_TOOLS_DIR"], !tools.isEmpty {
            candidates.append("\(tools)/s3-venv/bin/aws")
        }
        candidates.append("/opt/unity-ai/s3-venv/bin/aws")
        if let home = environment["HOME"] { candidates.append("\(home)/.local/share/unity-ai/s3-venv/bin/aws") }
        return try #require(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
            "The AWS CLI is not installed (looked in \(candidates)). \(startHint)")
    }
}

// MARK: Test data

/// Pseudo-random bytes from a seed (SplitMix64): large bodies made fast, the same for the same seed.
func testBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            withUnsafeBytes(of: z.littleEndian) { word in
                let n = Swift.min(8, count - offset)
                raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: n)
            }
            offset += 8
        }
    }
    return bytes
}

func md5Hex(_ bytes: [UInt8]) -> String {
    Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
}

/// Bytes as an async stream of chunks of an awkward size, so parts never line up with chunks.
struct ChunkedBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    var chunkSize = (1 << 20) + 7
    /// Fails the stream after this many bytes, to test an upload whose source breaks.
    var failAfter: Int?

    struct SourceFailed: Error {}

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: ChunkedBytes
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            if let failAfter = source.failAfter, offset >= failAfter { throw SourceFailed() }
            guard offset < source.bytes.count else { return nil }
            let end = Swift.min(offset + source.chunkSize, source.bytes.count)
            defer { offset = end }
            return ByteBuffer(bytes: source.bytes[offset..<end])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
}

extension ObjectBody {
    /// The whole body as bytes.
    func bytes(limit: Int = 64 << 20) async throws -> [UInt8] {
        let buffer = try await collect(upTo: limit)
        return Array(buffer.readableBytesView)
    }
}
