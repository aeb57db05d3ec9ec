import PostgresNIO
import Storage
import Testing

@Suite struct MigratorTests {
    @Test func applyingTwiceIsANoOp() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { client, _ in
            let migrator = Migrator(client: client, migrations: try TestDatabase.migrations())
            let first = try await migrator.migrate(logger: TestDatabase.logger)
            #expect(first.first == "0001_initial.sql")
            let second = try await migrator.migrate(logger: TestDatabase.logger)
            #expect(second.isEmpty)
            let rows = try await client.query("SELECT count(*)::bigint FROM schema_migrations", logger: TestDatabase.logger)
            for count in try rows.decode(Int64.self) { #expect(Int(count) == first.count) }
        }
    }

    @Test func anEditedAppliedMigrationIsRefusedByName() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            var edited = try TestDatabase.migrations()
            edited[0] = Migration(version: edited[0].version, fileName: edited[0].fileName, sql: edited[0].sql + "\n-- edit")
            let error = await #expect(throws: StorageError.self) {
                try await Migrator(client: client, migrations: edited).migrate(logger: TestDatabase.logger)
            }
            #expect(error?.code == .migrationEdited)
            #expect(error?.message.contains("0001_initial.sql") == true)
        }
    }

    @Test func aFailingMigrationRollsBackCompletely() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let broken = try TestDatabase.migrations() + [
                Migration(version: 9999, fileName: "9999_broken.sql", sql: "CREATE TABLE half_done (a int);\nSELECT no_such_column FROM half_done;")
            ]
            let error = await #expect(throws: StorageError.self) {
                try await Migrator(client: client, migrations: broken).migrate(logger: TestDatabase.logger)
            }
            #expect(error?.message.contains("9999_broken.sql") == true)
            let rows = try await client.query("SELECT to_regclass('half_done') IS NULL", logger: TestDatabase.logger)
            for absent in try rows.decode(Bool.self) { #expect(absent) }
        }
    }

    /// A database migrated before a lower-numbered file existed (0012 arrived after 0015 was applied) gets that file
    /// on the next start: pending means "not recorded", not "numbered above the last one".
    @Test func aMigrationNumberedBelowTheAppliedOnesIsAppliedNext() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { client, _ in
            let all = try TestDatabase.migrations()
            let late = try #require(all.first { $0.fileName == "0012_embedding_spaces.sql" })
            #expect(all.contains { $0.version > late.version })
            try await Migrator(client: client, migrations: all.filter { $0.version != late.version })
                .migrate(logger: TestDatabase.logger)
            let applied = try await Migrator(client: client, migrations: all).migrate(logger: TestDatabase.logger)
            #expect(applied == [late.fileName])
            let columns = try await client.query(
                """
                SELECT count(*)::bigint FROM information_schema.columns
                WHERE (table_name, column_name) IN (('tenants', 'embedding_model_id'), ('chunks', 'embedding_context'))
                """, logger: TestDatabase.logger)
            for count in try columns.decode(Int64.self) { #expect(count == 2) }
        }
    }
}
