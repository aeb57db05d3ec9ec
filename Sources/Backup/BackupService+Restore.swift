import Foundation
import Logging
import PostgresNIO
import Storage

/// What `backup restore` did.
public struct BackupRestoreReport: Codable, Sendable {
    /// The set's id.
    public var id: String
    /// Rows read from the set per table.
    public var tables: [String: Int]
    /// Rows inserted or changed; `0` when the appliance already held the set's rows exactly.
    public var rowsWritten: Int
}

extension BackupService {
    /// Restores set `id` into the appliance's database: every table's rows upserted by primary key, in one
    /// transaction, so a failure changes nothing. Rows already equal are left untouched, so restoring twice writes
    /// nothing the second time. Then every embedding space's vector indexes are built where missing
    /// (``KnowledgeStore/buildEmbeddingIndexes(logger:)``). Model blobs and manifests are not restored (see
    /// docs/operations.md).
    ///
    /// - Parameters:
    ///   - tenant: Restore only this tenant's rows (its `tenants` row, documents, chunks, embeddings, knowledge items,
    ///     usage, budgets, cached answers, rate-limit windows) and the shared embedding models. A row of the set whose
    ///     key is held by another tenant's row in this appliance fails the restore (nothing is written): no other
    ///     tenant's rows are ever changed.
    public func restore(id: String, tenant: String? = nil) async throws -> BackupRestoreReport {
        let manifest = try await manifest(of: id)
        let current = try await schemaVersion()
        guard manifest.schemaVersion <= current else {
            throw BackupError(
                .schemaTooNew,
                "Set \(id) was written at schema version \(manifest.schemaVersion); this appliance is at \(current). "
                    + "Upgrade the appliance, then restore.")
        }
        let key = try key(for: manifest)
        let directory = try HashingFile.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Every table downloaded and checked before the first row is written.
        var archives: [(BackupTable, String)] = []
        for object in manifest.objects where object.kind == "table" {
            guard let name = object.table, let table = BackupTable.named(name) else {
                throw BackupError(.corrupt, "Set \(id) names an unknown table '\(object.table ?? "")'.")
            }
            if tenant != nil && table.tenantCondition("r") == nil { continue }
            let path = directory + "/" + table.name + ".tar.gz"
            do {
                try await download(object, to: path, key: key)
            } catch let error as BackupError {
                throw BackupError(error.code, "\(object.key): \(error.message)")
            }
            archives.append((table, path))
        }
        archives.sort { lhs, rhs in
            (BackupTable.all.firstIndex(of: lhs.0) ?? 0) < (BackupTable.all.firstIndex(of: rhs.0) ?? 0)
        }
        let restoreArchives = archives
        let written: Int
        do {
            written = try await restoreTables(restoreArchives, id: id, tenant: tenant)
        } catch let error as PostgresTransactionError {
            // The transaction was rolled back: say why in the restore's own words when it was ours.
            if let reason = error.closureError as? BackupError { throw reason }
            throw error
        }
        // Vectors come back without their HNSW indexes in a fresh database: build them before questions come.
        try await KnowledgeStore(client: database).buildEmbeddingIndexes(logger: logger)
        logger.info("Backup set restored", metadata: ["backup.id": "\(id)", "backup.rows_written": "\(written)"])
        return BackupRestoreReport(id: id, tables: manifest.tables, rowsWritten: written)
    }

    /// Restores the downloaded archives in one transaction; returns the rows written.
    func restoreTables(_ restoreArchives: [(BackupTable, String)], id: String, tenant: String?) async throws -> Int {
        let logger = self.logger
        return try await database.withTransaction(logger: logger) { connection in
            var written = 0
            for (table, path) in restoreArchives {
                written += try await Self.restore(
                    table, archive: path, tenant: tenant, connection: connection, logger: logger)
                if let tenant, table.name == "tenants" {
                    let found = try await connection.query(
                        "SELECT count(*)::bigint FROM tenants WHERE name = \(tenant)", logger: logger
                    ).collect().first?.decode(Int64.self) ?? 0
                    guard found > 0 else {
                        throw BackupError(.notFound, "Set \(id) has no tenant '\(tenant)'.")
                    }
                }
            }
            return written
        }
    }

    /// Upserts the archive's rows into `table`; returns the rows inserted or changed.
    static func restore(
        _ table: BackupTable, archive: String, tenant: String? = nil, connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let columnRows = try await connection.query(
            """
            SELECT attname::text, attidentity::text <> '' FROM pg_attribute
            WHERE attrelid = to_regclass(\(table.name)) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
            ORDER BY attnum
            """, logger: logger
        ).collect()
        var columns: [String] = []
        var identity: [String] = []
        for row in columnRows {
            let (name, isIdentity) = try row.decode((String, Bool).self)
            columns.append(name)
            if isIdentity { identity.append(name) }
        }
        guard !columns.isEmpty else {
            throw BackupError(.schemaTooNew, "The appliance has no table \(table.name): run `unity-ai migrate` first.")
        }
        let quoted = columns.map { "\"\($0)\"" }
        let updatable = columns.filter { !table.key.contains($0) }.map { "\"\($0)\"" }
        let conflict: String
        if updatable.isEmpty {
            conflict = "DO NOTHING"
        } else {
            conflict =
                "DO UPDATE SET (\(updatable.joined(separator: ", "))) = ROW(\(updatable.map { "EXCLUDED.\($0)" }.joined(separator: ", "))) "
                + "WHERE (\(updatable.map { "t.\($0)" }.joined(separator: ", "))) IS DISTINCT FROM "
                + "(\(updatable.map { "EXCLUDED.\($0)" }.joined(separator: ", ")))"
        }
        let sql = """
            INSERT INTO "\(table.name)" AS t (\(quoted.joined(separator: ", "))) OVERRIDING SYSTEM VALUE
            SELECT \(quoted.joined(separator: ", ")) FROM json_populate_recordset(NULL::"\(table.name)", $1::json) r
            \(tenant == nil ? "" : "WHERE " + (table.tenantCondition("r") ?? "false"))
            ON CONFLICT (\(table.orderBy)) \(conflict)
            RETURNING 1
            """
        var written = 0
        try await readPages(of: table, archive: archive) { lines in
            var binds = PostgresBindings()
            binds.append("[" + lines.joined(separator: ",") + "]")
            if let tenant {
                binds.append(tenant)
                // A key of the set held here by another tenant's row: refuse rather than overwrite that tenant.
                if let condition = table.tenantCondition("r"), let held = table.tenantCondition("t"), table.scope != .shared {
                    let clashes = try await connection.query(
                        PostgresQuery(
                            unsafeSQL: """
                                SELECT count(*)::bigint FROM json_populate_recordset(NULL::"\(table.name)", $1::json) r
                                JOIN "\(table.name)" t USING (\(table.orderBy))
                                WHERE \(condition) AND NOT (\(held))
                                """, binds: binds), logger: logger
                    ).collect().first?.decode(Int64.self) ?? 0
                    guard clashes == 0 else {
                        throw BackupError(
                            .conflict,
                            "\(clashes) rows of tenant '\(tenant)' in table \(table.name) have keys that another tenant's "
                                + "rows hold in this appliance; nothing was restored. Restore into an appliance without "
                                + "them, or restore the whole set.")
                    }
                }
            }
            written += try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                .collect().count
        }
        // Identity sequences move past the restored ids, so new rows do not collide with them.
        for column in identity {
            _ = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT setval(s.seq, m.max) FROM
                            (SELECT pg_get_serial_sequence('"\(table.name)"', '\(column)')::regclass AS seq) s,
                            (SELECT max("\(column)") AS max FROM "\(table.name)") m
                        WHERE m.max IS NOT NULL AND m.max > COALESCE(pg_sequence_last_value(s.seq), 0)
                        """), logger: logger)
        }
        return written
    }
}
