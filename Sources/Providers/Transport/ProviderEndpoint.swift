import Foundation

/// How long a provider call may take.
public struct ProviderTimeouts: Sendable, Hashable {
    /// Establishing the connection. Defaults to 10 seconds.
    public var connect: Duration = .seconds(10)
    /// From sending the request to the response head (the first byte). Defaults to 60 seconds.
    public var firstByte: Duration = .seconds(60)
    /// The whole call, streamed body included. Defaults to 10 minutes.
    public var total: Duration = .seconds(600)

    public init(connect: Duration = .seconds(10), firstByte: Duration = .seconds(60), total: Duration = .seconds(600)) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }
}

/// One upstream of a provider: where it is and how to authenticate.
public struct ProviderEndpoint: Sendable, Hashable {
    /// The base URL, e.g. `http://127.0.0.1:11434` or `https://api.openai.com/v1`. No trailing slash.
    public var baseURL: String
    /// The API key, if the upstream needs one.
    public var apiKey: Secret?
    public var timeouts: ProviderTimeouts

    public init(baseURL: String, apiKey: Secret? = nil, timeouts: ProviderTimeouts = .init()) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.timeouts = timeouts
    }

    /// The base URL without credentials or query, for logs and headers (`x-unity-route`).
    public var displayName: String {
        guard let schemeEnd = baseURL.range(of: "://") else { return baseURL }
        var rest = baseURL[schemeEnd.upperBound...]
        if let at = rest.firstIndex(of: "@"), !rest[..<at].contains("/") { rest = rest[rest.index(after: at)...] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        return String(baseURL[..<schemeEnd.upperBound]) + rest
    }
}
