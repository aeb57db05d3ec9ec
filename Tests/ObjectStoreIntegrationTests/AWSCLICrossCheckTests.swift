import Foundation
import NIOCore
import ObjectStore
import Testing

/// What the client stores, the AWS CLI (an independent S3 implementation, botocore) lists and downloads byte for
/// byte, and what the CLI stores, the client reads.
@Suite struct AWSCLICrossCheckTests {
    @Test func theAWSCLIListsAndDownloadsWhatTheClientUploaded() async throws {
        let s3 = try await S3TestEnvironment.make()
        let aws = try S3TestEnvironment.awsCLI()
        let client = try s3.client()
        let large = testBytes(count: 20 << 20, seed: 40)
        let small = Array("a small object\n".utf8)
        let largeStored = try await client.upload(from: ChunkedBytes(bytes: large), to: s3.key("sets/1/blob.bin"))
        try await client.put(ByteBuffer(bytes: small), at: s3.key("sets/1/manifest.json"))

        let listing = try await String(
            decoding: run(aws, ["s3", "ls", "--recursive", "s3://\(s3.bucket)/\(s3.prefix)"], s3), as: UTF8.self)
        let lines = listing.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.map { String($0.last ?? "") } == [s3.key("sets/1/blob.bin"), s3.key("sets/1/manifest.json")])
        #expect(lines.map { Int($0[2]) } == [large.count, small.count])

        let downloaded = try await run(aws, ["s3", "cp", "s3://\(s3.bucket)/\(s3.key("sets/1/blob.bin"))", "-"], s3)
        #expect(downloaded.count == large.count)
        #expect(sha256Hex(downloaded) == sha256Hex(large))
        #expect(
            try await run(aws, ["s3", "cp", "s3://\(s3.bucket)/\(s3.key("sets/1/manifest.json"))", "-"], s3) == small)

        let headOutput = try await run(
            aws,
            [
                "s3api", "head-object", "--bucket", s3.bucket, "--key", s3.key("sets/1/blob.bin"), "--checksum-mode",
                "ENABLED",
            ],
            s3)
        let head = try JSONSerialization.jsonObject(with: Data(headOutput)) as? [String: Any]
        #expect(head?["ContentLength"] as? Int == large.count)
        #expect(head?["ChecksumSHA256"] as? String == largeStored.checksumSHA256)
    }

    @Test func theClientReadsWhatTheAWSCLIUploaded() async throws {
        let s3 = try await S3TestEnvironment.make()
        let aws = try S3TestEnvironment.awsCLI()
        let bytes = testBytes(count: 12 << 20, seed: 41)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("unity-ai-s3-\(UUID().uuidString)")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try await run(aws, ["s3", "cp", file.path, "s3://\(s3.bucket)/\(s3.key("from-cli.bin"))"], s3)

        let client = try s3.client()
        let info = try #require(try await client.head(s3.key("from-cli.bin")))
        #expect(info.size == bytes.count)
        #expect(sha256Hex(try await client.get(s3.key("from-cli.bin")).body.bytes()) == sha256Hex(bytes))
    }

    /// Runs the AWS CLI against the test server and returns its standard output; fails on a non-zero exit.
    private func run(_ aws: String, _ arguments: [String], _ s3: S3TestEnvironment) async throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: aws)
        process.arguments = ["--endpoint-url", s3.endpoint] + arguments
        process.environment = [
            "AWS_ACCESS_KEY_ID": s3.accessKeyID, "AWS_SECRET_ACCESS_KEY": s3.secretAccessKey,
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin",
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Both pipes are read to the end before waiting, so a large output cannot fill a pipe and block the CLI.
        let outputHandle = output.fileHandleForReading
        let errorHandle = errors.fileHandleForReading
        async let data = Task.detached { outputHandle.readDataToEndOfFile() }.value
        async let errorData = Task.detached { errorHandle.readDataToEndOfFile() }.value
        let (stdout, stderr) = await (data, errorData)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            """
            aws \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \
            \(String(decoding: stderr, as: UTF8.self).suffix(2000))
            """)
        return Array(stdout)
    }
}
