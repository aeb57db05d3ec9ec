import AsyncHTTPClient
import Deadlines
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An upstream's answer: status, headers and the body still to be read.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPClientResponse.Body
    /// When the whole call must be done by.
    public var deadline: ContinuousClock.Instant
}

/// Sends provider requests over AsyncHTTPClient with the endpoint's timeouts, and turns transport failures into
/// ``ProviderError``s. Cancelling the calling task cancels the upstream request.
public final class ProviderTransport: Sendable {
    let client: HTTPClient

    /// Connections kept per upstream host. AsyncHTTPClient's default of 8 would queue the ninth concurrent
    /// completion (each can take seconds) behind the others.
    public static let connectionsPerHost = 256

    /// A transport with its own client; `connect` is the connection timeout.
    public init(connectTimeout: Duration = .seconds(10)) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.connectionsPerHost)
        // A refused connection fails the request at once. AsyncHTTPClient's default retries it with backoff until the
        // connect timeout, so one dead endpoint cost every request 10 s before the router could move on; the router
        // retries elsewhere itself (the next endpoint, then the next candidate) and counts the failure against the
        // endpoint's circuit.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000
            + Int64(connectTimeout.components.attoseconds / 1_000_000_000))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        // Without blocking: the last reference may go on any thread, an event loop's included, and a blocking
        // shutdown there would stall every connection that loop serves.
        client.shutdown { _ in }
    }

    /// Sends a request (`method` is `GET`, `POST`, …); returns once the response head arrived (within
    /// `timeouts.firstByte`).
    public func send(
        method: String,
        url: String,
        headers: [(String, String)],
        body: Data?,
        timeouts: ProviderTimeouts,
        provider: String
    ) async throws -> UpstreamResponse {
        var headers = headers
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("content-type", "application/json"))
        }
        return try await send(
            method: method, url: url, headers: headers, streaming: body.map { .bytes(ByteBuffer(bytes: $0)) },
            timeouts: timeouts, provider: provider)
    }

    /// Sends a request whose body is streamed (an upload of any size); returns once the response head arrived.
    public func send(
        method: String,
        url: String,
        headers: [(String, String)],
        streaming body: HTTPClientRequest.Body?,
        timeouts: ProviderTimeouts,
        provider: String
    ) async throws -> UpstreamResponse {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        let clock = ContinuousClock()
        let deadline = clock.now + timeouts.total
        let firstByte = min(timeouts.firstByte, timeouts.total)
        do {
            let response = try await client.execute(request, timeout: Self.timeAmount(firstByte))
            return UpstreamResponse(
                status: Int(response.status.code), headers: response.headers, body: response.body, deadline: deadline)
        } catch {
            throw Self.map(error, provider: provider, phase: .head, timeouts: timeouts)
        }
    }

    /// Reads the whole body (up to `limit` bytes) before the deadline. A body cut short is a `malformedResponse`: the
    /// upstream was reached and answering.
    public func collect(_ response: UpstreamResponse, limit: Int = 64 << 20, provider: String) async throws -> Data {
        try await Self.withDeadline(response.deadline, provider: provider, phase: .body) {
            var data = Data()
            for try await chunk in response.body {
                data.append(contentsOf: chunk.readableBytesView)
                if data.count > limit {
                    throw ProviderError.malformedResponse(provider: provider, reason: "the body is over \(limit) bytes")
                }
            }
            return data
        }
    }

    /// Where a call was when it failed: before the response head (nothing was received) or reading the body (the
    /// upstream was reached and answering, so a transport failure there cut its answer short).
    public enum Phase: Sendable {
        case head, body

        var description: String {
            switch self {
            case .head: "waiting for the first byte"
            case .body: "reading the response"
            }
        }
    }

    /// Runs `body` (which reads a response) and fails with a timeout when `deadline` passes first.
    public static func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant, provider: String, phase: Phase = .body,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await Deadlines.withTimeout(max(.zero, deadline - .now)) {
                ProviderError(
                    code: .timeout,
                    message: "The provider '\(provider)' did not finish within the total timeout. "
                        + "Raise timeouts.total or try another provider.",
                    provider: provider)
            } _: {
                try await body()
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw map(error, provider: provider, phase: phase, timeouts: nil)
        }
    }

    /// Maps a transport error; never includes the URL (it may hold a key) or a body.
    ///
    /// Before the response head a transport failure means the upstream could not be reached (`connectionFailed`,
    /// retryable). Once the head arrived the upstream was reached and answering: a connection closed or reset then,
    /// or a body that ends mid-chunk, cut its answer short (`malformedResponse`, which the router also moves on from).
    static func map(_ error: any Error, provider: String, phase: Phase, timeouts: ProviderTimeouts?) -> ProviderError {
        if let error = error as? ProviderError { return error }
        if error is CancellationError || Task.isCancelled {
            return ProviderError(code: .cancelled, message: "The request to '\(provider)' was cancelled.", provider: provider)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return ProviderError(
                    code: .timeout,
                    message: "The provider '\(provider)' timed out \(phase.description)"
                        + (timeouts.map { " (first-byte timeout \($0.firstByte))" } ?? "") + ".",
                    provider: provider)
            case .connectTimeout:
                return ProviderError(
                    code: .timeout, message: "Connecting to the provider '\(provider)' timed out.", provider: provider)
            case .cancelled:
                return ProviderError(code: .cancelled, message: "The request to '\(provider)' was cancelled.", provider: provider)
            default:
                break
            }
        }
        if phase == .body {
            return ProviderError.malformedResponse(
                provider: provider, reason: "its answer was cut off after it began (\(Self.kind(of: error)))")
        }
        if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
            return ProviderError(
                code: .connectionFailed, message: "The provider '\(provider)' closed the connection \(phase.description).",
                provider: provider)
        }
        return ProviderError(
            code: .connectionFailed,
            message: "Cannot reach the provider '\(provider)' (\(Self.kind(of: error))). Check its URL and that it is running.",
            provider: provider)
    }

    /// A short, credential-free name for a transport error: the socket error when there is one (`connection
    /// refused`), else the error's type.
    static func kind(of error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error.shortDescription)" }
        if let code = socketErrorCode(in: error) {
            switch code {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset"
            case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
            case ETIMEDOUT: return "connection timed out"
            default: return "socket error \(code)"
            }
        }
        return String(describing: type(of: error))
    }

    /// The `errno` of the socket error inside `error`, if any: NIO reports a failed connect as a `NIOConnectionError`
    /// (NIOPosix, not a dependency here) whose attempts each hold an `IOError`, so the search goes by reflection.
    static func socketErrorCode(in error: any Error, depth: Int = 0) -> Int32? {
        if let error = error as? IOError { return error.errnoCode }
        guard depth < 4 else { return nil }
        for child in Mirror(reflecting: error).children {
            if let nested = child.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1) { return code }
            for element in Mirror(reflecting: child.value).children {
                if let nested = element.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1) { return code }
                // An attempt (`SingleConnectionFailure`) holds its error one level further down.
                for field in Mirror(reflecting: element.value).children {
                    if let nested = field.value as? any Error, let code = socketErrorCode(in: nested, depth: depth + 1) {
                        return code
                    }
                }
            }
        }
        return nil
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + Int64(duration.components.attoseconds / 1_000_000_000))
    }
}

extension HTTPClientError {
    fileprivate var shortDescription: String {
        switch self {
        case .connectTimeout: "connect timeout"
        case .remoteConnectionClosed: "connection closed"
        case .invalidURL: "invalid URL"
        default: "HTTP client error"
        }
    }
}
