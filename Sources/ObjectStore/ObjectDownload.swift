import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// An object being read: what the server said about it, and its bytes still to come.
public struct ObjectDownload: Sendable {
    /// Size, ETag, metadata; for a ranged read also the range.
    public var info: ObjectInfo
    /// The bytes, as the server sends them. Iterate it once.
    public var body: ObjectBody
}

/// An object's bytes as a stream of chunks, checked as they pass: the count against `Content-Length`, and for a
/// whole-object read the SHA-256 against the checksum the server stored (``S3Client/Configuration/verifiesDownloads``).
/// A mismatch fails the last `next()` with ``ObjectStoreError/Code/checksumMismatch``, so a consumer that reaches the
/// end without an error has exactly the stored bytes.
///
/// A broken connection fails the iteration with ``ObjectStoreError/Code/connectionFailed`` or
/// ``ObjectStoreError/Code/timeout``; reading again means a new ``S3Client/get(_:range:)`` (a ranged one resumes).
public struct ObjectBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    /// Where the bytes come from, for messages.
    struct Context: Sendable {
        var bucket: String
        var key: String
        /// Kept alive while the body is read: a client that goes away shuts its HTTP client down, which would cut
        /// the stream.
        var client: S3Client
    }

    let upstream: HTTPClientResponse.Body
    let expectedLength: Int?
    /// Base64 SHA-256 of the whole object; `nil` when not checked.
    let expectedSHA256: String?
    let context: Context

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            upstream: upstream.makeAsyncIterator(), expectedLength: expectedLength, expectedSHA256: expectedSHA256,
            hasher: expectedSHA256 == nil ? nil : SHA256(), context: context)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var upstream: HTTPClientResponse.Body.AsyncIterator
        let expectedLength: Int?
        let expectedSHA256: String?
        var hasher: SHA256?
        let context: Context
        var received = 0
        var finished = false

        public mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            let chunk: ByteBuffer?
            do {
                chunk = try await upstream.next()
            } catch {
                finished = true
                throw failure(error)
            }
            guard let chunk else {
                finished = true
                try finish()
                return nil
            }
            received += chunk.readableBytes
            if let expectedLength, received > expectedLength {
                finished = true
                throw ObjectStoreError.badResponse(
                    "The server sent more than the \(expectedLength) bytes it announced for \(target).")
            }
            if hasher != nil { chunk.withUnsafeReadableBytes { hasher!.update(bufferPointer: $0) } }
            return chunk
        }

        private var target: String { ObjectStoreError.target(bucket: context.bucket, key: context.key) }

        private mutating func finish() throws {
            if let expectedLength, received != expectedLength {
                throw ObjectStoreError(
                    .connectionFailed,
                    "The download of \(target) ended after \(received) of \(expectedLength) bytes: read it again.")
            }
            if let expectedSHA256, let hasher {
                let actual = Data(hasher.finalize()).base64EncodedString()
                guard actual == expectedSHA256 else {
                    throw ObjectStoreError.checksumMismatch(
                        "The bytes read for \(target) hash to SHA-256 \(actual), but the server stored "
                            + "\(expectedSHA256): the object or the transfer is corrupt.")
                }
            }
        }

        private func failure(_ error: any Error) -> ObjectStoreError {
            if let error = error as? ObjectStoreError { return error }
            switch S3Client.classify(transport: error) {
            case .cancelled:
                return .cancelled(operation: "The download of \(target)")
            case .transport(let kind, _, let underlying):
                return ObjectStoreError(
                    kind == .timeout ? .timeout : .connectionFailed,
                    "The download of \(target) broke off after \(received) bytes (\(kind.rawValue)): read it again "
                        + "(a ranged get resumes).",
                    underlying: underlying)
            case .service, .final:
                return ObjectStoreError(
                    .connectionFailed, "The download of \(target) broke off after \(received) bytes.",
                    underlying: error)
            }
        }
    }

    /// Reads the whole body into one buffer, failing with ``ObjectStoreError/Code/limitExceeded`` past `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        if let expectedLength, expectedLength > maxBytes {
            throw ObjectStoreError(
                .limitExceeded,
                "\(ObjectStoreError.target(bucket: context.bucket, key: context.key)) is \(expectedLength) bytes, "
                    + "over the \(maxBytes) allowed here.")
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Swift.min(expectedLength ?? 0, maxBytes))
        for try await chunk in self {
            guard buffer.readableBytes + chunk.readableBytes <= maxBytes else {
                throw ObjectStoreError(
                    .limitExceeded,
                    "\(ObjectStoreError.target(bucket: context.bucket, key: context.key)) is over the \(maxBytes) "
                        + "bytes allowed here.")
            }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        return buffer
    }
}
