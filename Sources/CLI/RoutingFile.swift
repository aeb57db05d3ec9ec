import Foundation
import Providers
import Routing

/// Reads the routing configuration for a command.
enum RoutingFile {
    /// Reads the routing file named by `--config` or `UNITY_AI_CONFIG`, completed by providers from the
    /// environment; with no file, providers come from the environment alone.
    static func loadConfiguration(path: String?, environment: [String: String]) throws -> RoutingConfiguration {
        guard let path else { return RoutingConfiguration.fromEnvironment(environment) }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(message: "cannot read the routing file \(path)", keyPath: "", line: nil)
        }
        do {
            var configuration = try RoutingConfiguration.parse(yaml: text, environment: environment)
                .mergingEnvironmentProviders(environment)
            if let model = environment["UNITY_AI_EMBEDDING_MODEL"], !model.isEmpty { configuration.embeddingModel = model }
            return configuration
        } catch var error as ConfigurationError {
            error.message += " (in \(path))"
            throw error
        }
    }
}
