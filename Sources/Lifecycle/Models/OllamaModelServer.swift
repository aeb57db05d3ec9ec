import Foundation
import Lifecycle
import Providers

/// One Ollama endpoint as the lifecycle manager sees it, over the provider's admin client.
public struct OllamaModelServer: ModelServer {
    public let client: OllamaAdminClient

    public init(client: OllamaAdminClient) {
        self.client = client
    }

    public var endpoint: String { client.configuration.endpoint.displayName }

    /// `/api/tags`, with each model's context length from `/api/show` where it answers (a model it cannot show is
    /// listed without one).
    public func installedModels() async throws -> [InstalledModel] {
        var models: [InstalledModel] = []
        for tag in try await client.tags() {
            let context = try? await client.show(tag.name).contextLength
            models.append(
                InstalledModel(
                    name: tag.name, digest: tag.digest, sizeBytes: tag.size, family: tag.details.family,
                    quantization: tag.details.quantizationLevel, parameterSize: tag.details.parameterSize, contextLength: context))
        }
        return models
    }

    public func loadedModels() async throws -> [LoadedModel] {
        try await client.ps().map { LoadedModel(name: $0.name, expiresAt: $0.expiresAt) }
    }

    public func delete(model: String) async throws {
        try await client.delete(model)
    }
}
