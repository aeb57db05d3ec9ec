import AsyncHTTPClient
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
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            if !request.headers.contains(name: "content-type") {
                request.headers.add(name: "content-type", value: "application/json")
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeouts.total
        let firstByte = min(timeouts.firstByte, timeouts.total)
        do {
            let response = try await client.execute(request, timeout: Self.timeAmount(firstByte))
            return UpstreamResponse(
                status: Int(response.status.code), headers: response.headers, body: response.body, deadline: deadline)
        } catch {
            throw Self.map(error, provider: provider, phase: "waiting for the first byte", timeouts: timeouts)
        }
    }

    /// Reads the whole body (up to `limit` bytes) before the deadline.
    public func collect(_ response: UpstreamResponse, limit: Int = 64 << 20, provider: String) async throws -> Data {
        try await Self.withDeadline(response.deadline, provider: provider) {
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

    /// Runs `body` (which reads a response) and fails with a timeout when `deadline` passes first.
    public static func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant, provider: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let value = first else {
                    throw ProviderError(
                        code: .timeout,
                        message: "The provider '\(provider)' did not finish within the total timeout. "
                            + "Raise timeouts.total or try another provider.",
                        provider: provider)
                }
                return value
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw map(error, provider: provider, phase: "reading the response", timeouts: nil)
        }
    }

    /// Maps a transport error; never includes the URL (it may hold a key) or a body.
    static func map(_ error: any Error, provider: String, phase: String, timeouts: ProviderTimeouts?) -> ProviderError {
        if let error = error as? ProviderError { return error }
        if error is CancellationError || Task.isCancelled {
            return ProviderError(code: .cancelled, message: "The request to '\(provider)' was cancelled.", provider: provider)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return ProviderError(
                    code: .timeout,
                    message: "The provider '\(provider)' timed out \(phase)"
                        + (timeouts.map { " (first-byte timeout \($0.firstByte))" } ?? "") + ".",
                    provider: provider)
            case .connectTimeout:
                return ProviderError(
                    code: .timeout, message: "Connecting to the provider '\(provider)' timed out.", provider: provider)
            case .cancelled:
                return ProviderError(code: .cancelled, message: "The request to '\(provider)' was cancelled.", provider: provider)
            case .remoteConnectionClosed:
                return ProviderError(
                    code: .connectionFailed, message: "The provider '\(provider)' closed the connection \(phase).",
                    provider: provider)
            default:
                break
            }
        }
        return ProviderError(
            code: .connectionFailed,
            message: "Cannot reach the provider '\(provider)' (\(Self.kind(of: error))). Check its URL and that it is running.",
            provider: provider)
    }

    /// A short, credential-free name for a transport error.
    static func kind(of error: any Error) -> String {
        let text = String(describing: type(of: error))
        if let error = error as? HTTPClientError { return "\(error.shortDescription)" }
        return text
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
