import Foundation
import NIOCore

extension S3Client {
    /// Stores the file at `path` under `key`, reading each of its bytes once: with one PutObject when it fits in a
    /// part, else as a multipart upload of ``Configuration/partSize`` parts, ``Configuration/partsInFlight`` at a
    /// time.
    ///
    /// Each part is read (`pread`) into one of `partsInFlight` buffers that are reused from part to part, and hashed
    /// in the same pass for its own SHA-256 (the signature's payload hash and the checksum the server verifies) and
    /// for the whole file's. Parts are checked, retried and aborted on failure as in
    /// ``upload(from:to:contentType:metadata:sizeHint:)``.
    ///
    /// - Parameters:
    ///   - expectedSHA256: The SHA-256 the whole file must have, in hex (a content address). When the bytes read do
    ///     not hash to it, nothing is stored: a single PutObject is not sent and a multipart upload is aborted before
    ///     it is completed; the error is ``ObjectStoreError/Code/checksumMismatch``.
    /// - Returns: The stored object, with ``UploadedObject/contentSHA256`` set to the whole file's SHA-256.
    /// - Throws: ``ObjectStoreError/Code/invalidRequest`` when the file cannot be opened or read, or shrinks while it
    ///   is read.
    @discardableResult
    public func uploadFile(
        at path: String, to key: String, contentType: String? = nil, metadata: [String: String] = [:],
        expectingSHA256 expectedSHA256: String? = nil
    ) async throws -> UploadedObject {
        try Self.validate(key: key)
        let headers = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        let file = try UploadSourceFile(path: path)
        let partSize = Self.partSize(configured: configuration.partSize, sizeHint: file.size)
        let expected = expectedSHA256?.lowercased()

        guard file.size > partSize else {
            var body = ByteBufferAllocator().buffer(capacity: file.size)
            try file.read(into: &body, at: 0, count: file.size)
            let digest = PayloadDigest(of: body, checksum: configuration.checksum)
            let sha256 = try Self.check(digest.sha256Hex, expected: expected, path: path, key: key)
            var stored = try await put(body, at: key, headers: headers, digest: digest)
            stored.contentSHA256 = sha256
            return stored
        }
        guard file.size <= partSize * Self.maximumPartCount else {
            throw ObjectStoreError(
                .limitExceeded,
                "\(ObjectStoreError.target(bucket: bucket, key: key)) needs more than \(Self.maximumPartCount) parts "
                    + "of \(partSize) bytes; S3 stores at most 5 GiB × 10,000 parts.")
        }

        let upload = try await createMultipartUpload(for: key, contentType: contentType, metadata: metadata)
        do {
            var hasher = ObjectAndPartSHA256()
            let parts = try await withThrowingTaskGroup(of: (UploadedPart, ByteBuffer).self) { group in
                var parts: [UploadedPart] = []
                var idle: [ByteBuffer] = []
                var inFlight = 0
                var offset = 0
                var number = 0
                while offset < file.size {
                    // At most `partsInFlight` buffers: wait for a part to finish and take its buffer.
                    while inFlight >= configuration.partsInFlight, let (part, buffer) = try await group.next() {
                        parts.append(part)
                        idle.append(buffer)
                        inFlight -= 1
                    }
                    let count = min(partSize, file.size - offset)
                    var buffer = idle.popLast() ?? ByteBufferAllocator().buffer(capacity: partSize)
                    buffer.clear()
                    try file.read(into: &buffer, at: offset, count: count)
                    let sha256 = buffer.withUnsafeReadableBytes { bytes in
                        hasher.update(bytes)
                        return hasher.finishPart()
                    }
                    let digest = PayloadDigest(
                        sha256: sha256, of: buffer, checksum: upload.checksumSHA256 ? .sha256 : .contentMD5)
                    number += 1
                    let partNumber = number
                    let body = buffer
                    group.addTask {
                        (try await self.uploadPart(body, number: partNumber, of: upload, digest: digest), body)
                    }
                    inFlight += 1
                    offset += count
                }
                // Before any completion: a file that is not what the caller named is never stored.
                _ = try Self.check(SigV4Signer.hex(hasher.finishObject()), expected: expected, path: path, key: key)
                while let (part, _) = try await group.next() { parts.append(part) }
                return parts.sorted { $0.number < $1.number }
            }
            var stored = try await completeMultipartUpload(upload, parts: parts)
            stored.contentSHA256 = SigV4Signer.hex(hasher.finishObject())
            return stored
        } catch {
            await abandon(upload, after: error)
            throw error
        }
    }

    /// Returns `actual`, or throws when the caller expected another hash.
    private static func check(_ actual: String, expected: String?, path: String, key: String) throws -> String {
        if let expected, actual != expected {
            throw ObjectStoreError.checksumMismatch(
                "The file \(ObjectStoreError.quoted(path)) hashes to SHA-256 \(actual), not the expected \(expected), "
                    + "so it was not stored as \(ObjectStoreError.quoted(key)): the file is damaged or was changed "
                    + "while it was read.")
        }
        return actual
    }
}

/// A file opened for ``S3Client/uploadFile(at:to:contentType:metadata:expectingSHA256:)``: its size when opened,
/// and positioned reads into a buffer. Closed when released.
final class UploadSourceFile {
    let path: String
    let size: Int
    private let descriptor: Int32

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error("cannot be opened", path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else {
            let error = Self.error("is not a regular file that can be read", path: path)
            close(descriptor)
            throw error
        }
        self.path = path
        self.size = Int(status.st_size)
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Appends `count` bytes from `offset` to `buffer`, straight from the kernel into the buffer's memory.
    func read(into buffer: inout ByteBuffer, at offset: Int, count: Int) throws {
        var done = 0
        while done < count {
            var result = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { memory in
                result = pread(descriptor, memory.baseAddress, count - done, off_t(offset + done))
                return max(0, result)
            }
            if result < 0 {
                guard errno == EINTR else { throw Self.error("cannot be read", path: path) }
                continue
            }
            guard result > 0 else {
                throw ObjectStoreError.invalidRequest(
                    "The file \(ObjectStoreError.quoted(path)) ended at byte \(offset + done) while \(size) were "
                        + "being uploaded: it changed during the upload. Upload it again once it is complete.")
            }
            done += result
        }
    }

    private static func error(_ what: String, path: String) -> ObjectStoreError {
        let number = errno
        return ObjectStoreError.invalidRequest(
            "The file \(ObjectStoreError.quoted(path)) \(what) (\(String(cString: strerror(number)))). Check the path "
                + "and its permissions.")
    }
}
