import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A multipart upload in progress: the key it will store, and the ID the server gave it.
public struct MultipartUpload: Sendable, Hashable, CustomStringConvertible {
    /// The key the completed upload will be stored under.
    public var key: String
    /// The server's ID for the upload: every part, the completion and the abort name it.
    public var uploadID: String
    /// Whether the upload was created for SHA-256 part checksums (``S3Client/Configuration/Checksum/sha256``).
    public var checksumSHA256: Bool

    /// An upload the server already knows, for example one from ``S3Client/listMultipartUploads(prefix:limit:)``.
    public init(key: String, uploadID: String, checksumSHA256: Bool) {
        self.key = key
        self.uploadID = uploadID
        self.checksumSHA256 = checksumSHA256
    }

    public var description: String { "MultipartUpload(key: \(key), uploadID: \(uploadID))" }
}

/// A part the server has accepted.
public struct UploadedPart: Sendable, Hashable {
    /// 1 to 10,000.
    public var number: Int
    /// The part's ETag without quotes.
    public var etag: String
    /// The part's SHA-256, base64, as sent and verified by the server; `nil` without SHA-256 checksums.
    public var checksumSHA256: String?
    /// The part's size in bytes.
    public var size: Int
}

/// A multipart upload as ListMultipartUploads shows it.
public struct MultipartUploadSummary: Sendable, Hashable {
    /// The key the upload is for.
    public var key: String
    /// The upload's ID; abort it with `abortMultipartUpload(MultipartUpload(key:uploadID:checksumSHA256:))`.
    public var uploadID: String
    /// When it was started.
    public var initiated: Date?
}

extension S3Client {
    /// S3 numbers parts 1 to 10,000.
    public static let maximumPartCount = 10_000

    // MARK: Upload from a stream

    /// Stores a stream of bytes under `key`: with one PutObject when it is at most ``Configuration/partSize``
    /// bytes, else as a multipart upload of `partSize` parts, ``Configuration/partsInFlight`` at a time.
    ///
    /// Every part carries its SHA-256 (``Configuration/checksum``), which the server verifies; the echoed checksum
    /// and the composite one the completion returns are compared with ours. A failed part is retried with its own
    /// bytes, which are kept until it succeeds. On any failure that ends the upload (retries spent, a refusal, the
    /// stream throwing, cancellation) the upload is aborted, so no parts are left behind, and the error is rethrown.
    ///
    /// Memory: at most `partsInFlight` parts are held at once, the one being filled included.
    ///
    /// - Parameters:
    ///   - chunks: The bytes, in chunks of any size; iterated once, in the calling task.
    ///   - sizeHint: The total size when known: parts grow beyond `partSize` when 10,000 of them would not hold it.
    ///     Without it, a stream over `partSize × 10,000` bytes (78 GiB at 8 MiB) fails with
    ///     ``ObjectStoreError/Code/limitExceeded``.
    @discardableResult
    public func upload<Chunks: AsyncSequence>(
        from chunks: Chunks, to key: String, contentType: String? = nil, metadata: [String: String] = [:],
        sizeHint: Int? = nil
    ) async throws -> UploadedObject where Chunks.Element == ByteBuffer {
        try Self.validate(key: key)
        _ = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        let partSize = Self.partSize(configured: configuration.partSize, sizeHint: sizeHint)
        var iterator = chunks.makeAsyncIterator()

        // The first part decides: a stream that ends within it is one PutObject.
        var first = ByteBuffer()
        first.reserveCapacity(min(partSize, sizeHint ?? partSize))
        var leftover: ByteBuffer?
        while leftover == nil, let chunk = try await iterator.next() {
            var chunk = chunk
            Self.fill(&first, from: &chunk, upTo: partSize)
            if chunk.readableBytes > 0 || first.readableBytes == partSize { leftover = chunk }
        }
        // A full first part: only more bytes make it multipart.
        while let pending = leftover, pending.readableBytes == 0 {
            guard let chunk = try await iterator.next() else {
                leftover = nil
                break
            }
            leftover = chunk
        }
        guard var leftover else {
            return try await put(first, at: key, contentType: contentType, metadata: metadata)
        }

        let upload = try await createMultipartUpload(for: key, contentType: contentType, metadata: metadata)
        do {
            let parts = try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var parts: [UploadedPart] = []
                var inFlight = 0
                var number = 0
                func launch(_ part: ByteBuffer) throws {
                    number += 1
                    guard number <= Self.maximumPartCount else {
                        throw ObjectStoreError(
                            .limitExceeded,
                            "\(ObjectStoreError.target(bucket: bucket, key: key)) needs more than "
                                + "\(Self.maximumPartCount) parts of \(partSize) bytes: pass sizeHint or raise "
                                + "partSize.")
                    }
                    let partNumber = number
                    group.addTask { try await self.uploadPart(part, number: partNumber, of: upload) }
                    inFlight += 1
                }
                // Keeps the parts in memory, the one being filled included, within `partsInFlight`.
                func makeRoom() async throws {
                    while inFlight >= configuration.partsInFlight, let part = try await group.next() {
                        parts.append(part)
                        inFlight -= 1
                    }
                }

                try launch(first)
                first = ByteBuffer()
                try await makeRoom()
                var current = ByteBuffer()
                current.reserveCapacity(partSize)
                while true {
                    while leftover.readableBytes > 0 {
                        Self.fill(&current, from: &leftover, upTo: partSize)
                        if current.readableBytes == partSize {
                            try launch(current)
                            try await makeRoom()
                            current = ByteBuffer()
                            current.reserveCapacity(partSize)
                        }
                    }
                    guard let chunk = try await iterator.next() else { break }
                    leftover = chunk
                }
                if current.readableBytes > 0 { try launch(current) }
                while let part = try await group.next() { parts.append(part) }
                return parts.sorted { $0.number < $1.number }
            }
            return try await completeMultipartUpload(upload, parts: parts)
        } catch {
            await abandon(upload, after: error)
            throw error
        }
    }

    /// Stores a stream of byte collections (`[UInt8]`, `Data`, …) under `key`; see
    /// ``upload(from:to:contentType:metadata:sizeHint:)`` for the stream of `ByteBuffer`s this wraps.
    @discardableResult
    public func upload<Chunks: AsyncSequence>(
        from chunks: Chunks, to key: String, contentType: String? = nil, metadata: [String: String] = [:],
        sizeHint: Int? = nil
    ) async throws -> UploadedObject where Chunks.Element: DataProtocol {
        try await upload(
            from: ByteBufferChunks(base: chunks), to: key, contentType: contentType, metadata: metadata,
            sizeHint: sizeHint)
    }

    /// Moves bytes from `chunk` into `part` until the part holds `partSize` bytes or the chunk is empty.
    private static func fill(_ part: inout ByteBuffer, from chunk: inout ByteBuffer, upTo partSize: Int) {
        let count = min(chunk.readableBytes, partSize - part.readableBytes)
        guard count > 0, var slice = chunk.readSlice(length: count) else { return }
        part.writeBuffer(&slice)
    }

    /// The part size for an upload: the configured one, grown in whole MiB when `sizeHint` needs more than 10,000
    /// parts of it.
    static func partSize(configured: Int, sizeHint: Int?) -> Int {
        guard let sizeHint, sizeHint > configured * maximumPartCount else { return configured }
        let needed = (sizeHint + maximumPartCount - 1) / maximumPartCount
        return min(5 << 30, ((needed + (1 << 20) - 1) >> 20) << 20)
    }

    /// Aborts an upload that failed, in a task of its own so that a cancelled caller still cleans up; logs (never
    /// throws) when the abort fails too.
    func abandon(_ upload: MultipartUpload, after error: any Error) async {
        let aborted = await Task {
            do {
                try await self.abortMultipartUpload(upload)
                return nil as ObjectStoreError?
            } catch let abortError as ObjectStoreError {
                return abortError
            } catch {
                return ObjectStoreError(.connectionFailed, "The abort failed.", underlying: error)
            }
        }.value
        if let aborted {
            logger.error(
                "S3 multipart upload failed and could not be aborted",
                metadata: [
                    "s3.key": "\(upload.key)", "s3.upload_id": "\(upload.uploadID)",
                    "error": "\(String(describing: error))", "abort.error": "\(aborted)",
                ])
        } else {
            logger.warning(
                "S3 multipart upload failed and was aborted",
                metadata: ["s3.key": "\(upload.key)", "error": "\(String(describing: error))"])
        }
    }

    // MARK: Multipart operations

    /// Starts a multipart upload (CreateMultipartUpload). Not retried once the server may have acted on it (a lost
    /// answer would leave an upload no one knows the ID of), except when it was throttled or never connected.
    public func createMultipartUpload(
        for key: String, contentType: String? = nil, metadata: [String: String] = [:]
    ) async throws -> MultipartUpload {
        try Self.validate(key: key)
        var headers = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        let sha256 = configuration.checksum == .sha256
        if sha256 { headers.append(("x-amz-checksum-algorithm", "SHA256")) }
        let request = S3Request(
            operation: "CreateMultipartUpload", method: .POST, key: key, query: [("uploads", "")], headers: headers,
            idempotent: false)
        let root = try await performXML(request, expecting: "InitiateMultipartUploadResult")
        guard let uploadID = root.text("UploadId"), !uploadID.isEmpty else {
            throw ObjectStoreError.badResponse(
                "CreateMultipartUpload of \(ObjectStoreError.target(bucket: bucket, key: key)) returned no upload ID.")
        }
        return MultipartUpload(key: key, uploadID: uploadID, checksumSHA256: sha256)
    }

    /// Uploads one part (UploadPart), retrying with the same bytes; checks the checksum or ETag the server returns.
    ///
    /// - Parameters:
    ///   - number: 1 to 10,000. Every part but the last must be at least 5 MiB.
    public func uploadPart(_ body: ByteBuffer, number: Int, of upload: MultipartUpload) async throws -> UploadedPart {
        try await uploadPart(
            body, number: number, of: upload,
            digest: PayloadDigest(of: body, checksum: upload.checksumSHA256 ? .sha256 : .contentMD5))
    }

    /// UploadPart of a body whose digest is known.
    func uploadPart(
        _ body: ByteBuffer, number: Int, of upload: MultipartUpload, digest: PayloadDigest
    ) async throws -> UploadedPart {
        guard (1...Self.maximumPartCount).contains(number) else {
            throw ObjectStoreError.invalidRequest("Part number \(number) is outside 1 to \(Self.maximumPartCount).")
        }
        let request = S3Request(
            operation: "UploadPart", method: .PUT, key: upload.key,
            query: [("partNumber", String(number)), ("uploadId", upload.uploadID)], headers: digest.headers,
            body: body, payloadHash: digest.sha256Hex, idempotent: true)
        let headers = try await perform(request) { response in
            _ = try await Self.drain(response)
            return response.headers
        }
        let etag = Self.unquoted(headers.first(name: "etag") ?? "")
        guard !etag.isEmpty else {
            throw ObjectStoreError.badResponse(
                "UploadPart \(number) of \(ObjectStoreError.target(bucket: bucket, key: upload.key)) returned no ETag.")
        }
        try digest.verify(echoedSHA256: headers.first(name: "x-amz-checksum-sha256"), etag: etag) { what in
            "The server stored part \(number) of \(ObjectStoreError.target(bucket: bucket, key: upload.key)) with "
                + "\(what)."
        }
        return UploadedPart(
            number: number, etag: etag, checksumSHA256: upload.checksumSHA256 ? digest.sha256Base64 : nil,
            size: body.readableBytes)
    }

    /// Completes an upload from its parts (CompleteMultipartUpload) and checks S3's composite checksum against the
    /// parts' when the server returns one.
    ///
    /// Retried like the other requests; when a retry finds the upload gone (`NoSuchUpload`) because an earlier
    /// attempt completed it and only its answer was lost, the stored object is accepted if it is this upload's (its
    /// composite checksum or part count matches).
    public func completeMultipartUpload(_ upload: MultipartUpload, parts: [UploadedPart]) async throws -> UploadedObject
    {
        guard !parts.isEmpty else {
            throw ObjectStoreError.invalidRequest("A multipart upload needs at least one part to complete.")
        }
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\"\(S3XML.escaped(part.etag))\"</ETag>"
            if let checksum = part.checksumSHA256 { xml += "<ChecksumSHA256>\(checksum)</ChecksumSHA256>" }
            xml += "</Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = ByteBuffer(string: xml)
        let composite = Self.compositeChecksum(of: parts)
        let size = parts.reduce(0) { $0 + $1.size }
        let request = S3Request(
            operation: "CompleteMultipartUpload", method: .POST, key: upload.key,
            query: [("uploadId", upload.uploadID)],
            headers: [("content-type", "application/xml")], body: body,
            payloadHash: Self.sha256Hex(of: body), idempotent: true)
        let root: S3XML
        do {
            root = try await performXML(request, expecting: "CompleteMultipartUploadResult")
        } catch let error as ObjectStoreError where error.code == .noSuchUpload {
            // An earlier attempt may have completed it. Accept the object only if it is provably this upload's.
            guard let info = try await head(upload.key),
                info.checksumSHA256.map({ $0 == composite }) ?? info.etag.hasSuffix("-\(parts.count)"),
                info.size == size
            else { throw error }
            return UploadedObject(
                key: upload.key, etag: info.etag, size: size, checksumSHA256: composite, partCount: parts.count)
        }
        let etag = Self.unquoted(root.text("ETag") ?? "")
        if let returned = root.text("ChecksumSHA256"), let composite, returned.contains("-"), returned != composite {
            // The stored object is not what was sent: delete it rather than leave a corrupt object behind.
            try? await delete(upload.key)
            throw ObjectStoreError.checksumMismatch(
                "The server completed \(ObjectStoreError.target(bucket: bucket, key: upload.key)) with the composite "
                    + "SHA-256 \(returned), but the parts sent give \(composite); the object was deleted. Upload it again."
            )
        }
        return UploadedObject(
            key: upload.key, etag: etag, size: size, checksumSHA256: composite, partCount: parts.count)
    }

    /// Aborts an upload and frees its parts (AbortMultipartUpload). An upload already gone counts as aborted.
    public func abortMultipartUpload(_ upload: MultipartUpload) async throws {
        let request = S3Request(
            operation: "AbortMultipartUpload", method: .DELETE, key: upload.key, query: [("uploadId", upload.uploadID)],
            idempotent: true)
        do {
            try await perform(request) { _ = try await Self.drain($0) }
        } catch let error as ObjectStoreError where error.code == .noSuchUpload {
            return
        }
    }

    /// The bucket's multipart uploads in progress whose keys start with `prefix` (ListMultipartUploads): for
    /// cleaning up after crashed writers, and for checking that none was left behind.
    ///
    /// - Parameters:
    ///   - limit: The most uploads the caller can take; more fail with ``ObjectStoreError/Code/limitExceeded``.
    public func listMultipartUploads(prefix: String = "", limit: Int = 10_000) async throws -> [MultipartUploadSummary]
    {
        var uploads: [MultipartUploadSummary] = []
        var keyMarker: String?
        var uploadIDMarker: String?
        while true {
            var query = [("uploads", ""), ("max-uploads", "1000")]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadIDMarker { query.append(("upload-id-marker", uploadIDMarker)) }
            let request = S3Request(
                operation: "ListMultipartUploads", method: .GET, key: nil, query: query, idempotent: true)
            let root = try await performXML(request, expecting: "ListMultipartUploadsResult")
            for entry in root.all("Upload") {
                guard let key = entry.text("Key"), let uploadID = entry.text("UploadId") else { continue }
                guard uploads.count < limit else {
                    throw ObjectStoreError(
                        .limitExceeded,
                        "More than \(limit) multipart uploads are in progress in bucket \(ObjectStoreError.quoted(bucket))."
                    )
                }
                uploads.append(
                    MultipartUploadSummary(
                        key: key, uploadID: uploadID, initiated: entry.text("Initiated").flatMap(S3Date.parseISO8601)))
            }
            guard root.text("IsTruncated") == "true" else { return uploads }
            let nextKey = root.text("NextKeyMarker")
            let nextUploadID = root.text("NextUploadIdMarker")
            guard nextKey != nil || nextUploadID != nil, nextKey != keyMarker || nextUploadID != uploadIDMarker else {
                throw ObjectStoreError.badResponse(
                    "The server said the multipart uploads of bucket \(ObjectStoreError.quoted(bucket)) go on but gave "
                        + "no new marker.")
            }
            keyMarker = nextKey
            uploadIDMarker = nextUploadID
        }
    }

    /// S3's composite checksum of a multipart upload: the SHA-256 of the parts' SHA-256s, base64, then `-<parts>`.
    /// `nil` when a part has no SHA-256.
    static func compositeChecksum(of parts: [UploadedPart]) -> String? {
        var hasher = SHA256()
        for part in parts {
            guard let checksum = part.checksumSHA256, let digest = Data(base64Encoded: checksum) else { return nil }
            hasher.update(data: digest)
        }
        return Data(hasher.finalize()).base64EncodedString() + "-\(parts.count)"
    }
}

/// Byte collections as `ByteBuffer`s, for ``S3Client/upload(from:to:contentType:metadata:sizeHint:)``.
private struct ByteBufferChunks<Base: AsyncSequence>: AsyncSequence where Base.Element: DataProtocol {
    typealias Element = ByteBuffer
    let base: Base

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
