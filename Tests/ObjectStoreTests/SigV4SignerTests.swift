import Foundation
import Testing

@testable import ObjectStore

/// The signer against AWS's SigV4 test suite and the S3 examples AWS documents, read from `shared/data/sigv4`
/// (beside the repository), then its behaviour on input the fixtures do not cover: encodings, hostile headers,
/// errors, secrets and the signing-key cache.
@Suite struct SigV4SignerTests {
    // MARK: AWS SigV4 test suite

    /// Every case of the suite. Listed here rather than read from `suite-index.json`, so a missing folder fails each
    /// case instead of leaving no case to run; ``suiteIndexListsEveryCase()`` keeps the list and the index in step.
    static let suiteCases = [
        "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order", "get-header-value-trim",
        "get-unreserved", "get-utf8", "get-vanilla", "get-vanilla-empty-query-key", "get-vanilla-query",
        "get-vanilla-query-order-key", "get-vanilla-query-order-key-case", "get-vanilla-query-order-value",
        "get-vanilla-query-unreserved", "get-vanilla-utf8-query",
        "normalize-path/get-relative", "normalize-path/get-relative-relative", "normalize-path/get-slash",
        "normalize-path/get-slash-dot-slash", "normalize-path/get-slash-pointless-dot", "normalize-path/get-slashes",
        "normalize-path/get-space",
        "post-header-key-case", "post-header-key-sort", "post-header-value-case",
        "post-sts-token/post-sts-header-after", "post-sts-token/post-sts-header-before",
        "post-vanilla", "post-vanilla-empty-query-value", "post-vanilla-query", "post-x-www-form-urlencoded",
        "post-x-www-form-urlencoded-parameters",
    ]

    /// 2015-08-30T12:36:00Z, the suite's signing time.
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    @Test func suiteIndexListsEveryCase() throws {
        let index = try SigV4Fixtures.suiteIndex()
        #expect(index.map(\.case).sorted() == Self.suiteCases.sorted())
    }

    @Test(arguments: suiteCases)
    func matchesAWSTestSuite(_ name: String) throws {
        let folder = try SigV4Fixtures.directory().appendingPathComponent("aws-sig-v4-test-suite/\(name)")
        func file(_ suffix: String) throws -> String {
            try SigV4Fixtures.text(folder.appendingPathComponent("\(folder.lastPathComponent).\(suffix)"))
        }
        let request = try RawRequest(parsing: file("req"))
        let signedRequest = try file("sreq")
        // The STS cases: the token is in the signed request, and in the request too when it is signed.
        let token = RawRequest.headerValue("X-Amz-Security-Token", in: signedRequest)
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                sessionToken: token),
            region: "us-east-1", service: "service",
            signsSessionToken: request.headers.contains { $0.0.lowercased() == "x-amz-security-token" })

        let signed = try signer.sign(
            method: request.method, path: request.path, query: request.query, headers: request.headers,
            payloadHash: SigV4Signer.payloadHash(of: Array(request.body.utf8)), date: Self.suiteDate)

        #expect(signed.canonicalRequest == (try file("creq")))
        #expect(signed.stringToSign == (try file("sts")))
        #expect(signed.authorization == (try file("authz")))
        #expect(RawRequest.headerValue("Authorization", in: signedRequest) == signed.authorization)
        let expected = try #require(try SigV4Fixtures.suiteIndex().first { $0.case == name })
        #expect(signed.signature == expected.signature)
        #expect(SigV4Signer.payloadHash(of: Array(signed.canonicalRequest.utf8)) == expected.creqSha256)
        if let token {
            #expect(signed.headers.contains { $0.name == "x-amz-security-token" && $0.value == token })
        }
    }

    // MARK: S3 examples

    /// The header-signed examples: plain requests and the seed requests of the two streaming uploads.
    static let headerSignedExamples = [
        "get-object-range", "put-object", "get-bucket-lifecycle", "get-bucket-list-objects",
        "chunked-upload-put-object-seed", "chunked-upload-with-trailer-put-object",
    ]

    @Test(arguments: headerSignedExamples)
    func signsAWSExampleRequests(_ name: String) throws {
        let examples = try SigV4Fixtures.s3Examples()
        let example = try examples.example(named: name)
        let target = RawRequest.Target(parsing: example.requestTarget)
        if let payload = example.payload {
            #expect(SigV4Signer.payloadHash(of: Array(payload.utf8)) == example.payloadSha256)
        }

        let signed = try examples.signer().sign(
            method: example.method, path: target.path, query: target.query,
            headers: example.headers.map { ($0.key, $0.value) }, payloadHash: example.payloadSha256,
            date: examples.signingDate)

        #expect(signed.path == example.canonicalUri)
        #expect(signed.query == example.canonicalQuery)
        #expect(signed.canonicalRequest == example.expected.canonicalRequest)
        #expect(signed.stringToSign == example.expected.stringToSign)
        #expect(signed.signature == example.expected.signature)
        if let published = example.published?.signature ?? example.published?.seedSignature {
            #expect(signed.signature == published)
        }
        // AWS's S3 pages print the header without spaces after the commas, the suite and the SDKs with them; S3
        // accepts both.
        let authorization = try #require(signed.authorization)
        #expect(authorization.replacingOccurrences(of: ", ", with: ",") == example.expected.authorization)
        #expect(signed.headers.map(\.name) == ["x-amz-date", "x-amz-content-sha256", "authorization"])
        #expect(signed.headers.first?.value == examples.amzDate)
    }

    @Test func presignsAWSExampleURL() throws {
        let examples = try SigV4Fixtures.s3Examples()
        let example = try examples.example(named: "presigned-url-get-object")
        let target = RawRequest.Target(parsing: example.requestTarget)
        let expires = try #require(example.expiresSeconds)

        let signed = try examples.signer().presign(
            method: example.method, path: target.path, query: target.query,
            headers: example.headers.map { ($0.key, $0.value) }, expires: .seconds(expires), date: examples.signingDate)

        #expect(signed.canonicalRequest == example.expected.canonicalRequest)
        #expect(signed.stringToSign == example.expected.stringToSign)
        #expect(signed.signature == example.expected.signature)
        #expect(signed.headers.isEmpty && signed.authorization == nil)
        #expect("https://\(example.host)\(signed.path)?\(signed.query)" == example.expected.presignedUrl)
    }

    @Test(arguments: ["chunked-upload-put-object-seed", "chunked-upload-with-trailer-put-object"])
    func chainsChunkSignaturesFromTheSeed(_ name: String) throws {
        let examples = try SigV4Fixtures.s3Examples()
        let example = try examples.example(named: name)
        let signer = examples.signer()
        let target = RawRequest.Target(parsing: example.requestTarget)
        let seed = try signer.sign(
            method: example.method, path: target.path, headers: example.headers.map { ($0.key, $0.value) },
            payloadHash: example.payloadSha256, date: examples.signingDate)
        let chunks = try #require(example.chunks)
        try #require(chunks.count == 3)

        var previous = seed.signature
        for chunk in chunks {
            let data = [UInt8](repeating: UInt8(ascii: "a"), count: chunk.chunkSize)
            #expect(SigV4Signer.payloadHash(of: data) == chunk.chunkDataSha256)
            let signature = try signer.chunkSignature(
                previous: previous, chunkHash: chunk.chunkDataSha256, date: examples.signingDate)
            #expect(signature == chunk.signature)
            #expect("\(String(chunk.chunkSize, radix: 16));chunk-signature=\(signature)" == chunk.chunkHeader)
            previous = signature
        }
        if let published = example.published?.chunkSignatures {
            #expect(chunks.map(\.signature) == published)
        }
        if let trailer = example.trailer {
            #expect(SigV4Signer.payloadHash(of: Array(trailer.trailingHeaderLine.utf8)) == trailer.trailingHeaderSha256)
            let signature = try signer.trailerSignature(
                previous: previous, trailerHash: trailer.trailingHeaderSha256, date: examples.signingDate)
            #expect(signature == trailer.signature)
            #expect(example.published?.trailerSignature == trailer.signature)
        }
    }

    @Test func signsGeneralIAMExample() throws {
        let examples = try SigV4Fixtures.s3Examples()
        let example = try #require(examples.generalExamples.first { $0.name == "iam-list-users" })
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: example.credentials.accessKeyId, secretAccessKey: example.credentials.secretAccessKey),
            region: example.region, service: example.service)
        let query = RawRequest.Target(parsing: "/?\(example.canonicalQuery)").query

        let signed = try signer.sign(
            method: example.method, path: example.canonicalUri, query: query,
            headers: example.headers.map { ($0.key, $0.value) }, payloadHash: example.payloadSha256,
            date: SigV4Signer.dateFromAMZ(example.amzDate))

        #expect(signed.canonicalRequest == example.expected.canonicalRequest)
        #expect(signed.stringToSign == example.expected.stringToSign)
        #expect(signed.authorization == example.expected.authorization)
    }

    @Test func derivesAWSExampleSigningKeys() throws {
        let examples = try SigV4Fixtures.s3Examples()
        let s3Key = SigV4Signer.signingKey(
            secretAccessKey: examples.credentials.secretAccessKey, dateStamp: examples.date, region: examples.region,
            service: examples.service)
        #expect(SigV4Signer.hex(s3Key) == examples.signingKeyHex)

        let iam = try #require(examples.generalExamples.first)
        let iamKey = SigV4Signer.signingKey(
            secretAccessKey: iam.credentials.secretAccessKey, dateStamp: String(iam.amzDate.prefix(8)),
            region: iam.region,
            service: iam.service)
        #expect(SigV4Signer.hex(iamKey) == iam.signingKeyHex)
    }

    // MARK: Paths and queries

    @Test(arguments: [
        ("/my-object//example//photo.user", "/my-object//example//photo.user"),
        ("/a/./b/../c/", "/a/./b/../c/"),
        ("key.txt", "/key.txt"),
        ("", "/"),
        ("/test$file.text", "/test%24file.text"),
        ("/a b+c%20d?e#f", "/a%20b%2Bc%2520d%3Fe%23f"),
        ("/日本/😀", "/%E6%97%A5%E6%9C%AC/%F0%9F%98%80"),
        ("/\u{0}\u{7F}\r\n", "/%00%7F%0D%0A"),
        ("/-._~AZaz09", "/-._~AZaz09"),
    ])
    func keepsS3PathsAsGivenAndEncodesThemOnce(_ path: String, _ expected: String) throws {
        let signed = try Self.s3Signer.sign(
            method: "GET", path: path, headers: [("host", "b.s3.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash,
            date: Self.suiteDate)
        #expect(signed.path == expected)
        #expect(signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[1] == expected[...])
    }

    @Test(arguments: [
        ("/a/./b/../c/", "/a/c/"), ("//", "/"), ("/..", "/"), ("/../../a", "/a"), ("/a/b/..", "/a/"), ("a//b", "/a/b"),
        ("/a b/", "/a%20b/"),
    ])
    func normalizesPathsForOtherServices(_ path: String, _ expected: String) throws {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "service")
        let signed = try signer.sign(
            method: "GET", path: path, headers: [("Host", "example.com")], payloadHash: SigV4Signer.emptyPayloadHash,
            date: Self.suiteDate)
        #expect(signed.path == expected)
    }

    @Test func encodesAndSortsQueryItems() throws {
        let signed = try Self.s3Signer.sign(
            method: "GET", path: "/bucket",
            query: [("prefix", "a/b c+d=é"), ("list-type", "2"), ("b", "2"), ("b", "10"), ("B", ""), ("x y", "~")],
            headers: [("host", "b.s3.amazonaws.com")], payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        #expect(signed.query == "B=&b=10&b=2&list-type=2&prefix=a%2Fb%20c%2Bd%3D%C3%A9&x%20y=~")
    }

    // MARK: Headers

    @Test func foldsHostileHeaderValuesIntoOneLine() throws {
        let signed = try Self.s3Signer.sign(
            method: "PUT", path: "/k",
            headers: [
                ("Host", "b.s3.amazonaws.com"), ("X-Meta", "  a \t b\r\nx-amz-acl:public-read \n"), ("x-meta", "c"),
                ("X-Empty", "   "),
            ],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.suiteDate)
        let lines = signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.contains("x-meta:a b,x-amz-acl:public-read,c"))
        #expect(lines.contains("x-empty:"))
        #expect(!lines.contains { $0.hasPrefix("x-amz-acl") })
        #expect(lines.contains("host;x-amz-content-sha256;x-amz-date;x-empty;x-meta"))
    }

    @Test func replacesHeadersTheSignerSets() throws {
        let signed = try Self.s3Signer.sign(
            method: "GET", path: "/k",
            headers: [
                ("host", "b.s3.amazonaws.com"), ("X-Amz-Date", "19990101T000000Z"), ("authorization", "old"),
                ("x-amz-content-sha256", "stale"),
            ],
            payloadHash: SigV4Signer.unsignedPayload, date: Self.suiteDate)
        #expect(
            signed.canonicalRequest == """
                GET
                /k

                host:b.s3.amazonaws.com
                x-amz-content-sha256:UNSIGNED-PAYLOAD
                x-amz-date:20150830T123600Z

                host;x-amz-content-sha256;x-amz-date
                UNSIGNED-PAYLOAD
                """)
        #expect(signed.headers.map(\.name) == ["x-amz-date", "x-amz-content-sha256", "authorization"])
    }

    @Test func signsTheSessionTokenForS3() throws {
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "tok/en+=")
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let signed = try signer.sign(
            method: "GET", path: "/k", headers: [("host", "h")], payloadHash: SigV4Signer.emptyPayloadHash,
            date: Self.suiteDate)
        #expect(signed.canonicalRequest.contains("\nx-amz-security-token:tok/en+=\n"))
        #expect(signed.headers.contains { $0 == (name: "x-amz-security-token", value: "tok/en+=") })

        let presigned = try signer.presign(
            method: "GET", path: "/k", query: [("X-Amz-Signature", "forged")], headers: [("host", "h")],
            expires: .seconds(60), date: Self.suiteDate)
        #expect(
            presigned.query.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature="))
        #expect(!presigned.query.contains("forged"))

        let unsignedToken = SigV4Signer(credentials: credentials, region: "eu-west-1", signsSessionToken: false)
        let after = try unsignedToken.presign(
            method: "GET", path: "/k", headers: [("host", "h")], expires: .seconds(60), date: Self.suiteDate)
        #expect(!after.canonicalRequest.contains("Security-Token"))
        #expect(after.query.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature="))
    }

    // MARK: Errors

    @Test(arguments: ["", "Bad Name", "x:y", "x\ny", "é", "a;b"])
    func rejectsHeaderNamesThatAreNotTokens(_ name: String) {
        let code = Self.code {
            try Self.s3Signer.sign(
                method: "GET", path: "/", headers: [("host", "h"), (name, "v")],
                payloadHash: SigV4Signer.emptyPayloadHash,
                date: Self.suiteDate)
        }
        #expect(code == .invalidHeaderName)
    }

    @Test func rejectsRequestsItCannotSign() {
        func sign(
            method: String = "GET", headers: [(String, String)] = [("host", "h")],
            date: Date = SigV4SignerTests.suiteDate
        ) throws {
            _ = try Self.s3Signer.sign(
                method: method, path: "/", headers: headers, payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        }
        #expect(Self.code { try sign(method: "") } == .invalidMethod)
        #expect(Self.code { try sign(method: "GET /x HTTP/1.1\nHost: evil") } == .invalidMethod)
        #expect(Self.code { try sign(headers: [("x-amz-meta-a", "b")]) } == .missingHost)
        for payloadHash in ["", "abc def", "e3b0\nx-amz-acl:public-read"] {
            let code = Self.code {
                try Self.s3Signer.sign(
                    method: "GET", path: "/", headers: [("host", "h")], payloadHash: payloadHash, date: Self.suiteDate)
            }
            #expect(code == .invalidPayloadHash)
        }
        #expect(Self.code { try sign(date: Date(timeIntervalSince1970: .nan)) } == .invalidDate)
        #expect(Self.code { try sign(date: Date(timeIntervalSince1970: .infinity)) } == .invalidDate)
        #expect(Self.code { try sign(date: Date(timeIntervalSince1970: 253_402_300_800)) } == .invalidDate)
        #expect(Self.code { try sign(date: Date(timeIntervalSince1970: -62_135_596_801)) } == .invalidDate)
        for expires: Duration in [.zero, .milliseconds(999), .seconds(-5), .seconds(604_801)] {
            let code = Self.code {
                try Self.s3Signer.presign(
                    method: "GET", path: "/", headers: [("host", "h")], expires: expires, date: Self.suiteDate)
            }
            #expect(code == .invalidExpiry, "\(expires)")
        }
    }

    @Test func keepsSecretsOutOfDescriptions() throws {
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "s3cr3t-key", sessionToken: "t0ken")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
        _ = try signer.sign(method: "GET", path: "/", headers: [("host", "h")], payloadHash: "x", date: Self.suiteDate)
        var dumped = ""
        dump(signer, to: &dumped)
        dump(credentials, to: &dumped)
        let error = try #require(
            throws: SigningError.self,
            performing: {
                try signer.sign(
                    method: "GET", path: "/", headers: [("bad name", "s3cr3t-key t0ken")], payloadHash: "", date: .now)
            })
        let texts = [
            "\(credentials)", String(reflecting: credentials), "\(signer)", String(reflecting: signer), dumped,
            "\(error)", String(reflecting: error),
        ]
        for text in texts {
            #expect(!text.contains("s3cr3t") && !text.contains("t0ken"), "\(text)")
        }
        #expect("\(credentials)".contains("AKID"))
    }

    // MARK: Keys, dates and the key cache

    /// RFC 4231 test cases 2 (a short key) and 6 (a key longer than a block, hashed first).
    @Test(arguments: [
        (
            Array("Jefe".utf8), "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            [UInt8](repeating: 0xAA, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
    ])
    func signingKeyComputesHMACSHA256(_ key: [UInt8], _ message: String, _ expected: String) {
        #expect(SigningKey(key).signature(of: Array(message.utf8)) == expected)
    }

    @Test(arguments: [
        (0.0, "19700101T000000Z"), (-1.0, "19691231T235959Z"), (951_868_799.5, "20000229T235959Z"),
        (1_369_353_600, "20130524T000000Z"), (1_440_938_160, "20150830T123600Z"), (4_107_542_400, "21000301T000000Z"),
        (253_402_300_799.9, "99991231T235959Z"), (-62_135_596_800, "00010101T000000Z"),
    ])
    func formatsAMZDates(_ seconds: Double, _ expected: String) throws {
        let date = try AMZDate(Date(timeIntervalSince1970: seconds))
        #expect(date.timestamp == expected)
        #expect(date.dateStamp == expected.prefix(8))
    }

    /// The signer caches the last second's timestamp and the last day's key: signatures from one signer shared by
    /// concurrent tasks, over seconds of one day (a fraction apart too) and over days, equal fresh signers' ones.
    @Test func cachedSigningKeysAndTimestampsFollowTheDate() async throws {
        let days = [0, 0.25, 1, 59.999, 86_400, 86_401, 2 * 86_400, 3 * 86_400 - 0.5].map {
            Self.suiteDate.addingTimeInterval($0)
        }
        @Sendable func sign(_ signer: SigV4Signer, _ date: Date) throws -> String {
            try signer.sign(method: "GET", path: "/", headers: [("host", "h")], payloadHash: "x", date: date).signature
        }
        let expected = try days.map { try sign(SigV4Signer(credentials: Self.credentials, region: "us-east-1"), $0) }
        let shared = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<50 {
                        let day = (task + round) % days.count
                        let signature = try sign(shared, days[day])
                        #expect(signature == expected[day])
                    }
                }
            }
            try await group.waitForAll()
        }
        // Instants within one second sign alike; every other pair differs.
        #expect(expected[0] == expected[1])
        #expect(Set(expected).count == days.count - 1)
    }

    // MARK: Helpers

    static let credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3Signer = SigV4Signer(credentials: credentials, region: "us-east-1")

    /// The code of the ``SigningError`` `body` throws; `nil` when it throws nothing (or something else).
    static func code(_ body: () throws -> Any) -> SigningError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? SigningError)?.code
        }
    }
}

extension SigV4Signer {
    /// `20150830T123600Z` as a Date, for the fixtures' signing times.
    static func dateFromAMZ(_ text: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return try #require(formatter.date(from: text), "'\(text)' is not an x-amz-date")
    }
}

// MARK: - Fixtures

/// `shared/data/sigv4`: the repository lives at `<X>/main`, the shared folder at `<X>/shared`.
enum SigV4Fixtures {
    static func directory() throws -> URL {
        let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = repository.deletingLastPathComponent().appendingPathComponent("shared/data/sigv4")
        var isDirectory: ObjCBool = false
        try #require(
            FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) && isDirectory.boolValue,
            """
            The SigV4 fixtures are missing: expected AWS's test suite and the S3 examples in \(folder.path) \
            (shared/data/sigv4 beside the repository). Lay the shared folder beside the checkout and run again.
            """)
        return folder
    }

    static func text(_ file: URL) throws -> String {
        do {
            return try String(contentsOf: file, encoding: .utf8)
        } catch {
            Issue.record("Cannot read the fixture \(file.path): \(error)")
            throw error
        }
    }

    struct SuiteEntry: Decodable {
        var `case`: String
        var signature: String
        var creqSha256: String

        enum CodingKeys: String, CodingKey {
            case `case`, signature
            case creqSha256 = "creq_sha256"
        }
    }

    static func suiteIndex() throws -> [SuiteEntry] {
        try JSONDecoder().decode(
            [SuiteEntry].self, from: Data(contentsOf: directory().appendingPathComponent("suite-index.json")))
    }

    static func s3Examples() throws -> S3Examples {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(
            S3Examples.self, from: Data(contentsOf: directory().appendingPathComponent("s3-examples.json")))
    }
}

/// `s3-examples.json`.
struct S3Examples: Decodable {
    struct Credentials: Decodable {
        var accessKeyId: String
        var secretAccessKey: String
    }

    struct Expected: Decodable {
        var canonicalRequest: String
        var stringToSign: String
        var signature: String
        var authorization: String?
        var presignedUrl: String?
    }

    struct Published: Decodable {
        var signature: String?
        var seedSignature: String?
        var chunkSignatures: [String]?
        var trailerSignature: String?
    }

    struct Chunk: Decodable {
        var chunkSize: Int
        var chunkDataSha256: String
        var signature: String
        var chunkHeader: String
    }

    struct Trailer: Decodable {
        var trailingHeaderLine: String
        var trailingHeaderSha256: String
        var signature: String
    }

    struct Example: Decodable {
        var name: String
        var method: String
        var canonicalUri: String
        var canonicalQuery: String
        var headers: [String: String]
        var payload: String?
        var payloadSha256: String
        var expected: Expected
        var published: Published?
        var requestTarget: String
        var host: String
        var expiresSeconds: Int64?
        var chunks: [Chunk]?
        var trailer: Trailer?
    }

    struct GeneralExample: Decodable {
        var name: String
        var credentials: Credentials
        var region: String
        var service: String
        var amzDate: String
        var signingKeyHex: String
        var method: String
        var canonicalUri: String
        var canonicalQuery: String
        var headers: [String: String]
        var payloadSha256: String
        var expected: Expected
    }

    var credentials: Credentials
    var region: String
    var service: String
    var amzDate: String
    var date: String
    var signingKeyHex: String
    var examples: [Example]
    var generalExamples: [GeneralExample]

    var signingDate: Date {
        get throws { try SigV4Signer.dateFromAMZ(amzDate) }
    }

    func signer() -> SigV4Signer {
        SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey),
            region: region, service: service)
    }

    func example(named name: String) throws -> Example {
        try #require(examples.first { $0.name == name }, "s3-examples.json has no example '\(name)'")
    }
}

// MARK: - Raw requests

/// A raw HTTP request as the suite writes it (`.req`): request line, headers, blank line, body. Continuation lines
/// (starting with whitespace) stay in their header's value, line break included, as an obs-fold parser hands them
/// on: folding them is the signer's job.
struct RawRequest {
    /// A request target split into a decoded path and decoded query items.
    struct Target {
        var path: String
        var query: [(String, String)]

        init(parsing target: String) {
            let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            path = String(parts[0])
            let items = parts.count > 1 ? parts[1].split(separator: "&") : []
            query = items.map { item in
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decoded(_ text: Substring) -> String { String(text).removingPercentEncoding ?? String(text) }
                return (decoded(pair[0]), pair.count > 1 ? decoded(pair[1]) : "")
            }
        }
    }

    var method: String
    var path: String
    var query: [(String, String)]
    var headers: [(String, String)] = []
    var body: String

    init(parsing text: String) throws {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        let head: Substring
        if let blank = normalized.range(of: "\n\n") {
            head = normalized[..<blank.lowerBound]
            body = String(normalized[blank.upperBound...])
        } else {
            head = normalized[...]
            body = ""
        }
        let lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = try #require(lines.first, "empty request")
        // `GET /example space/ HTTP/1.1`: the target may hold spaces, so it runs to the last one.
        let firstSpace = try #require(requestLine.firstIndex(of: " "), "no method in '\(requestLine)'")
        let lastSpace = try #require(requestLine.lastIndex(of: " "), "no HTTP version in '\(requestLine)'")
        try #require(firstSpace < lastSpace, "no target in '\(requestLine)'")
        method = String(requestLine[..<firstSpace])
        let target = Target(parsing: String(requestLine[requestLine.index(after: firstSpace)..<lastSpace]))
        path = target.path
        query = target.query
        for line in lines.dropFirst() {
            if let first = line.first, first == " " || first == "\t", let last = headers.indices.last {
                headers[last].1 += "\n" + line
            } else {
                let colon = try #require(line.firstIndex(of: ":"), "no colon in header line '\(line)'")
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
    }

    /// The value of the first `name:` header line in a raw request, trimmed.
    static func headerValue(_ name: String, in text: String) -> String? {
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() else {
                continue
            }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
