import Foundation
import Testing

@testable import Lifecycle

@Suite struct OllamaModelStoreTests {
    let now = OllamaModelsFixture.now

    func model(_ usage: OllamaDiskUsage, _ name: String) throws -> OllamaDiskUsage.Model {
        let parsed = try #require(OllamaModelName(parsing: name))
        return try #require(usage.models.first { $0.name == parsed })
    }

    // MARK: The standard fixture

    @Test func listsModelsByTheNamesOllamaShows() throws {
        let standard = try OllamaModelsFixture.standard()
        let snapshot = try OllamaModelsDirectory.scan(path: standard.fixture.root)
        #expect(
            snapshot.manifests.map(\.name.displayName).sorted() == [
                "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "jdoe/mario:latest", "llama3.2:latest",
            ])
        #expect(snapshot.invalidManifests.isEmpty)
        #expect(snapshot.skipped.isEmpty)
    }

    @Test func digestIsTheSHA256OfTheManifestFile() throws {
        let standard = try OllamaModelsFixture.standard()
        let usage = OllamaModelStore(snapshot: try OllamaModelsDirectory.scan(path: standard.fixture.root)).usage(
            now: now)
        for (name, path) in [
            ("llama3.2", standard.llamaManifest), ("jdoe/mario", standard.marioManifest),
            ("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", standard.qwenManifest),
        ] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: standard.fixture.root + "/" + path))
            #expect(try model(usage, name).digest.hex == ManifestHash.hexDigest(of: Array(bytes)))
            #expect(try model(usage, name).path == path)
        }
    }

    @Test func totalCountsTheSharedBlobsOnceAndApparentCountsThemPerModel() throws {
        let standard = try OllamaModelsFixture.standard()
        let usage = try OllamaModelStore(path: standard.fixture.root).usage(now: now)
        let total = standard.sharedBytes + standard.llamaOwnBytes + standard.marioOwnBytes + standard.qwenBytes
        #expect(usage.totalBytes == total)
        #expect(usage.totalBytes == 91_107)
        // What /api/tags adds up: the shared weights, template and license once for llama3.2 and again for mario.
        #expect(usage.apparentBytes == total + standard.sharedBytes)
        #expect(usage.apparentBytes == 149_307)
        // Measured independently: every file in blobs/ is referenced, orphaned, or a partial download.
        let partialBytes = Int64(8_192 + standard.partialProgress.count)
        #expect(try standard.fixture.blobsDirectoryBytes() == total + Int64(standard.orphan.size) + partialBytes)
    }

    @Test func splitsEachModelIntoUniqueAndSharedBytes() throws {
        let standard = try OllamaModelsFixture.standard()
        let usage = try OllamaModelStore(path: standard.fixture.root).usage(now: now)

        let llama = try model(usage, "llama3.2")
        #expect(llama.uniqueBytes == standard.llamaOwnBytes)
        #expect(llama.sharedBytes == standard.sharedBytes)
        #expect(llama.diskBytes == llama.uniqueBytes + llama.sharedBytes)
        #expect(llama.sizeBytes == standard.llamaOwnBytes + standard.sharedBytes)
        #expect(llama.missingBlobs.isEmpty)

        let mario = try model(usage, "jdoe/mario:latest")
        #expect(mario.uniqueBytes == standard.marioOwnBytes)
        #expect(mario.sharedBytes == standard.sharedBytes)

        let qwen = try model(usage, "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M")
        #expect(qwen.uniqueBytes == standard.qwenBytes)
        #expect(qwen.sharedBytes == 0)

        let weights = try #require(llama.blobs.first { $0.digest.description == standard.weights.digest })
        #expect(weights.role == .layer)
        #expect(weights.mediaType == "application/vnd.ollama.image.model")
        #expect(weights.bytes == Int64(standard.weights.size))
        #expect(weights.sharedWith == ["jdoe/mario:latest"])
        #expect(llama.blobs.first?.role == .config)
        #expect(llama.blobs.count == 5)
    }

    @Test func uniqueBytesAreWhatDeletingTheModelAloneFreesOnDisk() throws {
        for (name, keyPath) in [
            ("llama3.2", \OllamaModelsFixture.Standard.llamaManifest), ("jdoe/mario", \.marioManifest),
        ] {
            let standard = try OllamaModelsFixture.standard()
            let usage = try OllamaModelStore(path: standard.fixture.root).usage(now: now)
            let freed = try standard.fixture.simulateOllamaDelete(standard[keyPath: keyPath])
            #expect(try model(usage, name).uniqueBytes == freed)
        }
    }

    @Test func reportsOrphansAndPartialDownloadsWithTheirAges() throws {
        let standard = try OllamaModelsFixture.standard()
        let usage = try OllamaModelStore(path: standard.fixture.root).usage(now: now)
        #expect(usage.orphans.map(\.path) == ["blobs/sha256-" + standard.orphan.hex])
        #expect(usage.orphans.first?.bytes == 12_000)
        #expect(usage.orphans.first?.ageSeconds == Int64(3 * 86_400))
        #expect(usage.partials.map(\.path).sorted() == standard.partialPaths)
        #expect(usage.partials.map(\.ageSeconds) == [2 * 86_400, 2 * 86_400])
        #expect(usage.partialBytes == Int64(8_192 + standard.partialProgress.count))
    }

    @Test func deletionsFreeSharedBlobsOnlyWithTheirLastHolder() throws {
        let standard = try OllamaModelsFixture.standard()
        let store = try OllamaModelStore(path: standard.fixture.root)
        #expect(
            store.bytesFreed(deletingInOrder: ["llama3.2", "jdoe/mario"])
                == [standard.llamaOwnBytes, standard.marioOwnBytes + standard.sharedBytes])
        #expect(
            store.bytesFreed(deletingInOrder: ["jdoe/mario", "llama3.2"])
                == [standard.marioOwnBytes, standard.llamaOwnBytes + standard.sharedBytes])
        #expect(
            store.bytesFreed(deletingInOrder: ["nonexistent", "llama3.2", "llama3.2"]) == [
                0, standard.llamaOwnBytes, 0,
            ])

        // The same on disk, deleting as Ollama does.
        #expect(try standard.fixture.simulateOllamaDelete(standard.llamaManifest) == standard.llamaOwnBytes)
        #expect(
            try standard.fixture.simulateOllamaDelete(standard.marioManifest)
                == standard.marioOwnBytes + standard.sharedBytes)
    }

    @Test func reportsMissingBlobsWithoutCountingThem() throws {
        let standard = try OllamaModelsFixture.standard()
        try FileManager.default.removeItem(atPath: standard.fixture.root + "/blobs/sha256-" + standard.qwenTemplate.hex)
        let usage = try OllamaModelStore(path: standard.fixture.root).usage(now: now)
        let qwen = try model(usage, "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M")
        #expect(qwen.missingBlobs.map(\.hex) == [standard.qwenTemplate.hex])
        #expect(qwen.uniqueBytes == standard.qwenBytes - Int64(standard.qwenTemplate.size))
        #expect(qwen.blobs.first { $0.digest.hex == standard.qwenTemplate.hex }?.bytes == nil)
        #expect(usage.totalBytes == 91_107 - Int64(standard.qwenTemplate.size))
    }

    @Test func measuresTheBytesASparsePartialDownloadHolds() throws {
        let fixture = try OllamaModelsFixture()
        let hex = String(repeating: "5", count: 64)
        let path = fixture.root + "/blobs/sha256-\(hex)-partial"
        // As Ollama does: create, truncate to the blob's full size, write what has arrived.
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 64 << 20)
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data(OllamaModelsFixture.content(16_384, seed: 1)))
        try handle.close()

        let partial = try #require(try OllamaModelsDirectory.scan(path: fixture.root).partials.first)
        #expect(partial.apparentBytes == 64 << 20)
        #expect(partial.bytes >= 16_384)
        #expect(partial.bytes < 1 << 20)
    }

    // MARK: Invalid manifests and links

    @Test func reportsAndIgnoresInvalidManifests() throws {
        let standard = try OllamaModelsFixture.standard()
        let fixture = standard.fixture
        let kept = try fixture.blob(3_000, seed: 40, mediaType: "application/vnd.ollama.image.model")
        let config = standard.llamaConfig
        var traversal = kept
        traversal.digest = "../../etc/passwd"
        try fixture.manifest(
            "registry.ollama.ai", "library", "evil", "latest",
            text: OllamaModelsFixture.manifestJSON(config: config, layers: [kept, traversal]))
        var short = kept
        short.digest = "sha256:1234"
        try fixture.manifest(
            "registry.ollama.ai", "library", "short", "latest",
            text: OllamaModelsFixture.manifestJSON(config: config, layers: [short]))
        try fixture.manifest(
            "registry.ollama.ai", "bad.namespace", "model", "latest",
            text: OllamaModelsFixture.manifestJSON(config: config, layers: [kept]))
        var negative = kept
        negative.size = -1
        try fixture.manifest(
            "registry.ollama.ai", "library", "negative", "latest",
            text: OllamaModelsFixture.manifestJSON(config: config, layers: [negative]))

        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(snapshot.manifests.count == 3)
        let reasons = Dictionary(uniqueKeysWithValues: snapshot.invalidManifests.map { ($0.path, $0.reason) })
        #expect(
            reasons == [
                "manifests/registry.ollama.ai/library/evil/latest": .invalidDigest,
                "manifests/registry.ollama.ai/library/short/latest": .invalidDigest,
                "manifests/registry.ollama.ai/bad.namespace/model/latest": .invalidName,
                "manifests/registry.ollama.ai/library/negative/latest": .invalidSize,
            ])
        let evil = try #require(snapshot.invalidManifests.first { $0.path.contains("/evil/") })
        #expect(evil.message.contains("../../etc/passwd"))
        #expect(!evil.hidesReferences)

        // What they name correctly stays protected: the extra blob is no orphan and no model's alone.
        let usage = OllamaModelStore(snapshot: snapshot).usage(now: now)
        #expect(usage.orphans.map(\.path) == ["blobs/sha256-" + standard.orphan.hex])
        #expect(usage.totalBytes == 91_107 + 3_000)
        #expect(try model(usage, "llama3.2").uniqueBytes == Int64(standard.llamaParams.size))
    }

    @Test func reportsManifestsItCannotReadAsHidingReferences() throws {
        let fixture = try OllamaModelsFixture()
        try fixture.manifest("registry.ollama.ai", "library", "garbage", "latest", text: "not json {")
        try fixture.manifest(
            "registry.ollama.ai", "library", "huge", "latest",
            text: String(repeating: " ", count: OllamaModelsDirectory.maximumManifestBytes + 1))
        let linkDirectory = fixture.root + "/manifests/registry.ollama.ai/library/link"
        try FileManager.default.createDirectory(atPath: linkDirectory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: linkDirectory + "/latest", withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(
            atPath: linkDirectory + "/up", withDestinationPath: "../../../../blobs/../../outside")

        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(snapshot.manifests.isEmpty)
        let reasons = Dictionary(uniqueKeysWithValues: snapshot.invalidManifests.map { ($0.path, $0.reason) })
        #expect(
            reasons == [
                "manifests/registry.ollama.ai/library/garbage/latest": .notJSON,
                "manifests/registry.ollama.ai/library/huge/latest": .tooLarge,
                "manifests/registry.ollama.ai/library/link/latest": .linkOutsideBlobs,
                "manifests/registry.ollama.ai/library/link/up": .linkOutsideBlobs,
            ])
        #expect(snapshot.invalidManifests.allSatisfy { $0.hidesReferences })
    }

    @Test func readsNewerOllamasManifestLinksAndCountsTheManifestBlob() throws {
        let fixture = try OllamaModelsFixture()
        let weights = try fixture.blob(4_000, seed: 50, mediaType: "application/vnd.ollama.image.model")
        let config = try fixture.blob(300, seed: 51, mediaType: "application/vnd.docker.container.image.v1+json")
        let text = OllamaModelsFixture.manifestJSON(config: config, layers: [weights])
        let hex = ManifestHash.hexDigest(of: Array(text.utf8))
        try fixture.write("blobs/sha256-" + hex, bytes: Array(text.utf8), modified: OllamaModelsFixture.daysAgo(1))
        let directory = fixture.root + "/manifests-v2/ollama.com/library/tiny"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/latest", withDestinationPath: "../../../../blobs/sha256-" + hex)
        // A legacy copy of the same model: Ollama reads the v2 one and ignores this.
        try fixture.manifest("registry.ollama.ai", "library", "tiny", "latest", text: text)

        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(snapshot.manifests.map(\.name.displayName) == ["tiny:latest"])
        #expect(snapshot.manifests.first?.path == "manifests-v2/ollama.com/library/tiny/latest")
        #expect(snapshot.manifests.first?.digest.hex == hex)
        #expect(snapshot.invalidManifests.map(\.reason) == [.shadowed])

        let usage = OllamaModelStore(snapshot: snapshot).usage(now: now)
        let manifestBytes = Int64(text.utf8.count)
        #expect(usage.orphans.isEmpty)
        #expect(usage.totalBytes == 4_300 + manifestBytes)
        #expect(usage.apparentBytes == 4_300)
        let tiny = try model(usage, "tiny")
        #expect(tiny.uniqueBytes == 4_300 + manifestBytes)
        #expect(tiny.blobs.first?.role == .manifest)
        #expect(OllamaModelStore(snapshot: snapshot).bytesFreed(deletingInOrder: ["tiny"]) == [4_300 + manifestBytes])
    }

    @Test func refusesAManifestLinkWhoseBlobDoesNotMatchItsName() throws {
        let fixture = try OllamaModelsFixture()
        let hex = String(repeating: "7", count: 64)
        try fixture.write("blobs/sha256-" + hex, bytes: Array(#"{"layers":[]}"#.utf8), modified: now)
        let directory = fixture.root + "/manifests-v2/ollama.com/library/forged"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/latest", withDestinationPath: "../../../../blobs/sha256-" + hex)
        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(snapshot.manifests.isEmpty)
        #expect(snapshot.invalidManifests.map(\.reason) == [.digestMismatch])
    }

    @Test func doesNotFollowLinksInBlobs() throws {
        let standard = try OllamaModelsFixture.standard()
        let fixture = standard.fixture
        let path = fixture.root + "/blobs/sha256-" + standard.qwenTemplate.hex
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/etc/hostname")
        try FileManager.default.createDirectory(
            atPath: fixture.root + "/blobs/splits", withIntermediateDirectories: true)
        try fixture.write("blobs/sha256-123456789", bytes: [1, 2, 3], modified: now)

        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(
            Set(snapshot.skipped.map(\.path)) == [
                "blobs/sha256-" + standard.qwenTemplate.hex, "blobs/splits", "blobs/sha256-123456789",
            ])
        let usage = OllamaModelStore(snapshot: snapshot).usage(now: now)
        #expect(try model(usage, "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M").missingBlobs.count == 1)
    }

    @Test func acceptsALinkedRootButNotLinkedSubdirectories() throws {
        let standard = try OllamaModelsFixture.standard()
        let link = standard.fixture.base + "/models-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: standard.fixture.root)
        let snapshot = try OllamaModelsDirectory.scan(path: link)
        #expect(snapshot.root == (try FileSystem.realPath(standard.fixture.root)))
        #expect(snapshot.manifests.count == 3)

        let other = try OllamaModelsFixture()
        try FileManager.default.removeItem(atPath: other.root + "/blobs")
        try FileManager.default.createSymbolicLink(atPath: other.root + "/blobs", withDestinationPath: "/tmp")
        let error = try #require(throws: ModelStoreError.self) { try OllamaModelsDirectory.scan(path: other.root) }
        #expect(error.code == .symbolicLink)
    }

    @Test func explainsWhatToConfigureWhenTheDirectoryIsWrong() throws {
        let missing = try #require(throws: ModelStoreError.self) {
            try OllamaModelsDirectory.scan(path: "/nonexistent/ollama/models")
        }
        #expect(missing.code == .notFound)
        #expect(missing.message.contains("lifecycle.ollama_models_dir"))

        let fixture = try OllamaModelsFixture()
        let empty = try #require(throws: ModelStoreError.self) { try OllamaModelsDirectory.scan(path: fixture.base) }
        #expect(empty.code == .notAModelsDirectory)
        try fixture.write("manifests/not-a-directory", bytes: [1], modified: now)
        let file = try #require(throws: ModelStoreError.self) {
            try OllamaModelsDirectory.scan(path: fixture.root + "/manifests/not-a-directory")
        }
        #expect(file.code == .notAModelsDirectory)
    }

    @Test func skipsOllamasTemporaryFilesAndStrayEntries() throws {
        let standard = try OllamaModelsFixture.standard()
        let fixture = standard.fixture
        try fixture.write("manifests/registry.ollama.ai/library/llama3.2/.manifest-123", bytes: [1], modified: now)
        try fixture.write("manifests/README", bytes: [1], modified: now)
        try FileManager.default.createDirectory(
            atPath: fixture.root + "/manifests/registry.ollama.ai/library/llama3.2/nested",
            withIntermediateDirectories: true)
        let snapshot = try OllamaModelsDirectory.scan(path: fixture.root)
        #expect(snapshot.manifests.count == 3)
        #expect(snapshot.invalidManifests.isEmpty)
        #expect(
            snapshot.skipped.map(\.path) == [
                "manifests/README", "manifests/registry.ollama.ai/library/llama3.2/nested",
            ])
    }
}
