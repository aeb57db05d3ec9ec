import Foundation
import Testing

@testable import Storage

@Suite struct MigrationFileTests {
    func directory(with files: [String: String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, sql) in files { try sql.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    @Test func loadsInVersionOrderNotNameOrder() throws {
        let path = try directory(with: ["0010_c.sql": "SELECT 3;", "0002_b.sql": "SELECT 2;", "0001_a.sql": "SELECT 1;", "notes.txt": "x"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Migration.load(from: path).map(\.fileName) == ["0001_a.sql", "0002_b.sql", "0010_c.sql"])
    }

    @Test func refusesDuplicateVersionsAndBadNames() throws {
        let duplicate = try directory(with: ["0001_a.sql": "", "01_b.sql": ""])
        let badName = try directory(with: ["initial.sql": ""])
        defer {
            try? FileManager.default.removeItem(atPath: duplicate)
            try? FileManager.default.removeItem(atPath: badName)
        }
        #expect(throws: StorageError.self) { try Migration.load(from: duplicate) }
        #expect(throws: StorageError.self) { try Migration.load(from: badName) }
    }

    @Test func checksumIsTheSHA256OfTheFile() {
        let migration = Migration(version: 1, fileName: "0001_a.sql", sql: "abc")
        #expect(migration.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Migration(version: 1, fileName: "0001_a.sql", sql: "abc ").checksum != migration.checksum)
    }

    @Test func theRepositoryMigrationsLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations").path
        let migrations = try Migration.load(from: root)
        #expect(migrations.first?.fileName == "0001_initial.sql")
    }
}

@Suite struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolonsOnly() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE t (a text DEFAULT 'x;y''z');
            /* block; /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT E'it\\'s; fine', "odd;name" FROM t;
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("DEFAULT 'x;y''z')"))
        #expect(statements[1].contains("CREATE FUNCTION") && statements[1].hasSuffix("LANGUAGE sql"))
        #expect(statements[2] == "DO $$ BEGIN PERFORM 1; END $$")
        #expect(statements[3] == #"SELECT E'it\'s; fine', "odd;name" FROM t"#)
    }

    @Test func commentsAndBlanksAloneAreNoStatements() {
        #expect(SQLScript.statements(in: "-- only a comment\n\n /* and this */ ;;").isEmpty)
    }
}

@Suite struct DatabaseSettingsTests {
    @Test func parsesURLsWithoutShowingThePassword() throws {
        let settings = try DatabaseSettings(url: "postgres://app:s%40cret@db.example:6543/rag?sslmode=require")
        #expect(settings.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(settings.username == "app")
        #expect(settings.password == "s@cret")
        #expect(settings.database == "rag")
        #expect(settings.tlsMode == "require")
        #expect(!settings.description.contains("s@cret") && !settings.description.contains("s%40cret"))
    }

    @Test func socketDirectoryInTheHostParameter() throws {
        let settings = try DatabaseSettings(url: "postgresql://postgres@/unity?host=/tmp/pg")
        #expect(settings.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.5432"))
        #expect(settings.database == "unity")
    }

    @Test func rejectsOtherSchemesAndModes() {
        #expect(throws: StorageError.self) { try DatabaseSettings(url: "mysql://x@y/z") }
        #expect(throws: StorageError.self) { try DatabaseSettings(url: "postgres://x@y/z?sslmode=sometimes") }
    }
}
