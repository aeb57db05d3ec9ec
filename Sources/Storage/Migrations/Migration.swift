import Crypto
import Foundation

/// One schema change: `migrations/NNNN_name.sql`, applied once, in order, in a transaction.
public struct Migration: Sendable, Equatable {
    /// The number that orders migrations (`NNNN`).
    public var version: Int
    /// The file name, e.g. `0001_initial.sql`.
    public var fileName: String
    public var sql: String
    /// SHA-256 of the file's bytes, hex: an applied migration must never change.
    public var checksum: String

    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads every `NNNN_name.sql` in `directory`, ordered by version. Rejects duplicates and stray names.
    public static func load(from directory: String) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw StorageError(.migrationsNotFound, "Cannot read the migrations directory \(directory).")
        }
        var migrations: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            guard let underscore = name.firstIndex(of: "_"), let version = Int(name[..<underscore]) else {
                throw StorageError(
                    .migrationFailed, "Migration file \(name) must be named NNNN_description.sql (e.g. 0002_add_index.sql).")
            }
            let sql = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            migrations.append(Migration(version: version, fileName: name, sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (first, second) in zip(migrations, migrations.dropFirst()) where first.version == second.version {
            throw StorageError(
                .migrationFailed, "Migrations \(first.fileName) and \(second.fileName) share version \(first.version).")
        }
        guard !migrations.isEmpty else {
            throw StorageError(.migrationsNotFound, "No NNNN_name.sql files in the migrations directory \(directory).")
        }
        return migrations
    }

    /// Finds the migrations directory: `explicit` (`--migrations-dir`, `UNITY_AI_MIGRATIONS_DIR`), then
    /// `./migrations`, then a `migrations` folder beside or above the executable (the source tree of a build).
    public static func locateDirectory(explicit: String?, executablePath: String = CommandLine.arguments[0]) throws
        -> String
    {
        if let explicit { return explicit }
        var candidates = [FileManager.default.currentDirectoryPath + "/migrations"]
        var directory = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("migrations").path)
            candidates.append(directory.appendingPathComponent("share/unity-ai/migrations").path)
            directory.deleteLastPathComponent()
        }
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        throw StorageError(
            .migrationsNotFound,
            "No migrations directory found (looked in \(candidates.prefix(3).joined(separator: ", ")) and above the "
                + "executable). Run from the repository or pass --migrations-dir / UNITY_AI_MIGRATIONS_DIR.")
    }
}
