import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

extension S3Client {
    /// Sends `request` until it succeeds or fails for good, and hands each answered attempt's response to `handle`.
    ///
    /// An attempt fails when the server answers with a status `request` does not accept (its error body is read and
    /// parsed), when the transport fails, or when `handle` throws: a transport error there (a body cut short) counts
    /// like one before the answer, an ``S3ErrorResponse`` (S3's "200 with an error inside") like an error status, and
    /// an ``ObjectStoreError`` is final. Failures worth another try (5xx, throttling, broken connections, timeouts;
    /// never 4xx) are retried up to ``Configuration/maximumAttempts`` with exponential backoff and full jitter; a
    /// request that is not idempotent only when the server cannot have acted on it (throttled, or never connected).
    @discardableResult
    func perform<Result>(
        _ request: S3Request, _ handle: (HTTPClientResponse) async throws -> Result
    ) async throws -> Result {
        var attempt = 1
        while true {
            let failure: Failure
            do {
                if Task.isCancelled { throw CancellationError() }
                let response = try await send(request)
                let status = Int(response.status.code)
                guard request.accepts(status) else {
                    let body = try? await Self.collect(response, limit: 64 << 10)
                    throw S3ErrorResponse(status: status, headers: response.headers, body: body)
                }
                return try await handle(response)
            } catch let error as ObjectStoreError {
                throw error
            } catch let error as S3ErrorResponse {
                failure = .service(error)
            } catch {
                failure = Self.classify(transport: error)
            }
            guard attempt < configuration.maximumAttempts, failure.isRetryable(idempotent: request.idempotent) else {
                throw self.error(for: failure, request: request, attempts: attempt)
            }
            let delay = backoff(attempt: attempt, retryAfter: failure.retryAfter)
            logger.notice(
                "S3 request failed, retrying",
                metadata: [
                    "s3.operation": "\(request.operation)", "s3.key": "\(request.key ?? "")",
                    "s3.attempt": "\(attempt)", "s3.failure": "\(failure.summary)",
                    "s3.retry_delay_ms": "\(Self.nanoseconds(delay) / 1_000_000)",
                ])
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw ObjectStoreError.cancelled(operation: request.operation)
            }
            attempt += 1
        }
    }

    /// Full jitter: a random delay up to `base × 2^(attempt-1)`, capped; at least what `Retry-After` asked for.
    func backoff(attempt: Int, retryAfter: Duration?) -> Duration {
        let base = configuration.retryBaseDelay
        let cap = configuration.retryMaximumDelay
        let exponential = attempt >= 30 ? cap : min(cap, base * (1 << (attempt - 1)))
        let nanoseconds = Self.nanoseconds(exponential)
        var delay = Duration.nanoseconds(nanoseconds > 0 ? Int64.random(in: 0...nanoseconds) : 0)
        if let retryAfter { delay = max(delay, min(retryAfter, cap)) }
        return delay
    }

    /// A duration in whole nanoseconds, as NIO's `TimeAmount` and the jitter draw take it.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        Int64(duration.components.seconds) * 1_000_000_000 + Int64(duration.components.attoseconds / 1_000_000_000)
    }

    // MARK: Failures

    /// Why one attempt failed.
    enum Failure: Sendable {
        /// The server answered with an error.
        case service(S3ErrorResponse)
        /// The transport failed. `connected` is false when the request surely never reached the server.
        case transport(kind: TransportKind, connected: Bool, underlying: any Error)
        /// The calling task was cancelled.
        case cancelled
        /// A failure no retry can mend.
        case final(any Error)

        func isRetryable(idempotent: Bool) -> Bool {
            switch self {
            case .service(let response):
                return response.isThrottling || (idempotent && response.isTransient)
            case .transport(_, let connected, _):
                return idempotent || !connected
            case .cancelled, .final:
                return false
            }
        }

        var retryAfter: Duration? {
            guard case .service(let response) = self else { return nil }
            return response.retryAfter
        }

        /// Bounded text for logs: the status and code, or the transport failure's kind.
        var summary: String {
            switch self {
            case .service(let response): "HTTP \(response.status) \(response.code ?? "")"
            case .transport(let kind, _, _): kind.rawValue
            case .cancelled: "cancelled"
            case .final(let error): String(describing: type(of: error))
            }
        }
    }

    /// What went wrong on the wire, in words for messages.
    enum TransportKind: String, Sendable {
        case connectionRefused = "connection refused"
        case connectionReset = "connection reset"
        case connectionClosed = "connection closed"
        case connectTimeout = "connect timeout"
        case timeout = "no answer in time"
        case hostUnreachable = "host unreachable"
        case tls = "TLS failure"
        case other = "transport failure"
    }

    /// Sorts a transport error: retryable or not, and whether the request can have reached the server.
    static func classify(transport error: any Error) -> Failure {
        if error is CancellationError || Task.isCancelled { return .cancelled }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled: return .cancelled
            case .connectTimeout, .getConnectionFromPoolTimeout:
                return .transport(kind: .connectTimeout, connected: false, underlying: error)
            case .tlsHandshakeTimeout:
                return .transport(kind: .connectTimeout, connected: false, underlying: error)
            case .readTimeout, .writeTimeout, .deadlineExceeded:
                return .transport(kind: .timeout, connected: true, underlying: error)
            case .remoteConnectionClosed:
                return .transport(kind: .connectionClosed, connected: true, underlying: error)
            case .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .bodyLengthMismatch,
                .invalidRedirectConfiguration, .redirectLimitReached, .redirectCycleDetected:
                return .final(error)
            default:
                return .transport(kind: .other, connected: true, underlying: error)
            }
        }
        // TLS errors (a certificate that does not verify) will fail the same way again.
        let typeName = String(reflecting: type(of: error))
        if typeName.contains("NIOSSL") || typeName.contains("BoringSSL") {
            return .final(error)
        }
        if let code = socketErrorCode(in: error) {
            switch code {
            case ECONNREFUSED: return .transport(kind: .connectionRefused, connected: false, underlying: error)
            case EHOSTUNREACH, ENETUNREACH:
                return .transport(kind: .hostUnreachable, connected: false, underlying: error)
            case ECONNRESET, EPIPE: return .transport(kind: .connectionReset, connected: true, underlying: error)
            case ETIMEDOUT: return .transport(kind: .timeout, connected: true, underlying: error)
            default: return .transport(kind: .other, connected: true, underlying: error)
            }
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return .transport(kind: .connectTimeout, connected: false, underlying: error)
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed, .inputClosed:
                return .transport(kind: .connectionClosed, connected: true, underlying: error)
            default: return .transport(kind: .other, connected: true, underlying: error)
            }
        }
        return .transport(kind: .other, connected: true, underlying: error)
    }

    /// The `errno` inside a transport error, if any. NIO reports a failed connect as a `NIOConnectionError` (NIOPosix,
    /// not a dependency here) whose attempts each hold an `IOError`, so the search goes by reflection, a few levels
    /// deep.
    static func socketErrorCode(in error: any Error, depth: Int = 0) -> Int32? {
        if let error = error as? IOError { return error.errnoCode }
        guard depth < 4 else { return nil }
        for child in Mirror(reflecting: error).children {
            if let nested = child.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1) {
                return code
            }
            for element in Mirror(reflecting: child.value).children {
                if let nested = element.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1) {
                    return code
                }
                for field in Mirror(reflecting: element.value).children {
                    if let nested = field.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1)
                    {
                        return code
                    }
                }
            }
        }
        return nil
    }

    // MARK: Errors

    /// The error a caller sees for a failure that is final or out of retries.
    func error(for failure: Failure, request: S3Request, attempts: Int) -> ObjectStoreError {
        let target = ObjectStoreError.target(bucket: bucket, key: request.key)
        let tries = attempts == 1 ? "" : " after \(attempts) attempts"
        let error: ObjectStoreError
        switch failure {
        case .service(let response):
            error = self.error(for: response, request: request, attempts: attempts)
        case .transport(let kind, _, let underlying):
            let code: ObjectStoreError.Code = kind == .timeout || kind == .connectTimeout ? .timeout : .connectionFailed
            let advice =
                kind == .timeout
                ? "the server or the network is too slow; check both, or raise idleTimeout/requestTimeout"
                : "check that the server is running and that the endpoint (AWS_ENDPOINT_URL, backups.s3) is right"
            error = ObjectStoreError(
                code,
                "\(request.operation) of \(target) at \(endpointDescription) failed\(tries) (\(kind.rawValue)): "
                    + "\(advice).",
                underlying: underlying)
        case .cancelled:
            error = .cancelled(operation: "\(request.operation) of \(target)")
        case .final(let underlying):
            error = ObjectStoreError(
                .connectionFailed,
                "\(request.operation) of \(target) at \(endpointDescription) failed: "
                    + "\(String(describing: type(of: underlying))) (check the endpoint and its TLS certificate).",
                underlying: underlying)
        }
        return redacted(error)
    }

    /// Maps S3's error answer to what the caller should check.
    func error(for response: S3ErrorResponse, request: S3Request, attempts: Int) -> ObjectStoreError {
        let target = ObjectStoreError.target(bucket: bucket, key: request.key)
        let accessKey = configuration.credentials.accessKeyID
        let tries = attempts == 1 ? "" : " after \(attempts) attempts"
        let detail = response.detail
        func make(_ code: ObjectStoreError.Code, _ message: String) -> ObjectStoreError {
            ObjectStoreError(code, message, serverCode: response.code, requestID: response.requestID)
        }
        switch response.code {
        case "NoSuchKey":
            return make(.notFound, "No object \(target).")
        case "NoSuchBucket":
            return make(
                .noSuchBucket,
                "The bucket \(ObjectStoreError.quoted(bucket)) does not exist at \(endpointDescription): create it, or "
                    + "check the bucket name.")
        case "NoSuchUpload":
            return make(
                .noSuchUpload, "The multipart upload of \(target) no longer exists: it was completed or aborted.")
        case "SignatureDoesNotMatch":
            return make(
                .signatureMismatch,
                "\(request.operation) of \(target) was refused: the signature does not match for access key "
                    + "\(accessKey): check the secret key (AWS_SECRET_ACCESS_KEY, backups.s3).")
        case "InvalidAccessKeyId":
            // Servers that take session tokens only from their own STS (SeaweedFS, MinIO) look the key up there.
            let token =
                configuration.credentials.sessionToken == nil
                ? "" : " With a session token set (AWS_SESSION_TOKEN), the key must be a current temporary one."
            return make(
                .invalidAccessKeyID,
                "The server at \(endpointDescription) does not know the access key \(accessKey): check the access "
                    + "key ID (AWS_ACCESS_KEY_ID, backups.s3) and that it was created on this server.\(token)")
        case "AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden":
            return make(
                .accessDenied,
                "Access denied for \(request.operation) of \(target) with access key \(accessKey): check the key's "
                    + "permissions and the bucket policy.")
        case "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "InvalidSecurity":
            return make(
                .expiredCredentials,
                "The session token of access key \(accessKey) is expired or invalid: refresh the temporary "
                    + "credentials (AWS_SESSION_TOKEN).")
        case "RequestTimeTooSkewed":
            return make(
                .clockSkew,
                "The server refused \(request.operation) because this machine's clock is too far from its own: set "
                    + "the clock right (NTP).")
        case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum":
            return make(
                .checksumMismatch,
                "The server received bytes for \(target) that do not match their checksum (\(response.code ?? "")): "
                    + "they were corrupted on the way. Upload again.")
        case "InvalidRange":
            return make(.invalidRange, "The byte range asked of \(target) lies outside the object.")
        case "PreconditionFailed":
            return make(.preconditionFailed, "A condition of \(request.operation) of \(target) did not hold.")
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
            return make(
                .invalidConfiguration,
                "The bucket \(ObjectStoreError.quoted(bucket)) is not served by region \(configuration.region) at "
                    + "\(endpointDescription)\(detail): set the bucket's region (AWS_REGION, backups.s3).")
        default:
            break
        }
        if response.isThrottling {
            return make(
                .throttled,
                "The server at \(endpointDescription) kept throttling \(request.operation) of \(target)\(tries)"
                    + "\(detail): retry later, or lower partsInFlight.")
        }
        switch response.status {
        case 404 where request.key != nil && (request.method == .HEAD || request.method == .GET):
            return make(.notFound, "No object \(target).")
        case 403:
            return make(
                .accessDenied,
                "\(request.operation) of \(target) was refused with access key \(accessKey) (HTTP 403 without a "
                    + "reason): check the access key, the secret key and the key's permissions.")
        case _ where response.isTransient:
            return make(
                .serverError,
                "The server at \(endpointDescription) failed \(request.operation) of \(target)\(tries) with HTTP "
                    + "\(response.status)\(detail).")
        default:
            return make(
                .invalidRequest,
                "The server refused \(request.operation) of \(target) with HTTP \(response.status)\(detail).")
        }
    }

    /// The error with any copy of the secret key or session token replaced: S3's messages are the server's text.
    func redacted(_ error: ObjectStoreError) -> ObjectStoreError {
        var error = error
        for secret in [configuration.credentials.secretAccessKey, configuration.credentials.sessionToken ?? ""]
        where secret.count >= 4 {
            error.message = error.message.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return error
    }
}

/// S3's error answer: the status, and `Code`, `Message` and `RequestId` from its XML body when there is one (HEAD
/// answers have none).
struct S3ErrorResponse: Error, Sendable {
    var status: Int
    var code: String?
    var message: String?
    var requestID: String?
    /// What `Retry-After` asked for, if anything.
    var retryAfter: Duration?

    init(status: Int, code: String?, message: String?, requestID: String?, retryAfter: Duration? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
        self.retryAfter = retryAfter
    }

    /// Parses an error answer; a body that is not S3's XML leaves the code to the status.
    init(status: Int, headers: HTTPHeaders, body: ByteBuffer?) {
        self.status = status
        requestID = headers.first(name: "x-amz-request-id")
        retryAfter = headers.first(name: "retry-after").flatMap(Int.init).map { .seconds(max(0, $0)) }
        if let body, body.readableBytes > 0, let root = try? S3XML.parse(body.readableBytesView), root.name == "Error" {
            code = root.text("Code")
            message = root.text("Message")
            requestID = root.text("RequestId") ?? requestID
        }
    }

    /// An error inside a 200 answer (CompleteMultipartUpload can fail after it began answering), or `nil`.
    init?(embeddedIn root: S3XML, headers: HTTPHeaders) {
        guard root.name == "Error" else { return nil }
        self.init(
            status: 200, code: root.text("Code"), message: root.text("Message"),
            requestID: root.text("RequestId") ?? headers.first(name: "x-amz-request-id"))
    }

    static let throttlingCodes: Set<String> = [
        "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
        "RequestLimitExceeded", "RequestThrottledException", "TooManyRequestsException", "BandwidthLimitExceeded",
        "EC2ThrottledException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    ]
    static let transientCodes: Set<String> = [
        "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
        "OperationAborted",
    ]

    /// The server asked us to slow down: it did not act on the request, so even a non-idempotent one may be resent.
    var isThrottling: Bool {
        status == 429 || code.map(Self.throttlingCodes.contains) == true
    }

    /// A failure on the server's side that another attempt may not meet.
    var isTransient: Bool {
        if let code, Self.transientCodes.contains(code) { return true }
        return [500, 502, 503, 504].contains(status)
    }

    /// ` (Code: Message)` for messages, the message cut short; empty when the server said nothing.
    var detail: String {
        switch (code, message) {
        case (let code?, let message?) where !message.isEmpty:
            let cut = message.count > 160 ? message.prefix(160) + "…" : Substring(message)
            return " (\(code): \(cut))"
        case (let code?, _): return " (\(code))"
        default: return ""
        }
    }
}
