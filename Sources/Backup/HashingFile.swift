import Crypto
import Foundation
import NIOCore
import Synchronization

/// Streams files to and from targets while hashing them, one chunk in memory at a time.
enum HashingFile {
    /// The SHA-256 and size of what a stream has delivered so far.
    final class Tally: Sendable {
        private let state = Mutex<(SHA256, Int)>((SHA256(), 0))
        func add(_ bytes: ByteBuffer) {
            state.withLock {
                $0.0.update(data: bytes.readableBytesView)
                $0.1 += bytes.readableBytes
            }
        }
        var result: (sha256: String, size: Int) {
            state.withLock { (hex($0.0.finalize()), $0.1) }
        }
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The file's bytes as a stream; `tally` sees every chunk.
    ///
    /// - Parameters:
    ///   - expectedSHA256: When given (lowercase hex), the stream throws at its end instead of finishing if the bytes
    ///     hash to something else, so the put reading it fails and stores nothing.
    static func stream(
        path: String, tally: Tally, expectingSHA256 expectedSHA256: String? = nil, chunkSize: Int = 1 << 20
    ) throws -> BackupByteStream {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BackupError(.io, "Cannot open '\(path)'.")
        }
        return BackupByteStream {
            do {
                guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else {
                    try? handle.close()
                    if let expectedSHA256, tally.result.sha256 != expectedSHA256 {
                        throw BackupError(
                            .corrupt,
                            "'\(path)' does not hash to its expected SHA-256 \(expectedSHA256): it is damaged or "
                                + "changed while it was read, and was not stored.")
                    }
                    return nil
                }
                let buffer = ByteBuffer(bytes: data)
                tally.add(buffer)
                return buffer
            } catch {
                try? handle.close()
                throw error
            }
        }
    }

    /// Writes `stream` to a new file at `path`; returns its SHA-256 and size.
    static func write(_ stream: BackupByteStream, to path: String) async throws -> (sha256: String, size: Int) {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw BackupError(.io, "Cannot create '\(path)'.") }
        defer { try? handle.close() }
        let tally = Tally()
        for try await chunk in stream {
            tally.add(chunk)
            try handle.write(contentsOf: Data(chunk.readableBytesView))
        }
        return tally.result
    }

    /// A private temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unity-ai-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }
}
