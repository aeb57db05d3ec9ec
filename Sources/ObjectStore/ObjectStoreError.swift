/// An error thrown by ``S3Client``: what failed and what to check. Never contains the secret key, the session token
/// or a signature, and no upstream body beyond S3's short error message.
public struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case notFound, noSuchBucket, noSuchUpload, accessDenied, invalidAccessKeyID, signatureMismatch
            case expiredCredentials, clockSkew, checksumMismatch, invalidRange, preconditionFailed, invalidRequest
            case throttled, serverError, connectionFailed, timeout, badResponse, invalidConfiguration, cancelled
            case limitExceeded
        }

        private let base: Base
        /// No object under the key (`NoSuchKey`).
        public static let notFound = Code(base: .notFound)
        /// The bucket does not exist (`NoSuchBucket`).
        public static let noSuchBucket = Code(base: .noSuchBucket)
        /// The multipart upload does not exist: completed or aborted already (`NoSuchUpload`).
        public static let noSuchUpload = Code(base: .noSuchUpload)
        /// The credentials are valid but may not do this (`AccessDenied`).
        public static let accessDenied = Code(base: .accessDenied)
        /// The server does not know the access key ID (`InvalidAccessKeyId`).
        public static let invalidAccessKeyID = Code(base: .invalidAccessKeyID)
        /// The server computed another signature: almost always a wrong secret key (`SignatureDoesNotMatch`).
        public static let signatureMismatch = Code(base: .signatureMismatch)
        /// Temporary credentials expired or the session token is wrong (`ExpiredToken`, `InvalidToken`).
        public static let expiredCredentials = Code(base: .expiredCredentials)
        /// This machine's clock is too far from the server's (`RequestTimeTooSkewed`).
        public static let clockSkew = Code(base: .clockSkew)
        /// The bytes the server received or stored do not match their checksum (`BadDigest`, or an echoed checksum
        /// or a downloaded body that differs from ours).
        public static let checksumMismatch = Code(base: .checksumMismatch)
        /// The requested byte range lies outside the object (`InvalidRange`).
        public static let invalidRange = Code(base: .invalidRange)
        /// A condition (`If-Match`, …) did not hold (`PreconditionFailed`).
        public static let preconditionFailed = Code(base: .preconditionFailed)
        /// The server refused the request as malformed (`InvalidArgument`, `EntityTooSmall`, `MalformedXML`, …), or
        /// the caller passed an invalid key, range or metadata.
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The server kept asking us to slow down (`SlowDown`, HTTP 429) after every retry.
        public static let throttled = Code(base: .throttled)
        /// The server kept failing (HTTP 5xx) after every retry.
        public static let serverError = Code(base: .serverError)
        /// The server could not be reached, or the connection broke, after every retry.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The server did not answer in time after every retry.
        public static let timeout = Code(base: .timeout)
        /// The server's answer could not be understood (unparsable XML, missing ETag, …).
        public static let badResponse = Code(base: .badResponse)
        /// The client's configuration is unusable (a malformed endpoint, a missing credential, a part size S3
        /// refuses, …).
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The calling task was cancelled.
        public static let cancelled = Code(base: .cancelled)
        /// More results than the caller allowed (a listing over its bound, an upload over 10,000 parts).
        public static let limitExceeded = Code(base: .limitExceeded)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What happened and how to fix it. Never contains credentials.
    public var message: String
    /// S3's own error code (`NoSuchKey`, `SlowDown`, …) when the server sent one.
    public var serverCode: String?
    /// The server's request ID, for its operators' logs.
    public var requestID: String?
    /// The transport or parsing error behind this one, if any.
    public var underlying: (any Error)?
    /// Where the error was made: `#fileID:#line`.
    public var location: String

    /// An error; `message` must say what to check and must not contain credentials.
    public init(
        _ code: Code, _ message: String, serverCode: String? = nil, requestID: String? = nil,
        underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.serverCode = serverCode
        self.requestID = requestID
        self.underlying = underlying
        self.location = "\(file):\(line)"
    }

    public var description: String { "\(code): \(message)" }
}

// MARK: Factories

extension ObjectStoreError {
    /// `'key' in bucket 'b'`, or `bucket 'b'` for bucket-level requests.
    static func target(bucket: String, key: String?) -> String {
        if let key { return "\(quoted(key)) in bucket \(quoted(bucket))" }
        return "bucket \(quoted(bucket))"
    }

    static func notFound(bucket: String, key: String, file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        ObjectStoreError(
            .notFound, "No object \(target(bucket: bucket, key: key)).", serverCode: "NoSuchKey", file: file, line: line
        )
    }

    static func invalidConfiguration(_ message: String, file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        ObjectStoreError(.invalidConfiguration, message, file: file, line: line)
    }

    static func invalidRequest(_ message: String, file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        ObjectStoreError(.invalidRequest, message, file: file, line: line)
    }

    static func badResponse(
        _ message: String, underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) -> ObjectStoreError {
        ObjectStoreError(.badResponse, message, underlying: underlying, file: file, line: line)
    }

    static func checksumMismatch(_ message: String, file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        ObjectStoreError(.checksumMismatch, message, file: file, line: line)
    }

    static func cancelled(operation: String, file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        ObjectStoreError(
            .cancelled, "\(operation) was cancelled.", underlying: CancellationError(), file: file, line: line)
    }

    /// A caller's or server's string for a message: debug-quoted, so control characters show, and cut at 200
    /// characters.
    static func quoted(_ text: String) -> String {
        let cut = text.count > 200 ? String(text.prefix(200)) + "…" : text
        return "'" + String(reflecting: cut).dropFirst().dropLast() + "'"
    }
}
