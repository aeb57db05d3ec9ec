import Foundation
import NIOCore

/// An object stored in a ``BackupTarget``: its key relative to the target, size and modification time.
public struct BackupObject: Sendable, Hashable {
    /// The key relative to the target's root (`sets/<id>/manifest.json`).
    public var key: String
    /// Size in bytes.
    public var size: Int
    /// When it was last written, when the target knows.
    public var lastModified: Date?

    public init(key: String, size: Int, lastModified: Date?) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
    }
}

/// The bytes of an object, streamed.
public typealias BackupByteStream = AsyncThrowingStream<ByteBuffer, any Error>

extension AsyncThrowingStream where Element == ByteBuffer, Failure == any Error {
    /// A stream that pulls from `sequence` only when its consumer asks: no buffering beyond one chunk.
    static func pulling<Source: AsyncSequence & Sendable>(from sequence: Source) -> BackupByteStream
    where Source.Element == ByteBuffer {
        let box = IteratorBox(sequence.makeAsyncIterator())
        return BackupByteStream { try await box.next() }
    }

    /// One buffer, as a stream.
    static func single(_ buffer: ByteBuffer) -> BackupByteStream {
        BackupByteStream { continuation in
            continuation.yield(buffer)
            continuation.finish()
        }
    }
}

/// Holds an iterator for a stream that is consumed by one task at a time.
private final class IteratorBox<Iterator: AsyncIteratorProtocol>: @unchecked Sendable where Iterator.Element == ByteBuffer {
    var iterator: Iterator
    init(_ iterator: Iterator) { self.iterator = iterator }
    func next() async throws -> ByteBuffer? { try await iterator.next() }
}
