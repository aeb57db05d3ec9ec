import Routing
import Testing

/// The configuration file's `server:` section: `auth: none|keys`.
@Suite struct ServerSectionTests {
    @Test func authIsReadFromTheServerSection() throws {
        let keys = try RoutingConfiguration.parse(yaml: "server:\n  auth: keys\n", environment: [:])
        #expect(keys.serverAuthentication == "keys")
        let none = try RoutingConfiguration.parse(yaml: "server:\n  auth: none\n", environment: [:])
        #expect(none.serverAuthentication == "none")
        #expect(try RoutingConfiguration.parse(yaml: "providers: {}\n", environment: [:]).serverAuthentication == nil)
    }

    @Test(arguments: ["server:\n  auth: maybe\n", "server:\n  authentication: keys\n"])
    func aBadServerSectionIsRefusedByKeyAndLine(yaml: String) {
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(yaml: yaml, environment: [:]) }
        #expect(error?.keyPath.hasPrefix("server") == true)
        #expect(error?.line == 2)
    }
}
