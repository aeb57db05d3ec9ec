import Foundation
import NIOCore
import Testing

@testable import Lifecycle
@testable import Providers

/// ``OllamaAdminClient`` against ``FakeOllama`` on a real models directory: listing, loaded models, details, delete
/// (bytes measured on disk), pull (progress, the model appearing, a failure mid-pull), and the bounds on what the
/// upstream sends. No database is needed.
@Suite struct OllamaAdminClientTests {
    // Generous: these tests are about Ollama's protocol, not connect timeouts, and the parallel suite's first
    // seconds can starve the fake server's event loop for longer than 2 s.
    let transport = ProviderTransport(connectTimeout: .seconds(30))

    func client(_ baseURL: String, total: Duration = .seconds(60)) -> OllamaAdminClient {
        OllamaAdminClient(
            configuration: .init(
                endpoint: ProviderEndpoint(
                    baseURL: baseURL, timeouts: .init(connect: .seconds(2), firstByte: .seconds(20), total: total))),
            transport: transport)
    }

    static func fake(_ fixture: OllamaModelsFixtureBuilder.Standard) -> FakeOllama {
        FakeOllama(modelsDirectory: fixture.fixture.root, catalogue: fixture.catalogue)
    }

    /// Every step of a pull, and the error that ended it, if any.
    static func collect(_ stream: AsyncThrowingStream<OllamaPullProgress, any Error>) async
        -> (steps: [OllamaPullProgress], error: (any Error)?)
    {
        var steps: [OllamaPullProgress] = []
        do {
            for try await step in stream { steps.append(step) }
            return (steps, nil)
        } catch {
            return (steps, error)
        }
    }

    static func canonicalJSON(_ data: Data) throws -> String {
        let object = try JSONSerialization.jsonObject(with: data)
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    static func sum(_ blobs: some Sequence<OllamaModelsFixtureBuilder.Blob>) -> Int64 {
        blobs.reduce(0) { $0 + $1.size }
    }

    // MARK: Reading

    @Test func tagsReportEveryManifestWithOllamasFigures() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fake = Self.fake(standard)
        let tags = try await fake.run { try await client($0).tags() }

        // Newest first, named as Ollama shows them.
        #expect(
            tags.map(\.name) == [
                "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "jdoe/mario:latest", "llama3.2:latest",
            ])
        for manifest in standard.manifests {
            let tag = try #require(tags.first { $0.name == manifest.name.displayName })
            #expect(tag.model == tag.name)
            #expect(tag.digest == manifest.digest)
            #expect(tag.size == manifest.apparentSize)
            let modified = try #require(tag.modifiedAt)
            #expect(abs(modified.timeIntervalSince(manifest.modified)) < 0.001)
            #expect(tag.details.format == "gguf")
            #expect(tag.details.quantizationLevel == "Q4_K_M")
            #expect(tag.details.parentModel == nil)
        }
        let llama = try #require(tags.first { $0.name == "llama3.2:latest" })
        #expect(
            llama.details
                == OllamaModelAttributes(
                    format: "gguf", family: "llama", families: ["llama"], parameterSize: "3.2B",
                    quantizationLevel: "Q4_K_M"))
        let qwen = try #require(tags.first { $0.name.hasPrefix("hf.co/") })
        #expect(qwen.details.family == "qwen2")
        #expect(qwen.details.parameterSize == "494.03M")

        // The API's sizes count the shared blobs in both models: more than the referenced blobs take on disk.
        let referenced = standard.manifests.reduce(into: Set<OllamaModelsFixtureBuilder.Blob>()) {
            $0.formUnion($1.blobs)
        }
        #expect(tags.reduce(0) { $0 + $1.size } == Self.sum(referenced) + Self.sum(standard.sharedBlobs))
        #expect(fake.requestCount("/api/tags") == 1)
    }

    /// The inventory joins the API's models to the files by name and digest: the two must agree.
    @Test func theAPIAndTheDirectoryScanAgreeOnNamesDigestsAndSizes() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let tags = try await Self.fake(standard).run { try await client($0).tags() }
        let snapshot = try OllamaModelsDirectory.scan(path: standard.fixture.root)
        #expect(snapshot.manifests.count == tags.count)
        for manifest in snapshot.manifests {
            let tag = try #require(tags.first { $0.name == manifest.name.displayName })
            #expect(tag.digest == manifest.digest.hex)
            #expect(tag.size == manifest.declaredSize)
        }
    }

    @Test func psReportsTheLoadedModels() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fake = Self.fake(standard)
        let expires = Date(timeIntervalSince1970: 1_790_000_000.25)
        let empty = try await fake.run { try await client($0).ps() }
        #expect(empty.isEmpty)

        fake.setLoaded([
            .init(
                name: "llama3.2:latest", size: 3_310_522_368, sizeVRAM: 3_310_522_368, expiresAt: expires,
                contextLength: 4096)
        ])
        let running = try await fake.run { try await client($0).ps() }
        let model = try #require(running.first)
        #expect(running.count == 1)
        #expect(model.name == "llama3.2:latest")
        #expect(model.digest == standard.llama.digest)
        #expect(model.size == 3_310_522_368)
        #expect(model.sizeVRAM == 3_310_522_368)
        #expect(model.contextLength == 4096)
        #expect(model.details.family == "llama")
        #expect(abs(try #require(model.expiresAt).timeIntervalSince(expires)) < 0.001)
        #expect(fake.requestCount("/api/ps") == 2)
    }

    @Test func showReportsTheWeightsMetadataAndCapabilities() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fake = Self.fake(standard)
        let (llama, qwen, mario) = try await fake.run { baseURL in
            let client = client(baseURL)
            return (
                try await client.show("llama3.2"),
                try await client.show("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"),
                try await client.show("JDOE/Mario")
            )
        }
        #expect(llama.name == "llama3.2")
        #expect(llama.architecture == "llama")
        #expect(llama.contextLength == 131_072)
        #expect(llama.embeddingLength == 3072)
        #expect(llama.parameterCount == 3_212_749_888)
        #expect(llama.details.family == "llama")
        #expect(llama.details.parameterSize == "3.2B")
        #expect(llama.capabilities == ["completion", "tools"])
        #expect(abs(try #require(llama.modifiedAt).timeIntervalSince(standard.llama.modified)) < 0.001)

        #expect(qwen.architecture == "qwen2")
        #expect(qwen.contextLength == 32_768)
        #expect(qwen.capabilities == ["completion"])
        // Names compare as Ollama compares them, ignoring case; mario shares llama's weights.
        #expect(mario.contextLength == 131_072)

        // The request is the recorded one.
        let request = try #require(fake.requests.first { $0.path == "/api/show" })
        #expect(request.method == "POST")
        #expect(
            try Self.canonicalJSON(request.body)
                == Self.canonicalJSON(FakeUpstream.fixtureData("ollama", "show_request.json")))
    }

    @Test func showOfAnUnknownModelIsModelNotFound() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let error = try await Self.fake(standard).run { baseURL in
            await #expect(throws: ProviderError.self) { try await client(baseURL).show("llama9:70b") }
        }
        let providerError = try #require(error)
        #expect(providerError.code == .modelNotFound)
        #expect(providerError.status == 404)
        #expect(providerError.message.contains("'llama9:70b'"))
    }

    // MARK: Delete

    @Test func deleteRemovesTheManifestAndExactlyTheBlobsNoOtherModelLists() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fixture = standard.fixture
        let fake = Self.fake(standard)
        let blobsBefore = try fixture.blobFileNames()
        let bytesBefore = try fixture.blobsDirectoryBytes()

        // mario shares weights, template and license with llama3.2: only its own blobs go.
        try await fake.run { try await client($0).delete("jdoe/mario") }
        let marioOnly = standard.uniqueBlobs(of: standard.mario)
        #expect(marioOnly.count == 3)
        #expect(!fixture.manifestFiles().contains(standard.mario.path))
        #expect(!fixture.exists("manifests/registry.ollama.ai/jdoe"))  // the empty directories went too
        #expect(try fixture.blobFileNames() == blobsBefore.subtracting(marioOnly.map(\.fileName)))
        #expect(try bytesBefore - fixture.blobsDirectoryBytes() == Self.sum(marioOnly))

        // Now llama3.2 alone lists the shared blobs: deleting it frees them, and still not the orphan.
        let bytesMiddle = try fixture.blobsDirectoryBytes()
        try await fake.run { try await client($0).delete("llama3.2") }
        #expect(try bytesMiddle - fixture.blobsDirectoryBytes() == Self.sum(standard.llama.blobs))
        let remaining = try fixture.blobFileNames()
        #expect(remaining.contains(standard.orphan.fileName))
        #expect(remaining.isSuperset(of: standard.partialPaths.map { String($0.dropFirst("blobs/".count)) }))
        #expect(remaining.isSuperset(of: standard.qwen.blobs.map(\.fileName)))
        #expect(fixture.manifestFiles() == [standard.qwen.path])

        let tags = try await fake.run { try await client($0).tags() }
        #expect(tags.map(\.name) == ["hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"])
        #expect(fake.requestCount("/api/delete") == 2)
        let request = try #require(fake.requests.last { $0.path == "/api/delete" })
        #expect(request.method == "DELETE")
        #expect(
            try Self.canonicalJSON(request.body)
                == Self.canonicalJSON(FakeUpstream.fixtureData("ollama", "delete_request.json")))
    }

    @Test func deletingAnUnknownModelIsAClearErrorAndTouchesNothing() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fixture = standard.fixture
        let before = try fixture.blobFileNames()
        let error = try await Self.fake(standard).run { baseURL in
            await #expect(throws: ProviderError.self) { try await client(baseURL).delete("nope:1b") }
        }
        let providerError = try #require(error)
        #expect(providerError.code == .modelNotFound)
        #expect(providerError.status == 404)
        #expect(providerError.message.contains("Cannot delete 'nope:1b'"))
        #expect(providerError.message.contains("GET /api/tags"))
        #expect(try fixture.blobFileNames() == before)
        #expect(fixture.manifestFiles().count == 3)
    }

    // MARK: Pull

    @Test func pullStreamsProgressAndTheModelAppearsInTags() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fixture = standard.fixture
        let fake = Self.fake(standard)
        let catalogue = try #require(standard.catalogue["all-minilm:latest"])
        let blobs = catalogue.layers.map(\.bytes) + [catalogue.config]
        let (steps, error, tags) = try await fake.run { baseURL in
            let client = client(baseURL)
            let (steps, error) = await Self.collect(client.pull("all-minilm"))
            return (steps, error.map { "\($0)" }, try await client.tags())
        }
        #expect(error == nil)
        #expect(steps.first?.status == "pulling manifest")
        #expect(steps.last?.isSuccess == true)
        #expect(steps.map(\.status).suffix(3) == ["verifying sha256 digest", "writing manifest", "success"])
        // Each blob: its short digest in the status, the total, and the bytes done rising to it.
        for bytes in blobs {
            let hex = OllamaModelsFixtureBuilder.sha256(bytes)
            let progress = steps.filter { $0.digest == "sha256:" + hex }
            #expect(progress.allSatisfy { $0.status == "pulling " + hex.prefix(12) && $0.total == Int64(bytes.count) })
            let completed = progress.map { $0.completed ?? 0 }
            #expect(completed == completed.sorted())
            #expect(completed.last == Int64(bytes.count))
            #expect(try fixture.read(.init(mediaType: "", digest: "sha256:" + hex, size: 0)) == bytes)
        }
        #expect(
            try fixture.blobFileNames().allSatisfy {
                !$0.hasSuffix("-partial") || standard.partialPaths.contains("blobs/" + $0)
            })

        let pulled = try #require(tags.first { $0.name == "all-minilm:latest" })
        #expect(pulled.size == blobs.reduce(0) { $0 + Int64($1.count) })
        #expect(pulled.details.family == "bert")
        #expect(tags.count == 4)

        let request = try #require(fake.requests.first { $0.path == "/api/pull" })
        #expect(request.method == "POST")
        #expect(try Self.canonicalJSON(request.body) == #"{"insecure":false,"model":"all-minilm","stream":true}"#)
    }

    @Test func pullReportsBlobsAlreadyOnDiskAsComplete() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fixture = standard.fixture
        let bytesBefore = try fixture.blobsDirectoryBytes()
        let steps = try await Self.fake(standard).run { baseURL in
            let (steps, error) = await Self.collect(client(baseURL).pull("llama3.2:1b"))
            #expect(error == nil)
            return steps
        }
        // llama3.2:1b shares the template and license with llama3.2:latest: one step each, complete at once.
        for shared in [standard.template, standard.license] {
            let progress = steps.filter { $0.digest == shared.digest }
            #expect(progress.count == 1)
            #expect(progress.first?.completed == shared.size && progress.first?.total == shared.size)
        }
        let catalogue = try #require(standard.catalogue["llama3.2:1b"])
        let newBytes = (catalogue.layers.map(\.bytes) + [catalogue.config]).reduce(Int64(0)) { $0 + Int64($1.count) }
        #expect(
            try fixture.blobsDirectoryBytes() - bytesBefore == newBytes - standard.template.size - standard.license.size
        )
    }

    @Test func anErrorLineMidPullIsThrownAfterTheStepsBeforeIt() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let fixture = standard.fixture
        let fake = Self.fake(standard)
        fake.failNextPull(
            afterBlobs: 1, message: "max retries exceeded: dial tcp: lookup registry.ollama.ai: no such host")
        let (steps, error, tags) = try await fake.run { baseURL in
            let client = client(baseURL)
            let (steps, error) = await Self.collect(client.pull("all-minilm:latest"))
            return (steps, error as? ProviderError, try await client.tags())
        }
        let providerError = try #require(error)
        #expect(providerError.code == .upstreamServerError)
        #expect(providerError.message.contains("'all-minilm:latest'"))
        #expect(providerError.message.contains("internet access"))
        #expect(!providerError.message.contains("dial tcp"))  // upstream text is classified, not repeated
        #expect(steps.first?.status == "pulling manifest")
        #expect(steps.contains { $0.completed != nil })
        #expect(!steps.contains { $0.isSuccess })
        #expect(!tags.contains { $0.name == "all-minilm:latest" })
        #expect(try fixture.blobFileNames().filter { $0.hasSuffix("-partial") }.count == 2)  // the old one and this one
    }

    @Test func pullingAModelTheRegistryLacksIsModelNotFound() async throws {
        let standard = try OllamaModelsFixtureBuilder.standard()
        let (steps, error) = try await Self.fake(standard).run { baseURL in
            let (steps, error) = await Self.collect(client(baseURL).pull("nosuch:7b"))
            return (steps, error as? ProviderError)
        }
        #expect(steps.map(\.status) == ["pulling manifest"])
        let providerError = try #require(error)
        #expect(providerError.code == .modelNotFound)
        #expect(providerError.message.contains("'nosuch:7b'"))
    }

    // MARK: Failures and bounds

    @Test func aDeadEndpointFailsFast() async throws {
        // Nothing listens on port 1 of the loopback: the connection is refused at once.
        let client = client("http://127.0.0.1:1")
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: ProviderError.self) { try await client.tags() }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("Check its URL") == true)
        let (steps, pullError) = await Self.collect(client.pull("llama3.2"))
        #expect(steps.isEmpty)
        #expect((pullError as? ProviderError)?.code == .connectionFailed)
        // Refused, not timed out: the failure mode this guards against is the 10 s connect timeout. (No time bound:
        // a loaded 2-core machine makes any one flaky.)
        #expect(error?.message.contains("refused") == true, "\(error?.message ?? "")")
        _ = clock.now - start
    }

    @Test func theRecordedOllamaAnswersDecode() async throws {
        let fake = try FakeUpstream(provider: "ollama")
        fake.serve("tags_response.json")
        let tags = try await fake.run { try await client($0).tags() }
        #expect(tags.map(\.name) == ["llama3.2:latest", "all-minilm:latest"])
        #expect(tags.first?.size == 2_019_393_189)
        #expect(tags.first?.digest == "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72")
        // 2025-05-04T17:37:44.706015396-07:00
        let modified = try #require(tags.first?.modifiedAt)
        #expect(abs(modified.timeIntervalSince1970 - 1_746_405_464.706015396) < 0.000_01)
        #expect(tags.last?.details.quantizationLevel == "F16")

        fake.serve("ps_response.json")
        let running = try #require(try await fake.run { try await client($0).ps() }.first)
        #expect(running.sizeVRAM == 3_310_522_368)
        #expect(running.contextLength == 4096)
        #expect(running.expiresAt != nil)

        fake.serve("show_response.json")
        let shown = try await fake.run { try await client($0).show("llama3.2") }
        #expect(shown.contextLength == 131_072)
        #expect(shown.embeddingLength == 3072)
        #expect(shown.parameterCount == 3_212_749_888)
        #expect(shown.capabilities == ["completion", "tools"])

        fake.serve("version_response.json")
        #expect(try await fake.run { try await client($0).version() } == "0.12.6")
    }

    @Test func numbersFromTheUpstreamAreClampedAndBadEntriesDropped() throws {
        let json = #"""
            {"models":[
              {"name":"a:latest","size":-5,"digest":"d","details":{"families":null}},
              {"name":"b:latest","size":1e300,"size_vram":3.7,"context_length":-4096,"modified_at":"garbage"},
              {"name":"c:latest","size":99999999999999999999999,"expires_at":"0001-01-01T00:00:00Z"},
              {"size":12},
              "not a model",
              {"model":"d:latest","size":"12"}
            ]}
            """#
        let list = try JSONDecoder().decode(OllamaAdminWire.ModelList.self, from: Data(json.utf8))
        #expect(list.models.map(\.name) == ["a:latest", "b:latest", "c:latest", "d:latest"])
        #expect(list.models.map(\.size) == [0, .max, .max, 0])
        #expect(list.models[1].sizeVRAM == 3)
        #expect(list.models[1].contextLength == nil)
        #expect(list.models[1].modifiedAt == nil)
        #expect(list.models[2].expiresAt == nil)
        #expect(
            try JSONDecoder().decode(OllamaAdminWire.ModelList.self, from: Data(#"{"models":null}"#.utf8)).models
                .isEmpty)

        let line = try JSONDecoder().decode(
            OllamaAdminWire.PullLine.self, from: Data(#"{"status":"pulling x","total":-1,"completed":1e300}"#.utf8))
        #expect(line.total == 0)
        #expect(line.completed == .max)
    }

    @Test func anOverlongPullLineFailsBeforeItIsBuffered() throws {
        let errors = OllamaAdminClient.Errors(provider: "ollama", endpoint: "http://x", hasAPIKey: false)
        var decoder = OllamaPullDecoder(errors: errors, model: "m", maximumLineBytes: 100)
        var steps: [OllamaPullProgress] = []
        try decoder.feed(ByteBuffer(string: #"{"status":"pulling manifest"}"# + "\n"), into: &steps)
        #expect(steps.map(\.status) == ["pulling manifest"])
        let error = #expect(throws: ProviderError.self) {
            try decoder.feed(ByteBuffer(string: "{\"status\":\"" + String(repeating: "x", count: 200)), into: &steps)
        }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("over 100 bytes") == true)

        // Newer Ollama's registry client fails a pull with a status line instead of an error field.
        var newer = OllamaPullDecoder(errors: errors, model: "nosuch:7b", maximumLineBytes: 1000)
        let failed = #expect(throws: ProviderError.self) {
            try newer.feed(
                ByteBuffer(
                    string: #"{"status":"pulling manifest"}"# + "\n"
                        + #"{"status":"error: model \"nosuch:7b\" not found"}"# + "\n"),
                into: &steps)
        }
        #expect(failed?.code == .modelNotFound)
        #expect(steps.last?.status == "pulling manifest")

        // A stream that ends without success is cut short.
        var unfinished = OllamaPullDecoder(errors: errors, model: "m", maximumLineBytes: 100)
        try unfinished.feed(ByteBuffer(string: #"{"status":"pulling manifest"}"#), into: &steps)
        #expect(throws: ProviderError.self) { try unfinished.finish(into: &steps) }
    }
}
