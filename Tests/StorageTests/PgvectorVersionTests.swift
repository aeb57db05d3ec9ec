import Storage
import Testing

/// The start-up check's decision, without a server: which pgvector versions pass and what the refusal says.
@Suite struct PgvectorVersionTests {
    @Test(arguments: ["0.8.0", "0.8.6", "0.8", "0.9.0", "1.0.0", "0.10.1", "0.8.1-dev"])
    func acceptsPgvectorFromZeroEight(_ version: String) {
        #expect(PgvectorVersion.isSupported(version))
        #expect(PgvectorVersion.problem(installed: version, available: version, server: "PostgreSQL") == nil)
    }

    @Test(arguments: ["0.7.4", "0.7", "0.5.1", "0.1.0", "", "dev", "0"])
    func refusesOlderOrUnreadableVersions(_ version: String) {
        #expect(!PgvectorVersion.isSupported(version))
    }

    @Test func readsTheNumericComponents() {
        #expect(PgvectorVersion.components("0.8.6") == [0, 8, 6])
        #expect(PgvectorVersion.components("0.8.0-dev") == [0, 8, 0])
        #expect(PgvectorVersion.components("v0.8") == nil)
    }

    @Test func anOldInstalledExtensionNamesItsVersionAndTheUpdate() throws {
        let problem = try #require(PgvectorVersion.problem(installed: "0.7.4", available: "0.8.6", server: "PostgreSQL at db"))
        #expect(problem.contains("PostgreSQL at db has pgvector 0.7.4"))
        #expect(problem.contains("0.8.0 or later"))
        #expect(problem.contains("ALTER EXTENSION vector UPDATE"))
    }

    @Test func anOldInstalledExtensionWithNothingNewerSaysWhatToInstall() throws {
        let problem = try #require(PgvectorVersion.problem(installed: "0.7.4", available: "0.7.4", server: "PostgreSQL at db"))
        #expect(problem.contains("Install pgvector 0.8.0 or later"))
    }

    @Test func anOldAvailableExtensionNamesItsVersion() throws {
        let problem = try #require(PgvectorVersion.problem(installed: nil, available: "0.6.2", server: "PostgreSQL at db"))
        #expect(problem.contains("offers pgvector 0.6.2"))
        #expect(problem.contains("Install pgvector 0.8.0 or later"))
    }

    @Test func noExtensionAtAllSaysToInstallIt() throws {
        let problem = try #require(PgvectorVersion.problem(installed: nil, available: nil, server: "PostgreSQL at db"))
        #expect(problem.contains("has no pgvector extension"))
        #expect(problem.contains("0.8.0 or later"))
    }

    @Test func aNewEnoughExtensionNotYetCreatedPasses() {
        #expect(PgvectorVersion.problem(installed: nil, available: "0.8.6", server: "PostgreSQL") == nil)
    }
}
