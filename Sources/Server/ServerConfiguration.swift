/// Settings of the HTTP server.
public struct ServerConfiguration: Sendable {
    /// Limits on what a request may ask.
    public struct Limits: Sendable {
        /// The largest request body accepted. Defaults to 1 MiB.
        public var maximumBodyBytes = 1 << 20
        /// How long a client may take to send its request body. Defaults to 30 seconds; slower gets 408.
        public var bodyTimeout: Duration = .seconds(30)
        /// The longest question accepted, in Unicode scalars (so that combining marks count). Defaults to 4,000.
        public var maximumQuestionCharacters = 4_000
        /// The longest model or provider name accepted, in bytes. Defaults to 256.
        public var maximumNameBytes = 256
        /// Passages retrieved when a request names no `top_k`. Defaults to 5.
        public var defaultTopK = 5
        /// The largest `top_k` accepted. Defaults to 50.
        public var maximumTopK = 50
        public init() {}
    }

    /// The address to listen on. Defaults to `127.0.0.1`.
    public var host = "127.0.0.1"
    /// The port to listen on. Defaults to 8000; 0 picks a free one.
    public var port = 8000
    public var limits = Limits()
    /// How long a connection may sit idle — between requests, or with a request half sent — before it is closed.
    /// Defaults to 30 seconds. A response being written is never cut.
    public var idleTimeout: Duration = .seconds(30)
    /// Whether requests need API keys. Defaults to ``AuthenticationMode/none``.
    public var authentication: AuthenticationMode = .none

    public init() {}
}
