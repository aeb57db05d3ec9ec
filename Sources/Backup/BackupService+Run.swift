import Archive
import Foundation
import Lifecycle
import Logging
import PostgresNIO
import Storage

/// What a backup run wrote.
public struct BackupRunReport: Codable, Sendable {
    /// The new set's id.
    public var id: String
    /// When the run started.
    public var created: Date
    /// Objects in the set's manifest (shared blobs included).
    public var objects: Int
    /// Their bytes.
    public var bytes: Int
    /// Rows per table.
    public var tables: [String: Int]
    /// Model blobs uploaded by this run.
    public var blobsUploaded: Int
    /// Model blobs already stored by an earlier run.
    public var blobsAlreadyStored: Int
    /// Incomplete sets older than an hour that this run removed.
    public var removedIncompleteSets: [String]
}

/// One table exported to a local file.
struct TableExport: Sendable {
    var table: BackupTable
    var path: String
    var rows: Int
}

extension BackupService {
    /// Writes a new set: tables, model manifests and blobs, then the manifest. Holds a run lock in the target
    /// meanwhile, and refuses to start while a prune holds one.
    ///
    /// - Parameters:
    ///   - id: The new set's id; `nil` (the default) makes one for `date`.
    ///   - beforeManifest: Called before the manifest is written (tests throw here to interrupt a run).
    /// - Throws: ``BackupError/Code/busy`` while a prune runs on the target.
    public func run(
        date: Date = .now, id: String? = nil, beforeManifest: @Sendable () async throws -> Void = {}
    ) async throws -> BackupRunReport {
        let id = id ?? BackupSetID.make(date: date)
        guard BackupSetID.date(of: id) != nil else {
            throw BackupError(.invalidTarget, "'\(id)' is not a backup set id (such as 20261129T233000Z-1a2b3c).")
        }
        let lock = BackupLock(kind: .run, id: id)
        try await lock.take(in: target)
        do {
            let prunes = try await BackupLock.all(in: target).filter {
                $0.kind == .prune && $0.isFresh(at: date, maximumAge: configuration.incompleteSetMaximumAge)
            }
            if let prune = prunes.first {
                throw BackupError(
                    .busy,
                    "A prune of \(target) is running (its lock \(prune.key) is less than an hour old): run the backup "
                        + "again when it has finished.")
            }
            let report = try await write(id: id, date: date, beforeManifest: beforeManifest)
            await lock.release(in: target)
            return report
        } catch {
            await lock.release(in: target)
            throw error
        }
    }

    private func write(
        id: String, date: Date, beforeManifest: @Sendable () async throws -> Void
    ) async throws -> BackupRunReport {
        let removed = try await removeIncompleteSets(now: date)
        let schemaVersion = try await schemaVersion()
        let directory = try HashingFile.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let tables = BackupTable.all.filter { configuration.includeEmbeddings || $0.name != "chunk_embeddings" }
        let exports = try await export(tables, into: directory)
        var objects: [BackupManifest.Object] = []
        for export in exports {
            let key = export.table.key(inSet: id)
            let tally = HashingFile.Tally()
            let size = (try? FileManager.default.attributesOfItem(atPath: export.path)[.size] as? NSNumber)?.intValue
            try await put(try HashingFile.stream(path: export.path, tally: tally), at: key, plainSize: size)
            let (sha256, bytes) = tally.result
            objects.append(
                .init(kind: "table", key: key, sha256: sha256, size: bytes, table: export.table.name, rows: export.rows))
            logger.debug("Backup table uploaded", metadata: ["backup.key": "\(key)", "backup.rows": "\(export.rows)"])
        }
        var uploaded = 0
        var present = 0
        if let root = configuration.ollamaModelsDirectory {
            let models = try await backUpModels(root: root, setID: id)
            objects += models.objects
            uploaded = models.uploaded
            present = models.present
        }
        try await beforeManifest()
        let manifest = BackupManifest(
            format: BackupManifest.currentFormat, id: id, created: date, schemaVersion: schemaVersion,
            applianceVersion: configuration.applianceVersion, embeddings: configuration.includeEmbeddings,
            tables: Dictionary(uniqueKeysWithValues: exports.map { ($0.table.name, $0.rows) }), objects: objects,
            encryption: configuration.encryptionKey.map {
                .init(algorithm: "AES-256-GCM", keyID: $0.id, segmentSize: BackupCipher.segmentSize)
            })
        let data = try BackupManifest.encoder().encode(manifest)
        try await target.put(.single(.init(bytes: data)), at: BackupManifest.key(of: id), sizeHint: data.count)
        logger.info("Backup set written", metadata: ["backup.id": "\(id)", "backup.objects": "\(objects.count)"])
        return BackupRunReport(
            id: id, created: date, objects: objects.count, bytes: objects.reduce(0) { $0 + $1.size },
            tables: manifest.tables, blobsUploaded: uploaded, blobsAlreadyStored: present, removedIncompleteSets: removed)
    }

    /// Stores `body` at `key`, encrypted when the configuration has a key.
    func put(_ body: BackupByteStream, at key: String, plainSize: Int?) async throws {
        guard let encryptionKey = configuration.encryptionKey else {
            return try await target.put(body, at: key, sizeHint: plainSize)
        }
        try await target.put(
            BackupCipher.encrypt(body, key: encryptionKey), at: key,
            sizeHint: plainSize.map { BackupCipher.encryptedSize(plainSize: $0) })
    }

    /// Stores a model blob whose bytes must hash to `sha256`: straight from the file when unencrypted (the target
    /// reads each byte once), else through the cipher with the check at the end of the plain stream.
    func putBlob(at path: String, to key: String, sha256: String, size: Int) async throws {
        guard configuration.encryptionKey != nil else {
            return try await target.putFile(at: path, to: key, expectingSHA256: sha256)
        }
        try await put(
            try HashingFile.stream(path: path, tally: HashingFile.Tally(), expectingSHA256: sha256), at: key,
            plainSize: size)
    }

    /// Where a model blob is stored: `blobs/sha256-<hex>`, or `blobs/enc-<key id>/sha256-<hex>` when encrypted, so
    /// that every blob a set references opens with the set's key.
    func blobKey(_ digest: OllamaDigest) -> String {
        configuration.encryptionKey.map { "blobs/enc-\($0.id)/\(digest.blobFileName)" } ?? "blobs/\(digest.blobFileName)"
    }

    /// Exports `tables` to `<directory>/<table>.tar.gz` from one read-only snapshot, a page of rows at a time.
    func export(_ tables: [BackupTable], into directory: String) async throws -> [TableExport] {
        let logger = self.logger
        return try await database.withConnection(logger: logger) { connection in
            _ = try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var exports: [TableExport] = []
                for table in tables {
                    let exists = try await connection.query(
                        "SELECT to_regclass(\(table.name)) IS NOT NULL", logger: logger
                    ).collect().first?.decode(Bool.self) ?? false
                    guard exists else { continue }
                    exports.append(try await Self.export(table, into: directory, connection: connection, logger: logger))
                }
                _ = try await connection.query("COMMIT", logger: logger)
                return exports
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    static func export(
        _ table: BackupTable, into directory: String, connection: PostgresConnection, logger: Logger
    ) async throws -> TableExport {
        let path = directory + "/" + table.name + ".tar.gz"
        let writer = try ArchiveWriter(path: path)
        _ = try await connection.query(
            PostgresQuery(
                unsafeSQL: "DECLARE backup_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM \"\(table.name)\" t "
                    + "ORDER BY \(table.orderBy)"), logger: logger)
        var rows = 0
        var page = 0
        while true {
            let lines = try await connection.query(
                PostgresQuery(unsafeSQL: "FETCH \(BackupTable.pageRows) FROM backup_rows"), logger: logger
            ).collect()
            guard !lines.isEmpty else { break }
            var bytes: [UInt8] = []
            for row in lines {
                bytes += Array(try row.decode(String.self).utf8)
                bytes.append(UInt8(ascii: "\n"))
            }
            page += 1
            let number = String(page)
            try writer.addFile(
                at: "\(table.name)/\(String(repeating: "0", count: max(0, 6 - number.count)) + number).jsonl",
                contents: bytes)
            rows += lines.count
        }
        _ = try await connection.query("CLOSE backup_rows", logger: logger)
        try writer.finish()
        return TableExport(table: table, path: path, rows: rows)
    }

    /// Uploads the blobs of every model in the directory that the target lacks, and the set's model manifests.
    func backUpModels(root: String, setID: String) async throws -> (objects: [BackupManifest.Object], uploaded: Int, present: Int) {
        let snapshot = try OllamaModelsDirectory.scan(path: root)
        let blobs = Dictionary(snapshot.blobs.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
        var objects: [BackupManifest.Object] = []
        var done: Set<OllamaDigest> = []
        var uploaded = 0
        var present = 0
        for manifest in snapshot.manifests.sorted(by: { $0.path < $1.path }) {
            for digest in manifest.referencedDigests where !done.contains(digest) {
                // The manifest's own digest is a blob only in newer Ollama's layout (manifests-v2 links to it); the
                // manifest's bytes are in the set either way.
                if digest == manifest.digest && blobs[digest] == nil { continue }
                guard let blob = blobs[digest] else {
                    throw BackupError(.io, "Model \(manifest.name.displayName) needs blob \(digest), which is not in \(root).")
                }
                done.insert(digest)
                let key = blobKey(digest)
                if try await target.head(key) != nil {
                    present += 1
                } else {
                    // Checked against its name before it is stored: a damaged blob is never stored under that name.
                    try await putBlob(
                        at: root + "/" + blob.path, to: key, sha256: digest.hex.lowercased(), size: Int(blob.bytes))
                    uploaded += 1
                    logger.debug("Model blob uploaded", metadata: ["backup.key": "\(key)"])
                }
                objects.append(.init(kind: "blob", key: key, sha256: digest.hex.lowercased(), size: Int(blob.bytes)))
            }
            let key = "sets/\(setID)/models/\(manifest.path)"
            let tally = HashingFile.Tally()
            try await put(try HashingFile.stream(path: root + "/" + manifest.path, tally: tally), at: key, plainSize: nil)
            let (sha256, size) = tally.result
            objects.append(
                .init(kind: "modelManifest", key: key, sha256: sha256, size: size, model: manifest.name.displayName))
        }
        return (objects, uploaded, present)
    }

    /// Deletes the objects of sets without a manifest whose id is older than
    /// ``Configuration/incompleteSetMaximumAge``; returns their ids.
    func removeIncompleteSets(now: Date) async throws -> [String] {
        var removed: [String] = []
        for set in try await sets() where !set.complete {
            guard let created = BackupSetID.date(of: set.id),
                now.timeIntervalSince(created) > Double(configuration.incompleteSetMaximumAge.components.seconds)
            else { continue }
            for object in try await target.list(prefix: "sets/\(set.id)/") { try await target.delete(object.key) }
            removed.append(set.id)
            logger.notice("Incomplete backup set removed", metadata: ["backup.id": "\(set.id)"])
        }
        return removed
    }
}
