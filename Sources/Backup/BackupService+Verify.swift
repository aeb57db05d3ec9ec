import Archive
import Foundation
import NIOPosix

/// What `backup verify` found.
public struct BackupVerifyReport: Encodable, Sendable {
    /// The set's id.
    public var id: String
    /// Objects re-downloaded and re-hashed.
    public var objects: Int
    /// Their bytes.
    public var bytes: Int
    /// Rows counted in the table archives.
    public var rows: Int
    /// One line per failed object, naming it; empty when the set is intact.
    public var failures: [String] { didSet { ok = failures.isEmpty } }
    /// Whether every object is intact.
    public private(set) var ok = true

    /// An empty report for set `id`.
    init(id: String) {
        self.id = id
        objects = 0
        bytes = 0
        rows = 0
        failures = []
    }
}

extension BackupService {
    /// Re-downloads every object of set `id`, re-hashes it and counts the rows of each table archive; never throws for
    /// a damaged object, but lists it in ``BackupVerifyReport/failures``.
    public func verify(id: String) async throws -> BackupVerifyReport {
        let manifest = try await manifest(of: id)
        let key = try key(for: manifest)
        let directory = try HashingFile.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var report = BackupVerifyReport(id: id)
        for (index, object) in manifest.objects.enumerated() {
            let path = directory + "/object-\(index)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                try await download(object, to: path, key: key)
                report.objects += 1
                report.bytes += object.size
                if object.kind == "table", let name = object.table {
                    guard let table = BackupTable.named(name) else {
                        throw BackupError(.corrupt, "names an unknown table '\(name)'")
                    }
                    var rows = 0
                    try await Self.readPages(of: table, archive: path) { lines in rows += lines.count }
                    report.rows += rows
                    guard rows == object.rows else {
                        throw BackupError(.corrupt, "holds \(rows) rows, the manifest says \(object.rows ?? 0)")
                    }
                }
            } catch let error as BackupError {
                report.failures.append("\(object.key): \(error.message)")
            } catch {
                report.failures.append("\(object.key): \(error)")
            }
        }
        return report
    }

    /// The key that opens the objects of `manifest`'s set; `nil` for a set written without encryption.
    /// - Throws: ``BackupError/Code/encryptionKey`` when the set is encrypted and no key, or another key, is
    ///   configured.
    func key(for manifest: BackupManifest) throws -> BackupEncryptionKey? {
        guard let encryption = manifest.encryption else { return nil }
        guard let key = configuration.encryptionKey else {
            throw BackupError(
                .encryptionKey,
                "Set \(manifest.id) is encrypted (\(encryption.algorithm), key \(encryption.keyID)) and no key is "
                    + "configured: set backups.encryption.key_env or key_file to the key it was written with.")
        }
        guard key.id == encryption.keyID else {
            throw BackupError(
                .encryptionKey,
                "Set \(manifest.id) was encrypted with key \(encryption.keyID); the configured key is \(key.id). "
                    + "Configure the key the set was written with (backups.encryption).")
        }
        return key
    }

    /// The bytes of `object`, decrypted with `key` when the set is encrypted.
    func contents(of object: BackupManifest.Object, key: BackupEncryptionKey?) async throws -> BackupByteStream {
        let stream: BackupByteStream
        do {
            stream = try await target.get(object.key)
        } catch let error as BackupError where error.code == .notFound {
            throw BackupError(.notFound, "missing from \(target)")
        }
        guard let key else { return stream }
        return BackupCipher.decrypt(stream, key: key, name: object.key)
    }

    /// Downloads `object` to `path` (decrypting it with `key` when the set is encrypted) and checks its size and
    /// SHA-256 against the manifest.
    func download(_ object: BackupManifest.Object, to path: String, key: BackupEncryptionKey?) async throws {
        let (sha256, size) = try await HashingFile.write(try await contents(of: object, key: key), to: path)
        guard size == object.size, sha256 == object.sha256 else {
            throw BackupError(
                .corrupt,
                "tampered or damaged: \(size) bytes with SHA-256 \(sha256), the manifest says \(object.size) bytes "
                    + "with \(object.sha256)")
        }
    }

    /// Reads the table archive at `archive` one page (archive entry) at a time on NIO's blocking pool, rejecting
    /// entries that are not `<table>/<digits>.jsonl` regular files (`..`, absolute paths and links included), and hands
    /// `body` each page's lines.
    static func readPages(
        of table: BackupTable, archive: String, _ body: ([Substring]) async throws -> Void
    ) async throws {
        var limits = ArchiveReader.Limits()
        limits.maximumEntries = 10_000_000
        limits.maximumEntrySize = 1 << 30
        limits.maximumTotalSize = 1 << 50
        limits.maximumCompressionRatio = 100_000
        let reader = ReaderBox(try ArchiveReader(path: archive, limits: limits))
        while true {
            let page: String? = try await NIOThreadPool.singleton.runIfActive {
                guard let entry = try reader.reader.nextEntry() else { return nil }
                guard !entry.isSkipped, entry.kind == .file, Self.isPageName(entry.path, table: table.name) else {
                    throw BackupError(
                        .unsafeEntry,
                        "The archive of table \(table.name) holds the entry '\(entry.path)' (\(entry.kind.rawValue)"
                            + "\(entry.skipReason.map { ", \($0)" } ?? "")); only \(table.name)/NNNNNN.jsonl files "
                            + "are allowed.")
                }
                return String(decoding: try reader.reader.readAll(), as: UTF8.self)
            }
            guard let page else { return }
            try await body(page.split(separator: "\n", omittingEmptySubsequences: true))
        }
    }

    static func isPageName(_ path: String, table: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == table, parts[1].hasSuffix(".jsonl") else { return false }
        let number = parts[1].dropLast(".jsonl".count)
        return !number.isEmpty && number.allSatisfy { $0.isASCII && $0.isNumber }
    }
}

/// The reader, handed to the blocking pool one call at a time.
final class ReaderBox: @unchecked Sendable {
    let reader: ArchiveReader
    init(_ reader: ArchiveReader) { self.reader = reader }
}
