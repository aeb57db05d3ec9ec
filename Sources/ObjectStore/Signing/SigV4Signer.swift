import Crypto
import Foundation
import Synchronization

/// Credentials for AWS Signature Version 4. The secret and the session token never show in descriptions, dumps or
/// errors.
public struct AWSCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key ID (`AKIA…`). Not secret: every signature names it in its credential scope.
    public var accessKeyID: String
    /// The secret access key. Used only as HMAC key material, never sent.
    public var secretAccessKey: String
    /// The session token of temporary (STS) credentials, sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>"
            + (sessionToken == nil ? ")" : ", sessionToken: <redacted>)")
    }

    public var debugDescription: String { description }

    /// Redacted too, so `dump` and debuggers cannot show the secret.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": accessKeyID, "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
            ])
    }
}

/// What to send for a signed request: the headers to add, and the path and query exactly as they were signed.
public struct SignedRequest: Sendable {
    /// Headers to add (lowercase names): `x-amz-date`, `x-amz-content-sha256` (S3), `x-amz-security-token`
    /// (temporary credentials) and `authorization`. Empty for a presigned URL, which carries all in its query.
    public var headers: [(name: String, value: String)]
    /// The percent-encoded path. Send this rather than the caller's path: the server checks the signature against
    /// the bytes on the wire.
    public var path: String
    /// The percent-encoded query, sorted as signed; a presigned URL's ends with `X-Amz-Signature`. Empty when none.
    public var query: String
    /// The signature, 64 lowercase hex digits. For a streaming upload, the seed the chunk signatures chain from.
    public var signature: String
    /// The `Authorization` header's value; `nil` for a presigned URL.
    public var authorization: String?
    /// The canonical request that was signed. S3 sends its own in a `SignatureDoesNotMatch` error; comparing the two
    /// shows which part differs.
    public var canonicalRequest: String { String(decoding: canonicalRequestBytes, as: UTF8.self) }
    /// The string to sign, built from ``canonicalRequest``.
    public var stringToSign: String {
        SigV4Signer.withStringToSign(canonicalRequest: canonicalRequestBytes, timestamp: timestamp, scope: scope) {
            String(decoding: $0, as: UTF8.self)
        }
    }

    // Kept as bytes and made Strings only when read: few callers ever read them, and every request is signed. The
    // string to sign is rebuilt from them on demand, so signing keeps it on the stack.
    let canonicalRequestBytes: [UInt8]
    let timestamp: String
    let scope: String
}

/// Signs requests with AWS Signature Version 4: `Authorization` headers, presigned URLs and the chunks of a
/// streaming upload. Pure: no I/O, and the time is a parameter.
///
/// Paths and query items are passed decoded (`/bucket/my key.txt`, `("prefix", "a/b")`). The signer percent-encodes
/// them once, as S3 expects, and returns the encoded forms in ``SignedRequest``, so the request sent matches the one
/// signed byte for byte. Every header passed is signed: pass only those no proxy will rewrite.
public final class SigV4Signer: Sendable, CustomStringConvertible, CustomReflectable {
    /// The payload hash for a body that is not signed (presigned URLs, or bodies checked by other means).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The payload hash for an `aws-chunked` upload whose chunks are signed with
    /// ``chunkSignature(previous:chunkHash:date:)``.
    public static let streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    /// The payload hash for an `aws-chunked` upload with signed chunks and a signed trailer (a checksum).
    public static let streamingPayloadWithTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    /// SHA-256 of the empty body, in hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The credentials whose secret keys every signature.
    public let credentials: AWSCredentials
    /// The region, such as `us-east-1`; part of the credential scope.
    public let region: String
    /// The service, such as `s3`; part of the credential scope.
    public let service: String
    /// Whether empty, `.` and `..` path segments are removed before signing: `false` for S3, whose keys may contain
    /// them, `true` for other services.
    public let normalizesPath: Bool
    /// Whether `x-amz-security-token` is signed (S3 and most services) or added after signing (services that ask
    /// for that).
    public let signsSessionToken: Bool

    /// S3 wants the payload hash in `x-amz-content-sha256`, signed; other services do not read it.
    private let sendsContentHash: Bool
    /// Caller headers the signer sets itself; a caller's copy would be signed twice or conflict.
    private let ownedHeaders: [String]
    /// The last signing second's timestamp and its day's key and scope. Deriving the key takes four HMACs, more than a
    /// signature, and changes once a day; the timestamp changes once a second, and requests come many a second.
    private let cachedTime = Mutex<SigningTime?>(nil)

    /// A signing second: its timestamp and its day.
    private struct SigningTime: Sendable {
        var second: Int
        var time: AMZDate
        var day: SigningDay
    }

    /// What signatures share for a day.
    private struct SigningDay: Sendable {
        /// Days since 1970-01-01.
        var day: Int
        /// `20130524/us-east-1/s3/aws4_request`.
        var scope: String
        /// `AKID/20130524/us-east-1/s3/aws4_request`: the access key and the scope.
        var credential: String
        var key: SigningKey
    }

    /// A signer for one region and service.
    ///
    /// - Parameters:
    ///   - normalizesPath: Whether to drop empty, `.` and `..` path segments; `nil` means every service but `s3`.
    ///   - signsSessionToken: Whether the session token is part of the signature (the default) or added after.
    public init(
        credentials: AWSCredentials, region: String, service: String = "s3", normalizesPath: Bool? = nil,
        signsSessionToken: Bool = true
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizesPath = normalizesPath ?? (service != "s3")
        self.signsSessionToken = signsSessionToken
        self.sendsContentHash = service == "s3"
        var owned = ["authorization", "x-amz-date"]
        if sendsContentHash { owned.append("x-amz-content-sha256") }
        if credentials.sessionToken != nil { owned.append("x-amz-security-token") }
        self.ownedHeaders = owned
    }

    public var description: String {
        "SigV4Signer(accessKeyID: \(credentials.accessKeyID), region: \(region), service: \(service))"
    }

    /// Shows no key material: the cached signing key stays out of `dump`.
    public var customMirror: Mirror {
        Mirror(self, children: ["credentials": credentials, "region": region, "service": service])
    }

    /// Signs a request for the `Authorization` header.
    ///
    /// - Parameters:
    ///   - method: `GET`, `PUT`, …
    ///   - path: The decoded path, such as `/bucket/my key.txt`.
    ///   - query: Decoded query items, in any order; `("lifecycle", "")` for a bare `?lifecycle`.
    ///   - headers: Headers to sign, `host` included. The signer sets `x-amz-date`, `x-amz-content-sha256` (S3) and
    ///     `x-amz-security-token`, replacing any passed.
    ///   - payloadHash: The body's SHA-256 in lowercase hex (``payloadHash(of:)``), ``unsignedPayload`` or
    ///     ``streamingPayload``.
    /// - Throws: ``SigningError`` when the method, a header name or the payload hash is not an HTTP token, `host` is
    ///   missing, or the date has no four-digit year.
    public func sign(
        method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
        payloadHash: String, date: Date = .now
    ) throws -> SignedRequest {
        let (time, day) = try signingTime(date)
        var added: [(name: String, value: String)] = []
        added.reserveCapacity(4)
        added.append(("x-amz-date", time.timestamp))
        if sendsContentHash { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken, signsSessionToken { added.append(("x-amz-security-token", token)) }
        let canonical = try CanonicalHeaders.with(headers, adding: added, dropping: ownedHeaders) { canonicalHeaders in
            try Self.canonicalRequest(
                method: method, path: path, normalizingPath: normalizesPath, query: query, headers: canonicalHeaders,
                payloadHash: payloadHash)
        }
        let signature = sign(canonical.bytes, time: time, day: day)
        let authorization = Self.authorization(
            credential: day.credential, signedHeaders: canonical.bytes[canonical.signedHeaders], signature: signature)
        if let token = credentials.sessionToken, !signsSessionToken { added.append(("x-amz-security-token", token)) }
        added.append(("authorization", authorization))
        return SignedRequest(
            headers: added, path: canonical.path, query: canonical.query, signature: signature,
            authorization: authorization, canonicalRequestBytes: canonical.bytes, timestamp: time.timestamp,
            scope: day.scope)
    }

    /// Signs a request into its query: a presigned URL anyone holding it can use until it expires.
    ///
    /// - Parameters:
    ///   - headers: Headers the URL's user must send, `host` included (usually only `host`).
    ///   - expires: How long the URL is valid, in whole seconds: 1 s to 7 days.
    ///   - payloadHash: ``unsignedPayload`` unless the body is known now.
    /// - Returns: The path and the query to put after `?`; `headers` is empty.
    /// - Throws: ``SigningError`` as ``sign(method:path:query:headers:payloadHash:date:)`` does, and for an expiry
    ///   out of range.
    public func presign(
        method: String, path: String, query: [(String, String)] = [], headers: [(String, String)], expires: Duration,
        payloadHash: String = SigV4Signer.unsignedPayload, date: Date = .now
    ) throws -> SignedRequest {
        let seconds = expires.components.seconds
        guard seconds >= 1, seconds <= 604_800 else { throw SigningError.invalidExpiry(seconds: seconds) }
        let (time, day) = try signingTime(date)
        let canonical = try CanonicalHeaders.with(headers, adding: [], dropping: ["authorization"]) { canonicalHeaders in
            // The signature's own parameters are the signer's; a caller's copy would be sent twice.
            var items = query.filter { !Self.presignParameters.contains($0.0.lowercased()) }
            items.reserveCapacity(items.count + 6)
            items.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
            items.append(("X-Amz-Credential", day.credential))
            items.append(("X-Amz-Date", time.timestamp))
            items.append(("X-Amz-Expires", String(seconds)))
            items.append(("X-Amz-SignedHeaders", canonicalHeaders.signedHeaders))
            if let token = credentials.sessionToken, signsSessionToken { items.append(("X-Amz-Security-Token", token)) }
            return try Self.canonicalRequest(
                method: method, path: path, normalizingPath: normalizesPath, query: items, headers: canonicalHeaders,
                payloadHash: payloadHash)
        }
        let signature = sign(canonical.bytes, time: time, day: day)
        var signedQuery = canonical.query
        if let token = credentials.sessionToken, !signsSessionToken {
            signedQuery += "&X-Amz-Security-Token=" + Self.percentEncoded(token)
        }
        signedQuery += "&X-Amz-Signature=" + signature
        return SignedRequest(
            headers: [], path: canonical.path, query: signedQuery, signature: signature, authorization: nil,
            canonicalRequestBytes: canonical.bytes, timestamp: time.timestamp, scope: day.scope)
    }

    /// Signs one chunk of an `aws-chunked` upload (``streamingPayload``); the last chunk is the empty one.
    ///
    /// - Parameters:
    ///   - previous: The previous chunk's signature; for the first chunk, the request's (seed) signature.
    ///   - chunkHash: The chunk's SHA-256 in lowercase hex (``payloadHash(of:)``).
    ///   - date: The request's signing date: every chunk is signed with the seed's time.
    /// - Returns: The chunk's signature, sent as `hex(size);chunk-signature=SIGNATURE`.
    public func chunkSignature(previous: String, chunkHash: String, date: Date) throws -> String {
        try sign(
            algorithm: "AWS4-HMAC-SHA256-PAYLOAD", date: date, lines: [previous, Self.emptyPayloadHash, chunkHash])
    }

    /// Signs the trailer of an `aws-chunked` upload (``streamingPayloadWithTrailer``), sent as
    /// `x-amz-trailer-signature`.
    ///
    /// - Parameters:
    ///   - previous: The last (empty) chunk's signature.
    ///   - trailerHash: SHA-256, in lowercase hex, of the trailer lines as sent, each ending in `\n`
    ///     (`x-amz-checksum-crc32c:sOO8/Q==\n`).
    ///   - date: The request's signing date.
    public func trailerSignature(previous: String, trailerHash: String, date: Date) throws -> String {
        try sign(algorithm: "AWS4-HMAC-SHA256-TRAILER", date: date, lines: [previous, trailerHash])
    }

    /// The SHA-256 of a body in lowercase hex, as `payloadHash` and `chunkHash` take it.
    public static func payloadHash(of body: some DataProtocol) -> String {
        hex(SHA256.hash(data: body))
    }

    // MARK: Signing

    /// Query parameters a presigned URL's signature owns, lowercased.
    private static let presignParameters: Set<String> = [
        "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
        "x-amz-security-token", "x-amz-signature",
    ]

    /// Hashes the canonical request into the string to sign, and signs that.
    private func sign(_ canonicalRequest: [UInt8], time: AMZDate, day: SigningDay) -> String {
        Self.withStringToSign(canonicalRequest: canonicalRequest, timestamp: time.timestamp, scope: day.scope) {
            day.key.signature(of: $0)
        }
    }

    /// Runs `body` over the string to sign (`AWS4-HMAC-SHA256`, the time, the scope and the canonical request's
    /// SHA-256 in hex, one per line), built in a buffer on the stack.
    static func withStringToSign<Result>(
        canonicalRequest: [UInt8], timestamp: String, scope: String, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        let algorithm: StaticString = "AWS4-HMAC-SHA256\n"
        let count = algorithm.utf8CodeUnitCount + timestamp.utf8.count + scope.utf8.count + 2 + 64
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var writer = ByteWriter(buffer)
            writer.write(UnsafeBufferPointer(start: algorithm.utf8Start, count: algorithm.utf8CodeUnitCount))
            withUTF8(of: timestamp) { writer.write($0) }
            writer.write(newline)
            withUTF8(of: scope) { writer.write($0) }
            writer.write(newline)
            withUnsafeTemporaryAllocation(byteCount: 32, alignment: 16) { digest in
                canonicalRequest.withUnsafeBytes { sha256($0, into: digest) }
                writer.writeHex(UnsafeRawBufferPointer(digest))
            }
            return body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[..<writer.count])))
        }
    }

    /// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, written in one allocation.
    static func authorization(credential: String, signedHeaders: ArraySlice<UInt8>, signature: String) -> String {
        let prefix: StaticString = "AWS4-HMAC-SHA256 Credential="
        let signedLabel: StaticString = ", SignedHeaders="
        let signatureLabel: StaticString = ", Signature="
        let count =
            prefix.utf8CodeUnitCount + credential.utf8.count + signedLabel.utf8CodeUnitCount + signedHeaders.count
            + signatureLabel.utf8CodeUnitCount + signature.utf8.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            var writer = ByteWriter(buffer)
            writer.write(prefix)
            withUTF8(of: credential) { writer.write($0) }
            writer.write(signedLabel)
            signedHeaders.withUnsafeBufferPointer { writer.write($0) }
            writer.write(signatureLabel)
            withUTF8(of: signature) { writer.write($0) }
            return writer.count
        }
    }

    /// The SHA-256 of `bytes` into 32 bytes at `digest`: on the SHA extensions without allocating when the CPU has
    /// them, else with swift-crypto.
    static func sha256(_ bytes: UnsafeRawBufferPointer, into digest: UnsafeMutableRawBufferPointer) {
        guard SHA256Words.hardwareAvailable, let base = digest.baseAddress else {
            var hasher = SHA256()
            hasher.update(bufferPointer: bytes)
            hasher.finalize().withUnsafeBytes { digest.copyMemory(from: $0) }
            return
        }
        SHA256Words().finish(bytes, prefixLength: 0, into: base)
    }

    /// Signs `algorithm`, the time, the scope and `lines`, one per line: the chunk and trailer strings to sign.
    private func sign(algorithm: String, date: Date, lines: [String]) throws -> String {
        let (time, day) = try signingTime(date)
        var stringToSign: [UInt8] = []
        stringToSign.reserveCapacity(256)
        stringToSign.append(contentsOf: algorithm.utf8)
        stringToSign.append(Self.newline)
        stringToSign.append(contentsOf: time.timestamp.utf8)
        stringToSign.append(Self.newline)
        stringToSign.append(contentsOf: day.scope.utf8)
        for line in lines {
            stringToSign.append(Self.newline)
            stringToSign.append(contentsOf: line.utf8)
        }
        return day.key.signature(of: stringToSign)
    }

    /// The date's timestamp and its day's key and scope, from the cache or derived. Derived outside the lock: it is
    /// pure, and a rare duplicate derivation at a second's or a day's turn costs less than holding the lock through
    /// four HMACs.
    private func signingTime(_ date: Date) throws -> (AMZDate, SigningDay) {
        let second = try AMZDate.second(of: date)
        let cached = cachedTime.withLock { $0 }
        if let cached, cached.second == second { return (cached.time, cached.day) }
        let time = try AMZDate(date)
        let day: SigningDay
        if let cached, cached.day.day == time.day {
            day = cached.day
        } else {
            let dateStamp = time.dateStamp
            let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"
            day = SigningDay(
                day: time.day, scope: scope, credential: "\(credentials.accessKeyID)/\(scope)",
                key: SigningKey(
                    Self.signingKey(
                        secretAccessKey: credentials.secretAccessKey, dateStamp: dateStamp, region: region,
                        service: service)))
        }
        cachedTime.withLock { $0 = SigningTime(second: second, time: time, day: day) }
        return (time, day)
    }

    /// Derives the signing key: HMAC chained over the date, region, service and `aws4_request`, starting from
    /// `AWS4` + the secret.
    static func signingKey(secretAccessKey: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        var key = SymmetricKey(data: Array("AWS4\(secretAccessKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key.withUnsafeBytes { Array($0) }
    }
}

/// HMAC-SHA256 (RFC 2104) under a signing key, with the padded key blocks hashed once: a signature then hashes only
/// its own message. On the SHA extensions (``SHA256Words``) a signature allocates nothing; without them it runs on
/// swift-crypto's SHA-256 buffer API (`HMAC.update(data:)` is generic over `DataProtocol` and not specialised across
/// modules, which costs more than hashing a short string to sign).
struct SigningKey: Sendable {
    /// The state after `key XOR ipad`, and after `key XOR opad`.
    private let innerWords: SHA256Words
    private let outerWords: SHA256Words
    /// The same, as swift-crypto hashers, for CPUs without the SHA extensions.
    private let inner: SHA256
    private let outer: SHA256

    /// A key for HMAC-SHA256; a derived SigV4 key is 32 bytes.
    init(_ key: [UInt8]) {
        // RFC 2104: a key longer than a block is replaced by its hash.
        let key = key.count > 64 ? Array(SHA256.hash(data: key)) : key
        var innerPad = [UInt8](repeating: 0x36, count: 64)
        var outerPad = [UInt8](repeating: 0x5C, count: 64)
        for (index, byte) in key.enumerated() {
            innerPad[index] ^= byte
            outerPad[index] ^= byte
        }
        var inner = SHA256()
        innerPad.withUnsafeBytes { inner.update(bufferPointer: $0) }
        var outer = SHA256()
        outerPad.withUnsafeBytes { outer.update(bufferPointer: $0) }
        self.inner = inner
        self.outer = outer
        var innerWords = SHA256Words()
        var outerWords = SHA256Words()
        if SHA256Words.hardwareAvailable {
            innerPad.withUnsafeBytes { if let base = $0.baseAddress { innerWords.compress(base, count: 1) } }
            outerPad.withUnsafeBytes { if let base = $0.baseAddress { outerWords.compress(base, count: 1) } }
        }
        self.innerWords = innerWords
        self.outerWords = outerWords
    }

    /// The HMAC of `message` in lowercase hex.
    func signature(of message: [UInt8]) -> String {
        message.withUnsafeBytes { signature(of: $0) }
    }

    /// The HMAC of `message` in lowercase hex.
    func signature(of message: UnsafeRawBufferPointer) -> String {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 16) { digest in
            if SHA256Words.hardwareAvailable, let base = digest.baseAddress {
                innerWords.finish(message, prefixLength: 64, into: base)
                outerWords.finish(UnsafeRawBufferPointer(digest), prefixLength: 64, into: base)
            } else {
                var inner = inner
                inner.update(bufferPointer: message)
                var outer = outer
                inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
                outer.finalize().withUnsafeBytes { digest.copyMemory(from: $0) }
            }
            return SigV4Signer.hex(UnsafeRawBufferPointer(digest))
        }
    }
}

/// Writes bytes into a buffer of known size, front to back: the signer sizes every buffer before writing into it.
struct ByteWriter {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes written so far.
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        let room = min(bytes.count, buffer.count - count)
        guard room > 0, let target = buffer.baseAddress, let source = bytes.baseAddress else { return }
        (target + count).update(from: source, count: room)
        count += room
    }

    mutating func write(_ text: StaticString) {
        write(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Forgets what was written from `offset` on.
    mutating func rewind(to offset: Int) {
        count = min(count, max(0, offset))
    }

    mutating func write(_ byte: UInt8) {
        guard count < buffer.count else { return }
        buffer[count] = byte
        count += 1
    }

    /// Lowercase hex, as SigV4 writes hashes and signatures.
    mutating func writeHex(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            write(SigV4Signer.lowerHexDigit(byte >> 4))
            write(SigV4Signer.lowerHexDigit(byte & 0x0F))
        }
    }
}
