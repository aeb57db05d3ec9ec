import Foundation
import Ingest
import Storage
import Testing

/// Removal touches only what belonged to the root being synced: a file root never covers a neighbour whose name
/// it begins, a folder root never covers a sibling folder whose name it begins.
@Suite struct IngestScopeTests {
    @Test func ingestingOneFileNeverRemovesANeighbourWithALongerName() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "docs/README.md")
        try directory.write(IngestIntegrationTests.oncall, to: "docs/README")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let first = try await appliance.ingest([directory.path + "/docs/README.md"])
            #expect(first.added == 1)
            let second = try await appliance.ingest([directory.path + "/docs/README"])
            #expect(second.added == 1 && second.removed == 0)
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 2)
            // Re-ingesting the shorter name again still leaves the longer one alone.
            let third = try await appliance.ingest([directory.path + "/docs/README"])
            #expect(third.unchanged == 1 && third.removed == 0)
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 2)
        }
    }

    @Test func aFileRemovedFromDiskIsRemovedWhenItsOwnRootIsSynced() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "README.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path + "/README.md"])
            try directory.remove("README.md")
            // A root that no longer exists changes nothing (an unmounted volume must not empty the knowledge base).
            let missing = try await appliance.ingest([directory.path + "/README.md"])
            #expect(missing.removed == 0 && missing.failed == 1)
            // Syncing the folder that held it removes it.
            let synced = try await appliance.ingest([directory.path])
            #expect(synced.removed == 1)
        }
    }

    @Test func aFolderRootNeverCoversASiblingFolderWhoseNameItBegins() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "docs/backups.md")
        try directory.write(IngestIntegrationTests.oncall, to: "docs-old/oncall.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.ingest([directory.path + "/docs-old"])
            let docs = try await appliance.ingest([directory.path + "/docs"])
            #expect(docs.added == 1 && docs.removed == 0)
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 2)
        }
    }
}
