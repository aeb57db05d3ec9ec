import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A client for one S3 bucket (AWS, MinIO, SeaweedFS, …): objects put, read, listed and deleted, and large bodies
/// uploaded in parts, every request signed with ``SigV4Signer`` and retried with backoff when the failure is
/// transient.
///
/// Every upload carries a checksum the server verifies (``Configuration/checksum``); a failed multipart upload is
/// aborted, so it leaves no parts behind. Errors are ``ObjectStoreError``s that say what to check and never contain
/// the secret key or the session token.
public final class S3Client: Sendable, CustomStringConvertible {
    /// The bucket every operation works in.
    public let bucket: String
    /// The configuration the client was made with.
    public let configuration: Configuration

    let signer: SigV4Signer
    let endpoint: Endpoint
    let pathStyle: Bool
    let httpClient: HTTPClient
    let ownsHTTPClient: Bool
    let logger: Logger

    /// A client for `bucket`.
    ///
    /// - Parameters:
    ///   - httpClient: The client to send with. `nil` (the default) makes one with the configuration's timeouts,
    ///     no redirects and no connection retries of its own, shut down with this client. A client passed in keeps
    ///     its own timeouts and must not follow redirects (a redirected request loses its signature).
    ///   - logger: Where retries and aborted uploads are logged; keys appear in metadata, credentials never.
    /// - Throws: ``ObjectStoreError/Code/invalidConfiguration`` for an unusable endpoint, bucket name, part size or
    ///   credentials.
    public init(
        bucket: String, configuration: Configuration, httpClient: HTTPClient? = nil,
        logger: Logger = Logger(label: "unity-ai.object-store", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        try configuration.validate()
        guard !bucket.isEmpty, bucket.utf8.count <= 255, !bucket.contains("/"),
            bucket.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw ObjectStoreError.invalidConfiguration(
                "The bucket name \(ObjectStoreError.quoted(bucket)) is not valid: use lowercase letters, digits, "
                    + "dots and hyphens (such as unity-ai-backups).")
        }
        let endpoint = try configuration.endpoint.map(Endpoint.init(parsing:)) ?? .aws(region: configuration.region)
        self.bucket = bucket
        self.configuration = configuration
        self.endpoint = endpoint
        self.pathStyle =
            configuration.pathStyle ?? (configuration.endpoint != nil || !Self.isVirtualHostable(bucket))
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        self.logger = logger
        if let httpClient {
            self.httpClient = httpClient
            self.ownsHTTPClient = false
        } else {
            var settings = HTTPClient.Configuration()
            settings.redirectConfiguration = .disallow
            // This client retries with backoff itself; the pool's own retries would hide a dead server for the whole
            // connect timeout on every attempt.
            settings.connectionPool.retryConnectionEstablishment = false
            settings.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, configuration.partsInFlight * 2)
            settings.timeout = HTTPClient.Configuration.Timeout(
                connect: Self.timeAmount(configuration.connectTimeout),
                read: Self.timeAmount(configuration.idleTimeout),
                write: Self.timeAmount(configuration.idleTimeout))
            self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
            self.ownsHTTPClient = true
        }
    }

    deinit {
        // Without blocking: the last reference may go on an event loop, where a blocking shutdown would stall it.
        if ownsHTTPClient { httpClient.shutdown { _ in } }
    }

    public var description: String {
        "S3Client(bucket: \(bucket), endpoint: \(endpointDescription), accessKeyID: "
            + "\(configuration.credentials.accessKeyID), pathStyle: \(pathStyle))"
    }

    /// `http://127.0.0.1:8333` or `https://s3.eu-west-1.amazonaws.com`: for messages.
    var endpointDescription: String { "\(endpoint.scheme)://\(endpoint.authority())\(endpoint.basePath)" }

    // MARK: Objects

    /// Stores `body` under `key` with one PutObject request, replacing any object there.
    ///
    /// The body's checksum is sent (``Configuration/checksum``) so the server refuses corrupted bytes, and compared
    /// with the checksum or ETag the server returns. For bodies of unknown or large size use
    /// ``upload(from:to:contentType:metadata:sizeHint:)``.
    ///
    /// - Parameters:
    ///   - metadata: User metadata (`x-amz-meta-*`): names are lowercased; values must be printable ASCII.
    @discardableResult
    public func put(
        _ body: ByteBuffer, at key: String, contentType: String? = nil, metadata: [String: String] = [:]
    ) async throws -> UploadedObject {
        try Self.validate(key: key)
        let headers = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        return try await put(
            body, at: key, headers: headers, digest: PayloadDigest(of: body, checksum: configuration.checksum))
    }

    /// PutObject of a body whose digest is known, with headers already checked.
    func put(
        _ body: ByteBuffer, at key: String, headers: [(String, String)], digest: PayloadDigest
    ) async throws -> UploadedObject {
        let request = S3Request(
            operation: "PutObject", method: .PUT, key: key, headers: headers + digest.headers, body: body,
            payloadHash: digest.sha256Hex, idempotent: true)
        let (_, responseHeaders) = try await perform(request) { response in
            (try await Self.drain(response), response.headers)
        }
        let etag = Self.unquoted(responseHeaders.first(name: "etag") ?? "")
        try digest.verify(echoedSHA256: responseHeaders.first(name: "x-amz-checksum-sha256"), etag: etag) { what in
            "The server stored \(ObjectStoreError.target(bucket: bucket, key: key)) with \(what). Upload it again."
        }
        return UploadedObject(
            key: key, etag: etag, size: body.readableBytes, checksumSHA256: digest.sha256Base64, partCount: nil)
    }

    /// The object's size, ETag, metadata and checksum; `nil` when there is no object under `key` (a missing bucket
    /// answers HEAD the same way; ``get(_:range:)`` and ``put(_:at:contentType:metadata:)`` tell them apart).
    ///
    /// A HEAD answer has no body to say why it was refused; on HTTP 403 the client asks again with a one-byte GET to
    /// learn the reason (a wrong secret, an unknown key, a policy), so the error says what to check.
    public func head(_ key: String) async throws -> ObjectInfo? {
        try Self.validate(key: key)
        let request = S3Request(
            operation: "HeadObject", method: .HEAD, key: key, headers: [("x-amz-checksum-mode", "ENABLED")],
            idempotent: true, accepts: { $0 == 404 || (200..<300).contains($0) })
        do {
            return try await perform(request) { response -> ObjectInfo? in
                _ = try await Self.drain(response)
                guard response.status.code != 404 else { return nil }
                return ObjectInfo(key: key, headers: response.headers, status: Int(response.status.code))
            }
        } catch let error as ObjectStoreError where error.code == .accessDenied && error.serverCode == nil {
            // The reason is in a GET's body. A GET that succeeds after all leaves the HEAD's error standing.
            do {
                let probe = try await get(key, range: 0...0)
                _ = try await probe.body.collect(upTo: 1)
            } catch let reason as ObjectStoreError where reason.code != .notFound && reason.code != .invalidRange {
                throw reason
            }
            throw error
        }
    }

    /// Reads an object as a stream of chunks; the request is made (and retried) before this returns, the body is
    /// read as the caller iterates ``ObjectDownload/body``.
    ///
    /// - Parameters:
    ///   - range: Bytes to read, both ends included (`bytes=a-b`); `nil` for the whole object. A range past the end
    ///     is cut at the end; one that starts past it fails with ``ObjectStoreError/Code/invalidRange``.
    /// - Throws: ``ObjectStoreError/Code/notFound`` when there is no object under `key`.
    public func get(_ key: String, range: ClosedRange<Int>? = nil) async throws -> ObjectDownload {
        try Self.validate(key: key)
        if let range, range.lowerBound < 0 {
            throw ObjectStoreError.invalidRequest("The byte range \(range) starts before 0.")
        }
        var headers = [("x-amz-checksum-mode", "ENABLED")]
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        let request = S3Request(operation: "GetObject", method: .GET, key: key, headers: headers, idempotent: true)
        let response = try await perform(request) { $0 }
        let info = ObjectInfo(key: key, headers: response.headers, status: Int(response.status.code))
        if range != nil, response.status.code != 206 {
            throw ObjectStoreError.badResponse(
                "The server answered a ranged GET of \(ObjectStoreError.target(bucket: bucket, key: key)) with the "
                    + "whole object (HTTP \(response.status.code)); it does not support ranges.")
        }
        // A whole-object checksum can be checked against a whole-object read; a composite one (`…-3`) cannot.
        let expectedSHA256 =
            range == nil && configuration.verifiesDownloads
            ? info.checksumSHA256.flatMap { $0.contains("-") ? nil : $0 } : nil
        let length = response.headers.first(name: "content-length").flatMap(Int.init)
        return ObjectDownload(
            info: info,
            body: ObjectBody(
                upstream: response.body, expectedLength: length, expectedSHA256: expectedSHA256,
                context: ObjectBody.Context(bucket: bucket, key: key, client: self)))
    }

    /// Deletes the object under `key`. Deleting a key that has no object succeeds, as in S3.
    public func delete(_ key: String) async throws {
        try Self.validate(key: key)
        let request = S3Request(operation: "DeleteObject", method: .DELETE, key: key, idempotent: true)
        try await perform(request) { _ = try await Self.drain($0) }
    }

    /// Creates the bucket; succeeds when it exists and is ours already.
    public func createBucket() async throws {
        var body: ByteBuffer?
        var headers: [(String, String)] = []
        // us-east-1 is the default location, and AWS refuses it spelled out.
        if configuration.region != "us-east-1" {
            body = ByteBuffer(
                string: "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + "<LocationConstraint>\(S3XML.escaped(configuration.region))</LocationConstraint>"
                    + "</CreateBucketConfiguration>")
            headers.append(("content-type", "application/xml"))
        }
        let request = S3Request(
            operation: "CreateBucket", method: .PUT, key: nil, headers: headers, body: body,
            payloadHash: body.map(Self.sha256Hex(of:)) ?? SigV4Signer.emptyPayloadHash,
            idempotent: true)
        do {
            try await perform(request) { _ = try await Self.drain($0) }
        } catch let error as ObjectStoreError where error.serverCode == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    // MARK: Requests

    /// One S3 request, before signing.
    struct S3Request: Sendable {
        /// The S3 operation's name, for messages and logs: `PutObject`.
        var operation: String
        var method: HTTPMethod
        /// The object key; `nil` for requests on the bucket.
        var key: String?
        /// Decoded query items.
        var query: [(String, String)] = []
        /// Headers to send and sign, besides `host` and those the signer adds.
        var headers: [(String, String)] = []
        var body: ByteBuffer?
        /// The body's SHA-256 in hex: it is signed, so a body changed on the way fails the signature on servers that
        /// check it.
        var payloadHash: String = SigV4Signer.emptyPayloadHash
        /// Whether sending it twice does no harm: only those are retried after the server may have acted on them.
        var idempotent: Bool
        /// The statuses that are answers rather than errors.
        var accepts: @Sendable (Int) -> Bool = { (200..<300).contains($0) }
    }

    /// The host and decoded path a request for `key` (or the bucket) goes to.
    func address(for key: String?) -> (host: String, path: String) {
        if pathStyle {
            let path = endpoint.basePath + "/" + bucket + (key.map { "/" + $0 } ?? "")
            return (endpoint.authority(), path)
        }
        return (endpoint.authority(host: "\(bucket).\(endpoint.host)"), endpoint.basePath + "/" + (key ?? ""))
    }

    /// Signs and sends one attempt; returns once the response head arrived.
    func send(_ request: S3Request) async throws -> HTTPClientResponse {
        let (host, path) = address(for: request.key)
        let headers = [("host", host)] + request.headers
        let signed: SignedRequest
        do {
            signed = try signer.sign(
                method: request.method.rawValue, path: path, query: request.query, headers: headers,
                payloadHash: request.payloadHash, date: .now)
        } catch let error as SigningError {
            throw ObjectStoreError(
                .invalidRequest, "Cannot sign \(request.operation): \(error.message)", underlying: error)
        }
        var url = "\(endpoint.scheme)://\(host)\(signed.path)"
        if !signed.query.isEmpty { url += "?" + signed.query }
        var http = HTTPClientRequest(url: url)
        http.method = request.method
        http.headers.reserveCapacity(headers.count + signed.headers.count)
        for (name, value) in headers { http.headers.add(name: name, value: value) }
        for (name, value) in signed.headers { http.headers.add(name: name, value: value) }
        if let body = request.body { http.body = .bytes(body) }
        return try await httpClient.execute(http, timeout: Self.timeAmount(configuration.requestTimeout))
    }

    /// Reads a small response body whole (an error, a listing, a multipart answer), up to `limit` bytes.
    static func collect(_ response: HTTPClientResponse, limit: Int = 16 << 20) async throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for try await chunk in response.body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else {
                throw ObjectStoreError.badResponse("The server's answer is over \(limit) bytes.")
            }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        return buffer
    }

    /// Reads and drops a body S3 leaves empty, so the connection can serve the next request.
    static func drain(_ response: HTTPClientResponse) async throws -> Int {
        var count = 0
        for try await chunk in response.body { count += chunk.readableBytes }
        return count
    }

    // MARK: Helpers

    /// A body's SHA-256 in lowercase hex, as the signature's payload hash.
    static func sha256Hex(of body: ByteBuffer) -> String {
        SigV4Signer.hex(body.withUnsafeReadableBytes { SHA256.hash(data: $0) })
    }

    /// S3 keys are 1 to 1024 bytes of UTF-8.
    static func validate(key: String) throws {
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw ObjectStoreError.invalidRequest(
                "The key \(ObjectStoreError.quoted(key)) is \(key.isEmpty ? "empty" : "over 1024 bytes"); S3 keys "
                    + "are 1 to 1024 bytes.")
        }
    }

    /// `content-type` and `x-amz-meta-*` headers, checked.
    static func objectHeaders(contentType: String?, metadata: [String: String]) throws -> [(String, String)] {
        var headers: [(String, String)] = []
        if let contentType {
            guard contentType.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) else {
                throw ObjectStoreError.invalidRequest(
                    "The content type \(ObjectStoreError.quoted(contentType)) is not printable ASCII.")
            }
            headers.append(("content-type", contentType))
        }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.utf8.allSatisfy(SigV4Signer.isTokenCharacter),
                value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F })
            else {
                throw ObjectStoreError.invalidRequest(
                    "The metadata \(ObjectStoreError.quoted(name)) cannot be sent: names are HTTP tokens and values "
                        + "printable ASCII (encode other text, for example as percent-encoding).")
            }
            headers.append(("x-amz-meta-" + name.lowercased(), value))
        }
        return headers
    }

    /// An ETag without its quotes.
    static func unquoted(_ etag: String) -> String {
        var etag = Substring(etag)
        if etag.hasPrefix("W/") { etag = etag.dropFirst(2) }
        if etag.count >= 2, etag.hasPrefix("\""), etag.hasSuffix("\"") { etag = etag.dropFirst().dropLast() }
        return String(etag)
    }

    /// Whether AWS can address the bucket as a host name under TLS: DNS-compatible and without dots, which the
    /// wildcard certificate would not cover.
    static func isVirtualHostable(_ bucket: String) -> Bool {
        guard (3...63).contains(bucket.utf8.count), !bucket.hasPrefix("-"), !bucket.hasSuffix("-") else {
            return false
        }
        return bucket.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(nanoseconds(duration))
    }
}

/// The checksums of one body: the SHA-256 that signs it and, per ``S3Client/Configuration/Checksum``, the header
/// the server verifies it with.
struct PayloadDigest: Sendable {
    var sha256Hex: String
    var sha256Base64: String
    var md5Hex: String?
    var headers: [(String, String)]

    init(of body: ByteBuffer, checksum: S3Client.Configuration.Checksum) {
        self.init(sha256: Array(body.withUnsafeReadableBytes { SHA256.hash(data: $0) }), of: body, checksum: checksum)
    }

    /// With the body's SHA-256 already computed (in the same pass as a whole file's, by
    /// ``S3Client/uploadFile(at:to:contentType:metadata:expectingSHA256:)``).
    init(sha256: [UInt8], of body: ByteBuffer, checksum: S3Client.Configuration.Checksum) {
        sha256Hex = SigV4Signer.hex(sha256)
        sha256Base64 = Data(sha256).base64EncodedString()
        if checksum == .contentMD5 {
            let md5 = body.withUnsafeReadableBytes { Insecure.MD5.hash(data: $0) }
            md5Hex = SigV4Signer.hex(md5)
            headers = [("content-md5", Data(md5).base64EncodedString())]
        } else {
            md5Hex = nil
            headers = [("x-amz-checksum-sha256", sha256Base64)]
        }
    }

    /// Compares what the server says it stored with what was sent: the echoed SHA-256 when it sends one, the ETag
    /// when we sent an MD5 and the ETag is a plain MD5 (not a multipart or encrypted object's).
    func verify(echoedSHA256: String?, etag: String, message: (String) -> String) throws {
        if let echoedSHA256, echoedSHA256 != sha256Base64 {
            throw ObjectStoreError.checksumMismatch(
                message("the SHA-256 \(echoedSHA256), but the bytes sent hash to \(sha256Base64)"))
        }
        if let md5Hex, etag.count == 32, etag.allSatisfy(\.isHexDigit), etag.lowercased() != md5Hex {
            throw ObjectStoreError.checksumMismatch(message("the ETag \(etag), but the bytes sent have MD5 \(md5Hex)"))
        }
    }
}
