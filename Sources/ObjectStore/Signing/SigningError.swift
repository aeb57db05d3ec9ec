/// An error thrown by ``SigV4Signer``: a request it cannot sign as given. Never contains credentials or header values.
public struct SigningError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case invalidMethod, invalidHeaderName, invalidPayloadHash, missingHost, invalidDate, invalidExpiry
        }

        private let base: Base
        /// The method is empty or not an HTTP token.
        public static let invalidMethod = Code(base: .invalidMethod)
        /// A header name is empty or not an HTTP token; signing it would corrupt the canonical request.
        public static let invalidHeaderName = Code(base: .invalidHeaderName)
        /// The payload hash is neither a hex digest nor a named payload such as `UNSIGNED-PAYLOAD`.
        public static let invalidPayloadHash = Code(base: .invalidPayloadHash)
        /// No `host` header: SigV4 requires the host to be signed.
        public static let missingHost = Code(base: .missingHost)
        /// The date is not finite or outside the years 1 to 9999, so it has no `x-amz-date` form.
        public static let invalidDate = Code(base: .invalidDate)
        /// A presigned URL's lifetime is outside what S3 accepts (1 second to 7 days).
        public static let invalidExpiry = Code(base: .invalidExpiry)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and how to fix it. Never contains credentials or header values.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func invalidMethod(_ method: String) -> SigningError {
        SigningError(.invalidMethod, "The HTTP method \(quoted(method)) is not a token (such as GET or PUT).")
    }

    static func invalidHeaderName(_ name: String) -> SigningError {
        SigningError(
            .invalidHeaderName,
            "The header name \(quoted(name)) is empty or has characters HTTP does not allow in a name. "
                + "Remove or rename the header.")
    }

    static let invalidPayloadHash = SigningError(
        .invalidPayloadHash,
        "The payload hash is not a SHA-256 hex digest or a named payload such as UNSIGNED-PAYLOAD. Hash the body "
            + "with SigV4Signer.payloadHash(of:).")

    static let missingHost = SigningError(
        .missingHost, "The request has no 'host' header. SigV4 signs the host: add it ('bucket.s3.amazonaws.com').")

    static let invalidDate = SigningError(
        .invalidDate, "The signing date is not a finite date between the years 1 and 9999. Sign with the current time.")

    static func invalidExpiry(seconds: Int64) -> SigningError {
        SigningError(
            .invalidExpiry,
            "A presigned URL cannot live \(seconds) s: S3 accepts 1 s to 7 days (604800 s). "
                + "Choose an expiry in that range.")
    }

    /// A caller's string for a message: debug-quoted, so control characters show, and cut at 64 characters.
    private static func quoted(_ text: String) -> String {
        let cut = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return String(reflecting: cut)
    }
}
