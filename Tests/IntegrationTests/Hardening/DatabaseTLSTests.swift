import Foundation
import Logging
import Storage
import Testing

/// `sslmode` against the test PostgreSQL's TLS listener, whose certificate names `localhost` only and is signed by a
/// throwaway CA (`./deploy/test.sh` makes both): each mode verifies what libpq's does — never less.
@Suite struct DatabaseTLSTests {
    static func server() throws -> (port: Int, certificateAuthority: String) {
        let environment = ProcessInfo.processInfo.environment
        guard let port = environment["UNITY_AI_TEST_TLS_PORT"].flatMap(Int.init), let authority = environment["UNITY_AI_TEST_TLS_CA"]
        else {
            throw TestSetupError(
                "UNITY_AI_TEST_TLS_PORT and UNITY_AI_TEST_TLS_CA are not set. Run the suite with ./deploy/test.sh, which starts "
                    + "PostgreSQL with TLS and exports them.")
        }
        return (port, authority)
    }

    /// Why a connection with these settings fails, or `nil` when it succeeds.
    static func connect(host: String, mode: String, rootCertificate: String? = nil) async throws -> String? {
        let (port, _) = try server()
        var url = "postgres://postgres@\(host):\(port)/postgres?sslmode=\(mode)"
        if let rootCertificate { url += "&sslrootcert=\(rootCertificate)" }
        return await Database.diagnoseConnection(to: try DatabaseSettings(url: url), logger: TestDatabase.logger)
    }

    @Test func verifyFullAcceptsTheCertifiedNameSignedByTheGivenAuthority() async throws {
        let authority = try Self.server().certificateAuthority
        #expect(try await Self.connect(host: "localhost", mode: "verify-full", rootCertificate: authority) == nil)
    }

    @Test func verifyFullRefusesAHostTheCertificateDoesNotName() async throws {
        let authority = try Self.server().certificateAuthority
        let failure = try await Self.connect(host: "127.0.0.1", mode: "verify-full", rootCertificate: authority)
        #expect(failure?.contains("TLS") == true, "\(failure ?? "connected")")
    }

    @Test func verifyCAChecksTheChainButNotTheName() async throws {
        let authority = try Self.server().certificateAuthority
        #expect(try await Self.connect(host: "127.0.0.1", mode: "verify-ca", rootCertificate: authority) == nil)
    }

    @Test(arguments: ["verify-ca", "verify-full"])
    func verificationRefusesAnAuthorityItDoesNotTrust(_ mode: String) async throws {
        // The system's trust store does not hold the throwaway CA.
        let failure = try await Self.connect(host: "localhost", mode: mode)
        #expect(failure?.contains("TLS") == true, "\(failure ?? "connected")")
    }

    @Test func requireEncryptsWithoutVerifyingAsLibpqDoes() async throws {
        #expect(try await Self.connect(host: "127.0.0.1", mode: "require") == nil)
    }

    @Test func aRootCertificateThatCannotBeReadStopsStartUpNamingTheSetting() throws {
        let error = #expect(throws: StorageError.self) {
            try DatabaseSettings(url: "postgres://u@db.example:5432/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        }
        #expect(error?.message.contains("sslrootcert=/nonexistent/ca.pem") == true)
        #expect(error?.message.contains("verify-full") == true)
    }
}
