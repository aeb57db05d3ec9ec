import Foundation
import Lifecycle
import Logging
import PostgresNIO
import Storage

/// Writes, lists, verifies and restores backup sets of the appliance in a ``BackupTarget``.
///
/// A set is `sets/<id>/tables/<table>.tar.gz` (see ``BackupTable``), `sets/<id>/models/manifests/…` (the Ollama
/// manifests of the set's models), the shared content-addressed blobs `blobs/sha256-<hex>` (uploaded once ever),
/// and `sets/<id>/manifest.json`, written last (see ``BackupManifest``).
public struct BackupService: Sendable {
    /// What a run includes.
    public struct Configuration: Sendable {
        /// Whether `chunk_embeddings` is in the set. Defaults to `true`: a restore then needs no re-embedding.
        public var includeEmbeddings = true
        /// The Ollama models directory whose models are backed up; `nil` (the default) backs up no model.
        public var ollamaModelsDirectory: String?
        /// Written into the manifest. Defaults to ``BackupService/applianceVersion``.
        public var applianceVersion = BackupService.applianceVersion
        /// Leftovers of incomplete sets older than this are removed by the next run, and locks older than this are
        /// stale. Defaults to one hour.
        public var incompleteSetMaximumAge: Duration = .seconds(3600)
        /// Encrypts new sets and decrypts encrypted ones. Defaults to `nil`: new sets are written unencrypted, and
        /// encrypted sets cannot be verified or restored.
        public var encryptionKey: BackupEncryptionKey?
        /// Everything at its default.
        public init() {}
    }

    /// The appliance version written into manifests.
    public static let applianceVersion = "unity-ai 0.1.0-dev"

    /// What runs include, and the encryption key.
    public let configuration: Configuration
    let database: Database
    /// Where the sets are.
    public let target: any BackupTarget
    let logger: Logger

    /// A service over `target`, reading and restoring `database`.
    public init(configuration: Configuration = .init(), database: Database, target: any BackupTarget, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.target = target
        self.logger = logger
    }

    /// The highest applied migration.
    func schemaVersion() async throws -> Int {
        let rows = try await database.query("SELECT COALESCE(max(version), 0)::bigint FROM schema_migrations", logger: logger)
        return Int(try rows.decode(Int64.self).first ?? 0)
    }

    /// The set's manifest; ``BackupError/Code/notFound`` when nothing of the set exists, ``BackupError/Code/incomplete``
    /// when it has objects but no manifest.
    public func manifest(of id: String) async throws -> BackupManifest {
        guard BackupSetID.date(of: id) != nil else {
            throw BackupError(.notFound, "'\(id)' is not a backup set id (such as 20261129T233000Z-1a2b3c).")
        }
        guard try await target.head(BackupManifest.key(of: id)) != nil else {
            if try await !target.list(prefix: "sets/\(id)/").isEmpty {
                throw BackupError(.incomplete, "Backup set \(id) in \(target) has no manifest: its run was interrupted.")
            }
            throw BackupError(.notFound, "No backup set \(id) in \(target). `unity-ai backup list` shows the sets.")
        }
        var body = try await target.get(BackupManifest.key(of: id)).makeAsyncIterator()
        var data = Data()
        while let chunk = try await body.next() {
            data.append(contentsOf: chunk.readableBytesView)
            guard data.count <= 64 << 20 else { throw BackupError(.corrupt, "The manifest of set \(id) is over 64 MiB.") }
        }
        do {
            let manifest = try BackupManifest.decoder().decode(BackupManifest.self, from: data)
            guard manifest.id == id else { throw BackupError(.corrupt, "The manifest of set \(id) names set \(manifest.id).") }
            return manifest
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError(.corrupt, "The manifest of set \(id) cannot be read: \(error).")
        }
    }
}
