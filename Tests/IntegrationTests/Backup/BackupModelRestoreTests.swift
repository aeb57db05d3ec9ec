import Foundation
import Lifecycle
import Providers
import Storage
import Testing

@testable import Backup

/// Models restored from a set into Ollama through its API (`POST /api/blobs`, `POST /api/create`) — here a fake
/// Ollama that keeps a real models directory as Ollama does — never by writing into its directory.
@Suite(.serialized) struct BackupModelRestoreTests {
    static func client(_ baseURL: String) -> OllamaAdminClient {
        OllamaAdminClient(
            configuration: .init(endpoint: ProviderEndpoint(baseURL: baseURL, apiKey: nil, timeouts: .init())),
            transport: ProviderTransport())
    }

    /// What `/api/show` says of a model: template, system prompt, license, parameters, details' family.
    static func shown(_ fake: FakeOllama, _ model: String) async throws -> [String] {
        try await fake.run { baseURL in
            let show = try await OllamaAdminClient.rawShow(baseURL: baseURL, model: model)
            return ["template", "system", "license", "parameters"].map { show[$0] as? String ?? "<missing>" }
                + [(show["details"] as? [String: Any])?["family"] as? String ?? "<missing>"]
        }
    }

    @Test func aSetsModelsAreRestoredThroughOllamasAPIOnceAndIdempotently() async throws {
        let target = try await BackupFixtures.s3Target()
        let models = try OllamaModelsFixtureBuilder.standard()
        let empty = try OllamaModelsFixtureBuilder()
        let original = FakeOllama(modelsDirectory: models.fixture.root)
        let restored = FakeOllama(modelsDirectory: empty.root)
        try await TestDatabase.withFreshDatabase { database, _ in
            let service = BackupFixtures.service(database, target, modelsDirectory: models.fixture.root)
            let set = try await service.run()

            let (first, second) = try await restored.run { baseURL in
                let ollama = Self.client(baseURL)
                let first = try await service.restoreModels(id: set.id, into: ollama)
                let second = try await service.restoreModels(id: set.id, into: ollama)
                return (first, second)
            }
            let names = models.manifests.map(\.name.displayName)
            #expect(Set(first.restored) == Set(names) && first.restored.count == 3)
            #expect(first.alreadyPresent.isEmpty && first.notes.isEmpty)
            // llama3.2 and mario share their weights: uploaded once, then found on the server.
            #expect(first.blobsUploaded == 2 && first.blobsAlreadyPresent == 1)
            #expect(second.restored.isEmpty && Set(second.alreadyPresent) == Set(names))
            #expect(second.blobsUploaded == 0)
            #expect(restored.requests.filter { $0.method == "POST" && $0.path.hasPrefix("/api/blobs/") }.count == 2)
            #expect(restored.requestCount("/api/create") == 3)

            // The weights are the same bytes under the same digests; the texts and parameters are the same.
            for weights in [models.weights, models.uniqueBlobs(of: models.qwen).first { $0.mediaType == OllamaModelsFixtureBuilder.modelMediaType }] {
                let blob = try #require(weights)
                let copy = FileManager.default.contents(atPath: empty.root + "/blobs/" + blob.fileName)
                #expect(copy == FileManager.default.contents(atPath: models.fixture.root + "/blobs/" + blob.fileName))
            }
            for name in names {
                let before = try await Self.shown(original, name)
                let after = try await Self.shown(restored, name)
                #expect(!before.contains("<missing>") && !before[0].isEmpty, "\(name): \(before)")
                #expect(before == after, "\(name)")
            }
            let creates = restored.requests.filter { $0.path == "/api/create" }.compactMap(\.json)
            #expect(creates.allSatisfy { ($0["files"] as? [String: String])?.isEmpty == false && $0["stream"] as? Bool == false })
        }
    }
}

extension OllamaAdminClient {
    /// `/api/show`'s JSON as it is, for comparing two servers' answers.
    static func rawShow(baseURL: String, model: String) async throws -> [String: Any] {
        let transport = ProviderTransport()
        let response = try await transport.send(
            method: "POST", url: baseURL + "/api/show", headers: [],
            body: try JSONSerialization.data(withJSONObject: ["model": model]), timeouts: .init(), provider: "ollama")
        let body = try await transport.collect(response, provider: "ollama")
        return (try JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
    }
}
