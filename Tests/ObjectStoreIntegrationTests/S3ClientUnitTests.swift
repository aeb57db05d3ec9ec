import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import ObjectStore

/// The client's pure parts, without a server: configuration from the environment, addressing, the XML reader,
/// dates, error messages and the retry policy.
@Suite struct S3ClientUnitTests {
    static let credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        sessionToken: "FQoGZXIvYXdzEXAMPLETOKEN")

    // MARK: Configuration

    @Test func readsTheAWSEnvironmentVariables() throws {
        let configuration = try S3Client.Configuration.fromEnvironment([
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
            "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:8333", "AWS_ENDPOINT_URL": "http://elsewhere:9000",
        ])
        #expect(configuration.credentials.accessKeyID == "AKIAENV")
        #expect(configuration.credentials.secretAccessKey == "secret")
        #expect(configuration.credentials.sessionToken == "token")
        #expect(configuration.region == "eu-central-1")
        #expect(configuration.endpoint == "http://127.0.0.1:8333")

        let fallback = try S3Client.Configuration.fromEnvironment([
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ENDPOINT_URL": "https://minio.example.com", "AWS_ENDPOINT_URL_S3": "", "AWS_SESSION_TOKEN": "",
        ])
        #expect(fallback.region == "us-west-2")
        #expect(fallback.endpoint == "https://minio.example.com")
        #expect(fallback.credentials.sessionToken == nil)

        let aws = try S3Client.Configuration.fromEnvironment(["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s"])
        #expect(aws.region == "us-east-1")
        #expect(aws.endpoint == nil)
    }

    @Test func aMissingOrMalformedVariableIsNamed() throws {
        let missing = try #require(throws: ObjectStoreError.self) {
            try S3Client.Configuration.fromEnvironment(["AWS_SECRET_ACCESS_KEY": "secret"])
        }
        #expect(missing.code == .invalidConfiguration)
        #expect(missing.message.contains("AWS_ACCESS_KEY_ID"))
        let noSecret = try #require(throws: ObjectStoreError.self) {
            try S3Client.Configuration.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKIAENV"])
        }
        #expect(noSecret.message.contains("AWS_SECRET_ACCESS_KEY"))
        let malformed = try #require(throws: ObjectStoreError.self) {
            try S3Client.Configuration.fromEnvironment([
                "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL_S3": "ftp://host",
            ])
        }
        #expect(malformed.message.hasPrefix("AWS_ENDPOINT_URL_S3"))
    }

    @Test func refusesPartSizesS3Refuses() {
        var configuration = S3Client.Configuration(credentials: Self.credentials)
        configuration.partSize = 4 << 20
        #expect(throws: ObjectStoreError.self) { try S3Client(bucket: "b", configuration: configuration) }
        configuration.partSize = 8 << 20
        configuration.partsInFlight = 0
        #expect(throws: ObjectStoreError.self) { try S3Client(bucket: "b", configuration: configuration) }
    }

    @Test func descriptionsNeverShowTheSecretOrTheToken() throws {
        let client = try S3Client(
            bucket: "rag",
            configuration: S3Client.Configuration(credentials: Self.credentials, endpoint: "http://127.0.0.1:9000"))
        var dumped = ""
        dump(client.configuration, to: &dumped)
        for text in [client.description, "\(client.configuration)", String(reflecting: client.configuration), dumped] {
            #expect(!text.contains(Self.credentials.secretAccessKey))
            #expect(!text.contains(Self.credentials.sessionToken!))
        }
    }

    // MARK: Addressing

    @Test func usesPathStyleWheneverAnEndpointIsGiven() throws {
        let client = try S3Client(
            bucket: "rag",
            configuration: S3Client.Configuration(credentials: Self.credentials, endpoint: "http://127.0.0.1:8333/"))
        #expect(client.address(for: "a b/c.txt") == ("127.0.0.1:8333", "/rag/a b/c.txt"))
        #expect(client.address(for: nil) == ("127.0.0.1:8333", "/rag"))

        let proxied = try S3Client(
            bucket: "rag",
            configuration: S3Client.Configuration(
                credentials: Self.credentials, endpoint: "https://gw.example.com:443/s3/"))
        #expect(proxied.address(for: "k") == ("gw.example.com", "/s3/rag/k"))

        let ipv6 = try S3Client(
            bucket: "rag",
            configuration: S3Client.Configuration(credentials: Self.credentials, endpoint: "http://[::1]:9000"))
        #expect(ipv6.address(for: "k").host == "[::1]:9000")
    }

    @Test func usesVirtualHostsForAWSUnlessTheNameCannotBeOne() throws {
        var configuration = S3Client.Configuration(credentials: Self.credentials, region: "eu-west-1")
        let aws = try S3Client(bucket: "unity-backups", configuration: configuration)
        #expect(aws.address(for: "sets/1") == ("unity-backups.s3.eu-west-1.amazonaws.com", "/sets/1"))
        #expect(aws.address(for: nil) == ("unity-backups.s3.eu-west-1.amazonaws.com", "/"))
        // Dots would not match the wildcard certificate.
        let dotted = try S3Client(bucket: "backups.example.com", configuration: configuration)
        #expect(dotted.address(for: "k") == ("s3.eu-west-1.amazonaws.com", "/backups.example.com/k"))
        // The override wins both ways.
        configuration.pathStyle = true
        #expect(
            try S3Client(bucket: "unity-backups", configuration: configuration).address(for: "k").path
                == "/unity-backups/k")
        configuration.pathStyle = false
        configuration.endpoint = "http://minio.local:9000"
        #expect(
            try S3Client(bucket: "b1", configuration: configuration).address(for: "k") == ("b1.minio.local:9000", "/k"))
    }

    @Test func refusesEndpointsItCannotUse() {
        for endpoint in ["127.0.0.1:8333", "ftp://host", "http://user:pass@host", "http://host/?x=1", "http://"] {
            #expect(throws: ObjectStoreError.self, "\(endpoint)") {
                try S3Client(
                    bucket: "b",
                    configuration: S3Client.Configuration(credentials: Self.credentials, endpoint: endpoint))
            }
        }
        #expect(throws: ObjectStoreError.self) {
            try S3Client(bucket: "a/b", configuration: S3Client.Configuration(credentials: Self.credentials))
        }
    }

    // MARK: XML

    @Test func readsS3ErrorsAndListingsTolerantly() throws {
        let error = try S3XML.parse(
            Array(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <!-- a comment -->
                <Error><Code>NoSuchKey</Code><Message>The resource &lt;you&gt; &amp; &#34;it&#x22; &apos;x&apos;</Message>
                <Key><![CDATA[a<b]]></Key><RequestId>4442587FB7D0A2F9</RequestId></Error>
                """.utf8))
        #expect(error.name == "Error")
        #expect(error.text("Code") == "NoSuchKey")
        #expect(error.text("Message") == "The resource <you> & \"it\" 'x'")
        #expect(error.text("Key") == "a<b")

        let listing = try S3XML.parse(
            Array(
                """
                <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>\
                <Contents><Key>trailing </Key><Size>3</Size><ETag>&quot;abc&quot;</ETag></Contents>\
                <Contents><Key>ü/x</Key><Size>4</Size><Owner/></Contents>\
                <s3:IsTruncated>false</s3:IsTruncated></ListBucketResult>
                """.utf8))
        #expect(listing.all("Contents").map { $0.text("Key") } == ["trailing ", "ü/x"])
        #expect(listing.all("Contents").first?.text("ETag") == "\"abc\"")
        #expect(listing.text("IsTruncated") == "false")
    }

    @Test(arguments: ["", "<Error>", "<a><b></a>", "text", "<a>&bogus;</a>", String(repeating: "<a>", count: 40)])
    func refusesMalformedXML(_ text: String) {
        #expect(throws: S3XML.ParseError.self) { try S3XML.parse(Array(text.utf8)) }
    }

    @Test func escapesWhatItWrites() {
        #expect(S3XML.escaped("a&b<c>\"d'\u{1}") == "a&amp;b&lt;c&gt;&quot;d&apos;&#x1;")
    }

    // MARK: Dates

    @Test func parsesS3Dates() {
        #expect(S3Date.parseISO8601("2026-11-29T22:43:35Z") == Date(timeIntervalSince1970: 1_795_992_215))
        #expect(S3Date.parseISO8601("2026-11-29T22:43:35.250Z") == Date(timeIntervalSince1970: 1_795_992_215.25))
        #expect(S3Date.parseHTTP("Sun, 29 Nov 2026 22:43:35 GMT") == Date(timeIntervalSince1970: 1_795_992_215))
        #expect(S3Date.parseISO8601("2000-02-29T00:00:00Z") == Date(timeIntervalSince1970: 951_782_400))
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-29 22:43:35Z", "2026-11-29T22:43:35"] {
            #expect(S3Date.parseISO8601(bad) == nil, "\(bad)")
        }
        #expect(S3Date.parseHTTP("Sun, 29 Foo 2026 22:43:35 GMT") == nil)
    }

    // MARK: Errors and retries

    @Test func errorMessagesSayWhatToCheck() throws {
        let client = try S3Client(
            bucket: "rag",
            configuration: S3Client.Configuration(credentials: Self.credentials, endpoint: "http://127.0.0.1:8333"))
        let request = S3Client.S3Request(
            operation: "PutObject", method: .PUT, key: "sets/1/manifest.json", idempotent: true)
        func message(_ status: Int, _ code: String?, _ text: String? = nil) -> ObjectStoreError {
            client.error(
                for: .service(S3ErrorResponse(status: status, code: code, message: text, requestID: "R1")),
                request: request,
                attempts: 1)
        }
        let signature = message(403, "SignatureDoesNotMatch")
        #expect(signature.code == .signatureMismatch)
        #expect(
            signature.message.contains(
                "the signature does not match for access key AKIAIOSFODNN7EXAMPLE: check the secret key"))
        #expect(signature.requestID == "R1")
        #expect(message(403, "InvalidAccessKeyId").message.contains("AKIAIOSFODNN7EXAMPLE"))
        let denied = message(403, "AccessDenied")
        #expect(denied.code == .accessDenied)
        #expect(denied.message.contains("'sets/1/manifest.json' in bucket 'rag'"))
        #expect(message(404, "NoSuchBucket").code == .noSuchBucket)
        #expect(message(404, "NoSuchKey").code == .notFound)
        #expect(message(400, "BadDigest").code == .checksumMismatch)
        #expect(message(503, "SlowDown").code == .throttled)
        #expect(message(500, "InternalError").code == .serverError)
        #expect(message(400, "EntityTooSmall", "too small").code == .invalidRequest)
        #expect(message(400, "ExpiredToken").code == .expiredCredentials)
        // The server's own message is echoed, but never a credential in it.
        let echoed = message(
            400, "InvalidArgument", "bad \(Self.credentials.secretAccessKey) and \(Self.credentials.sessionToken!)")
        #expect(!echoed.message.contains(Self.credentials.secretAccessKey))
        #expect(!echoed.message.contains(Self.credentials.sessionToken!))
        #expect(echoed.message.contains("<redacted>"))
    }

    @Test func retriesOnlyWhatAnotherAttemptCanMend() {
        func service(_ status: Int, _ code: String?) -> S3Client.Failure {
            .service(S3ErrorResponse(status: status, code: code, message: nil, requestID: nil))
        }
        #expect(service(500, "InternalError").isRetryable(idempotent: true))
        #expect(service(503, nil).isRetryable(idempotent: true))
        #expect(service(400, "RequestTimeout").isRetryable(idempotent: true))
        #expect(!service(500, "InternalError").isRetryable(idempotent: false))
        #expect(service(503, "SlowDown").isRetryable(idempotent: false))
        #expect(service(429, nil).isRetryable(idempotent: false))
        for status in [400, 403, 404, 409, 412, 416] {
            #expect(!service(status, nil).isRetryable(idempotent: true), "\(status)")
        }
        let reset = S3Client.classify(transport: IOError(errnoCode: ECONNRESET, reason: "read"))
        #expect(reset.isRetryable(idempotent: true))
        #expect(!reset.isRetryable(idempotent: false))
        let refused = S3Client.classify(transport: IOError(errnoCode: ECONNREFUSED, reason: "connect"))
        #expect(refused.isRetryable(idempotent: false))
        #expect(!S3Client.classify(transport: CancellationError()).isRetryable(idempotent: true))
    }

    @Test func backsOffExponentiallyWithJitterUpToTheCap() throws {
        var configuration = S3Client.Configuration(credentials: Self.credentials, endpoint: "http://127.0.0.1:1")
        configuration.retryBaseDelay = .milliseconds(100)
        configuration.retryMaximumDelay = .seconds(1)
        let client = try S3Client(bucket: "b", configuration: configuration)
        for attempt in 1...40 {
            let bound = min(Duration.seconds(1), .milliseconds(100) * (1 << min(attempt - 1, 20)))
            for _ in 0..<20 {
                let delay = client.backoff(attempt: attempt, retryAfter: nil)
                #expect(delay >= .zero && delay <= bound)
            }
        }
        #expect(client.backoff(attempt: 1, retryAfter: .milliseconds(700)) >= .milliseconds(700))
        #expect(client.backoff(attempt: 1, retryAfter: .seconds(60)) <= .seconds(1))
    }

    @Test func growsPartsOnlyWhenTenThousandWouldNotHoldTheSize() {
        #expect(S3Client.partSize(configured: 8 << 20, sizeHint: nil) == 8 << 20)
        #expect(S3Client.partSize(configured: 8 << 20, sizeHint: 1 << 30) == 8 << 20)
        let huge = 200 << 30
        let grown = S3Client.partSize(configured: 8 << 20, sizeHint: huge)
        #expect(grown * 10_000 >= huge)
        #expect(grown % (1 << 20) == 0)
        #expect(grown < 22 << 20)
    }

    @Test func computesS3sCompositeChecksum() {
        // Two parts whose SHA-256s are known: of "a" and of "b".
        let parts = [
            UploadedPart(number: 1, etag: "x", checksumSHA256: "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=", size: 1),
            UploadedPart(number: 2, etag: "y", checksumSHA256: "PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=", size: 1),
        ]
        #expect(S3Client.compositeChecksum(of: parts)?.hasSuffix("-2") == true)
        #expect(S3Client.compositeChecksum(of: parts) != S3Client.compositeChecksum(of: parts.reversed()))
        #expect(
            S3Client.compositeChecksum(of: [UploadedPart(number: 1, etag: "x", checksumSHA256: nil, size: 1)]) == nil)
    }
}
