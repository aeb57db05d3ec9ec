import Foundation
import NIOCore
import ObjectStore

/// Where backup sets are stored: an S3 bucket and prefix (``S3BackupTarget``) or a local directory
/// (``LocalBackupTarget``). Keys are relative to the target's root and use `/`.
public protocol BackupTarget: Sendable, CustomStringConvertible {
    /// Stores the streamed `body` under `key`, replacing any object there; an interrupted put leaves no object.
    func put(_ body: BackupByteStream, at key: String, sizeHint: Int?) async throws
    /// Stores the file at `path` under `key` if its bytes hash to `expectedSHA256` (lowercase hex). The hash is
    /// checked before the object is stored, so a damaged file is never stored under the name its hash promised.
    func putFile(at path: String, to key: String, expectingSHA256 expectedSHA256: String) async throws
    /// The object's bytes, streamed; throws ``BackupError/Code/notFound`` when there is none.
    func get(_ key: String) async throws -> BackupByteStream
    /// The object's size and time; `nil` when absent.
    func head(_ key: String) async throws -> BackupObject?
    /// Every object whose key starts with `prefix`, in key order.
    func list(prefix: String) async throws -> [BackupObject]
    /// Removes the object; removing an absent object is no error.
    func delete(_ key: String) async throws
}

extension BackupTarget {
    /// Streams the file through ``put(_:at:sizeHint:)``; the stream fails at its end, before the put completes, when
    /// the bytes do not hash to `expectedSHA256`.
    public func putFile(at path: String, to key: String, expectingSHA256 expectedSHA256: String) async throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        try await put(
            try HashingFile.stream(path: path, tally: HashingFile.Tally(), expectingSHA256: expectedSHA256), at: key,
            sizeHint: size)
    }
}

/// Parses target URLs.
public enum BackupTargets {
    /// The target for `url`: `s3://bucket/prefix` (credentials and endpoint from `s3Configuration`) or
    /// `file:///absolute/dir`. `nil` means `<dataDirectory>/backups`.
    public static func make(
        url: String?, dataDirectory: String, s3Configuration: () throws -> S3Client.Configuration
    ) throws -> any BackupTarget {
        guard let url, !url.isEmpty else {
            let base = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
            return try LocalBackupTarget(directory: base + "/backups")
        }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else {
                throw BackupError(.invalidTarget, "The target '\(url)' must name an absolute directory: file:///dir.")
            }
            return try LocalBackupTarget(directory: path)
        }
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = String(rest.prefix { $0 != "/" })
            let prefix = String(rest.dropFirst(bucket.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            guard !bucket.isEmpty else {
                throw BackupError(.invalidTarget, "The target '\(url)' names no bucket: use s3://bucket/prefix.")
            }
            let client = try S3Client(bucket: bucket, configuration: try s3Configuration())
            return S3BackupTarget(client: client, prefix: prefix)
        }
        throw BackupError(.invalidTarget, "The target '\(url)' is not s3://bucket/prefix or file:///dir.")
    }

    /// Refuses keys that could leave the target's root: empty components, `.`/`..`, a leading `/`, NUL.
    static func validate(key: String) throws {
        let components = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.contains("\0"),
            components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw BackupError(.unsafeEntry, "The key '\(key)' is not a safe relative key.") }
    }
}
