import Foundation
import Testing

@testable import Lifecycle

@Suite struct OrphanRemovalTests {
    let now = OllamaModelsFixture.now

    func refusal(_ path: String, root: String, modifiedBefore: Date? = nil) throws -> ModelStoreError {
        let error = try #require(throws: ModelStoreError.self) {
            try OllamaModelsDirectory.removeOrphanOrPartial(path: path, root: root, modifiedBefore: modifiedBefore)
        }
        #expect(error.code == .refused, "\(error)")
        return error
    }

    @Test func removesAnOrphanGivenRelativeOrAbsolute() throws {
        let standard = try OllamaModelsFixture.standard()
        let root = standard.fixture.root
        let relative = "blobs/sha256-" + standard.orphan.hex
        #expect(try OllamaModelsDirectory.removeOrphanOrPartial(path: relative, root: root) == 12_000)
        #expect(!FileManager.default.fileExists(atPath: root + "/" + relative))
        // Already gone: nothing to do.
        #expect(try OllamaModelsDirectory.removeOrphanOrPartial(path: relative, root: root) == 0)

        for path in standard.partialPaths {
            #expect(try OllamaModelsDirectory.removeOrphanOrPartial(path: root + "/" + path, root: root) > 0)
        }
        #expect(try OllamaModelStore(path: root).usage(now: now).partials.isEmpty)
    }

    @Test func refusesABlobAManifestReferences() throws {
        let standard = try OllamaModelsFixture.standard()
        let error = try refusal("blobs/sha256-" + standard.weights.hex, root: standard.fixture.root)
        #expect(error.message.contains("a manifest references it"))
        #expect(FileManager.default.fileExists(atPath: standard.fixture.root + "/blobs/sha256-" + standard.weights.hex))
    }

    @Test func refusesPathsOutsideBlobs() throws {
        let standard = try OllamaModelsFixture.standard()
        let root = standard.fixture.root
        let orphan = "sha256-" + standard.orphan.hex
        for path in [
            standard.llamaManifest, "blobs/../" + standard.llamaManifest, "blobs/./" + orphan, "./blobs/" + orphan,
            "blobs//" + orphan, "/etc/passwd", root + "/manifests/" + orphan, root + "/blobs/../blobs/" + orphan,
            "blobs/", "", "blobs/splits/" + orphan, "../models/blobs/" + orphan,
        ] {
            _ = try refusal(path, root: root)
        }
        #expect(FileManager.default.fileExists(atPath: root + "/blobs/" + orphan))
    }

    @Test func refusesNamesThatAreNeitherBlobsNorPartials() throws {
        let fixture = try OllamaModelsFixture()
        try fixture.write("blobs/notes.txt", bytes: [1], modified: now)
        try fixture.write("blobs/sha256-123456789", bytes: [1], modified: now)
        _ = try refusal("blobs/notes.txt", root: fixture.root)
        _ = try refusal("blobs/sha256-123456789", root: fixture.root)
    }

    @Test func refusesLinksAndDirectories() throws {
        let fixture = try OllamaModelsFixture()
        let hex = String(repeating: "c", count: 64)
        let outside = fixture.base + "/outside"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createSymbolicLink(
            atPath: fixture.root + "/blobs/sha256-" + hex, withDestinationPath: outside)
        try FileManager.default.createDirectory(
            atPath: fixture.root + "/blobs/sha256-\(hex)-partial", withIntermediateDirectories: true)
        _ = try refusal("blobs/sha256-" + hex, root: fixture.root)
        _ = try refusal("blobs/sha256-\(hex)-partial", root: fixture.root)
        #expect(FileManager.default.fileExists(atPath: outside))
    }

    @Test func refusesFilesModifiedWithinTheGrace() throws {
        let standard = try OllamaModelsFixture.standard()
        // The download was last written 2 days ago; a 3-day grace still protects it.
        let error = try refusal(
            standard.partialPaths[0], root: standard.fixture.root, modifiedBefore: OllamaModelsFixture.daysAgo(3))
        #expect(error.message.contains("within the grace period"))
    }

    @Test func refusesOrphansWhileAManifestCannotBeRead() throws {
        let standard = try OllamaModelsFixture.standard()
        try standard.fixture.manifest("registry.ollama.ai", "library", "broken", "latest", text: "[")
        let error = try refusal("blobs/sha256-" + standard.orphan.hex, root: standard.fixture.root)
        #expect(error.message.contains("manifests/registry.ollama.ai/library/broken/latest"))
    }
}
