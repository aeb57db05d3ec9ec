import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Routing
import Server
import Storage
import Testing

/// `unity-ai conversations export|import` and `unity-ai ingest --private` as an operator runs them: the real binary
/// on real databases.
@Suite struct ConversationCommandTests {
    typealias F = ChatFixtures

    static func binary() throws -> URL {
        let binary = TwoProcessRateLimitTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        return binary
    }

    static func run(_ arguments: [String], database settings: DatabaseSettings) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = ModelLifecycleCommandTests.url(settings)
        environment["UNITY_AI_EMBEDDING_MODEL"] = "local"
        return try await CommandResult.run(try binary(), arguments, environment: environment)
    }

    @Test func exportImportMovesEveryConversationOnceAndNeverOverwritesAConflict() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        for (name, text) in F.documents { try directory.write(text, to: name) }
        let exported = directory.path + "/all.jsonl"
        let acmeOnly = directory.path + "/acme.jsonl"
        try await TestDatabase.withFreshDatabase { source, sourceSettings in
            let appliance = Appliance(client: source)
            _ = try await appliance.ingest([directory.path])
            _ = try await appliance.ingest([directory.path], tenant: "acme")
            let routed = ApplianceRouter(client: source, configuration: .init())
            let app = buildApplication(
                configuration: ServerConfiguration(), dependencies: routed.dependencies(ask: appliance.askService),
                logger: TestDatabase.logger)
            try await app.test(.router) { client in
                let first = try F.object(try await F.post(client, #"{"message": "When do backups run?"}"#))
                let id = try #require(first["conversation_id"] as? String)
                _ = try await F.post(client, #"{"conversation_id": "\#(id)", "message": "Who restores one?"}"#)
                _ = try await F.post(client, #"{"message": "When are invoices sent?"}"#)
                _ = try await F.post(client, #"{"message": "When are invoices sent?"}"#, headers: [HTTPField.Name("x-unity-tenant")!: "acme"])
            }

            let all = try await Self.run(["conversations", "export", "--output", exported], database: sourceSettings)
            #expect(all.status == 0 && all.output.contains("Exported 3 conversations"), "\(all.output)")
            let acme = try await Self.run(
                ["conversations", "export", "--tenant", "acme", "--output", acmeOnly], database: sourceSettings)
            #expect(acme.status == 0 && acme.output.contains("Exported 1 conversations"), "\(acme.output)")
            let acmeLines = try String(contentsOfFile: acmeOnly, encoding: .utf8).split(separator: "\n")
            #expect(acmeLines.count == 1 && acmeLines[0].contains("\"acme\""))

            try await TestDatabase.withFreshDatabase { target, targetSettings in
                let imported = try await Self.run(["conversations", "import", exported, "--json"], database: targetSettings)
                #expect(imported.status == 0, "\(imported.output)")
                let report = try ModelLifecycleCommandTests.json(imported.output)
                #expect(report["imported"] as? Int == 3 && report["skipped"] as? Int == 0 && report["conflicts"] as? Int == 0)

                // The target's export is the source's, byte for byte.
                let again = directory.path + "/again.jsonl"
                #expect(try await Self.run(["conversations", "export", "--output", again], database: targetSettings).status == 0)
                #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: exported)))

                // Importing again adds nothing.
                let twice = try ModelLifecycleCommandTests.json(
                    try await Self.run(["conversations", "import", exported, "--json"], database: targetSettings).output)
                #expect(twice["imported"] as? Int == 0 && twice["skipped"] as? Int == 3 && twice["conflicts"] as? Int == 0)

                // The same id with other content is a conflict: reported, exit 3, the stored one left as it was.
                let changed = directory.path + "/changed.jsonl"
                let text = try String(contentsOfFile: exported, encoding: .utf8)
                try text.replacingOccurrences(of: "When do backups run?", with: "When do backups really run?")
                    .write(toFile: changed, atomically: true, encoding: .utf8)
                let conflict = try await Self.run(["conversations", "import", changed, "--json"], database: targetSettings)
                #expect(conflict.status == 3, "\(conflict.output)")
                #expect(try ModelLifecycleCommandTests.json(conflict.output)["conflicts"] as? Int == 1)
                let questions = try await target.query(
                    "SELECT count(*)::int FROM conversation_messages WHERE content = 'When do backups really run?'",
                    logger: TestDatabase.logger)
                for count in try questions.decode(Int.self) { #expect(count == 0) }

                // A file that is not an export: a message, a non-zero exit, nothing stored.
                let broken = directory.path + "/broken.jsonl"
                try "{\"id\": 12}\nnot json\n".write(toFile: broken, atomically: true, encoding: .utf8)
                let refused = try await Self.run(["conversations", "import", broken], database: targetSettings)
                #expect(refused.status != 0 && refused.status != 3, "\(refused.output)")
                #expect(refused.output.contains("Line 1"), "\(refused.output)")
                let missing = try await Self.run(["conversations", "import", directory.path + "/nope.jsonl"], database: targetSettings)
                #expect(missing.status != 0 && missing.output.contains("Cannot read"), "\(missing.output)")
                let rows = try await target.query("SELECT count(*)::int FROM conversations", logger: TestDatabase.logger)
                for count in try rows.decode(Int.self) { #expect(count == 3) }
            }
        }
    }

    @Test func ingestPrivateMarksTheRootsDocumentsAndAPlainIngestClearsTheMark() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write("# Salaries\n\nSalaries are paid on the 25th of each month.\n", to: "private/salaries.md")
        try directory.write(F.documents["backups.md"] ?? "", to: "public/backups.md")
        try await TestDatabase.withFreshDatabase { database, settings in
            func privateSources() async throws -> [String] {
                let rows = try await database.query(
                    "SELECT source_uri FROM documents WHERE lower(metadata->>'private') = 'true' ORDER BY source_uri", logger: TestDatabase.logger)
                var uris: [String] = []
                for uri in try rows.decode(String.self) { uris.append(String(uri.split(separator: "/").last ?? "")) }
                return uris
            }
            let marked = try await Self.run(["ingest", "--private", directory.path + "/private"], database: settings)
            #expect(marked.status == 0, "\(marked.output)")
            let plain = try await Self.run(["ingest", directory.path + "/public"], database: settings)
            #expect(plain.status == 0, "\(plain.output)")
            #expect(try await privateSources() == ["salaries.md"])
            // The mark follows the latest ingest of a path.
            #expect(try await Self.run(["ingest", directory.path + "/private"], database: settings).status == 0)
            #expect(try await privateSources() == [])
        }
    }
}
