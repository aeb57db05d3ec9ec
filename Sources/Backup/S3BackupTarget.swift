import Foundation
import NIOCore
import ObjectStore

/// A ``BackupTarget`` in an S3 bucket under a prefix, through ``S3Client`` (multipart with checksums for large
/// bodies, downloads verified against the stored checksum).
public struct S3BackupTarget: BackupTarget {
    /// The client of the bucket.
    public let client: S3Client
    /// The prefix without slashes at either end; empty for the bucket's root.
    public let prefix: String

    public init(client: S3Client, prefix: String) {
        self.client = client
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    public var description: String { "s3://\(client.bucket)/\(prefix)" }

    func fullKey(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    public func put(_ body: BackupByteStream, at key: String, sizeHint: Int?) async throws {
        try BackupTargets.validate(key: key)
        try await client.upload(from: body, to: fullKey(key), sizeHint: sizeHint)
    }

    /// Reads each byte of the file once, into reused part buffers, hashing the parts and the whole file in one pass
    /// (``S3Client/uploadFile(at:to:contentType:metadata:expectingSHA256:)``); a file that does not hash to
    /// `expectedSHA256` is never completed.
    public func putFile(at path: String, to key: String, expectingSHA256 expectedSHA256: String) async throws {
        try BackupTargets.validate(key: key)
        try await client.uploadFile(at: path, to: fullKey(key), expectingSHA256: expectedSHA256)
    }

    public func get(_ key: String) async throws -> BackupByteStream {
        try BackupTargets.validate(key: key)
        let download: ObjectDownload
        do {
            download = try await client.get(fullKey(key))
        } catch let error as ObjectStoreError where error.code == .notFound {
            throw BackupError(.notFound, "No object '\(key)' in \(description).")
        }
        return BackupByteStream.pulling(from: download.body)
    }

    public func head(_ key: String) async throws -> BackupObject? {
        try BackupTargets.validate(key: key)
        guard let info = try await client.head(fullKey(key)) else { return nil }
        return BackupObject(key: key, size: info.size, lastModified: info.lastModified)
    }

    public func list(prefix keyPrefix: String) async throws -> [BackupObject] {
        let base = prefix.isEmpty ? "" : prefix + "/"
        var objects: [BackupObject] = []
        for try await summary in client.listObjects(prefix: base + keyPrefix) {
            guard summary.key.hasPrefix(base) else { continue }
            objects.append(
                BackupObject(
                    key: String(summary.key.dropFirst(base.count)), size: summary.size,
                    lastModified: summary.lastModified))
        }
        return objects
    }

    public func delete(_ key: String) async throws {
        try BackupTargets.validate(key: key)
        try await client.delete(fullKey(key))
    }
}
