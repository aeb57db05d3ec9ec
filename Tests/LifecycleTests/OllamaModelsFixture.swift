import Foundation
import Testing

@testable import Lifecycle

/// A real Ollama models directory in a temporary directory, written the way Ollama writes one.
///
/// ``standard()`` holds the fixture the issue describes: `llama3.2:latest` and `jdoe/mario:latest` (created `FROM`
/// llama3.2 with its own system prompt) share the weights, template and license blobs;
/// `hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M` has blobs of its own; one blob is orphaned; one download was
/// interrupted. Sizes are small and distinct so that every sum identifies its parts.
final class OllamaModelsFixture {
    let base: String
    let root: String
    let fileManager = FileManager.default

    /// `now` for every test that uses the fixture: 2026-05-28T20:26:40Z.
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static func daysAgo(_ days: Double) -> Date { now.addingTimeInterval(-days * 86_400) }

    init() throws {
        base = NSTemporaryDirectory().appendingPathComponent("lifecycle-tests-\(UUID().uuidString)")
        root = base.appendingPathComponent("models")
        try fileManager.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: root + "/blobs", withIntermediateDirectories: true)
    }

    deinit { try? fileManager.removeItem(atPath: base) }

    // MARK: Writing

    /// Deterministic pseudo-random bytes (incompressible, so sizes on disk are what they seem).
    static func content(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Writes a blob named after the SHA-256 of its content and returns the layer entry a manifest would hold.
    @discardableResult
    func blob(_ size: Int, seed: UInt64, mediaType: String, modified: Date = daysAgo(60)) throws -> Layer {
        let bytes = Self.content(size, seed: seed)
        let hex = ManifestHash.hexDigest(of: bytes)
        let path = root + "/blobs/sha256-" + hex
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try setModified(path, modified)
        return Layer(digest: "sha256:" + hex, size: size, mediaType: mediaType)
    }

    struct Layer {
        var digest: String
        var size: Int
        var mediaType: String
        var hex: String { String(digest.dropFirst(7)) }
        var json: String { #"{"mediaType":"\#(mediaType)","digest":"\#(digest)","size":\#(size)}"# }
    }

    /// The manifest bytes exactly as `ollama pull` writes them: the registry's compact JSON.
    static func manifestJSON(config: Layer, layers: [Layer]) -> String {
        #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":"#
            + config.json + #","layers":["# + layers.map(\.json).joined(separator: ",") + "]}"
    }

    /// Writes `manifests/<host>/<namespace>/<model>/<tag>` and returns its path relative to the root.
    @discardableResult
    func manifest(
        _ host: String, _ namespace: String, _ model: String, _ tag: String, text: String,
        modified: Date = daysAgo(60), directory: String = "manifests"
    ) throws -> String {
        let relative = "\(directory)/\(host)/\(namespace)/\(model)/\(tag)"
        try fileManager.createDirectory(
            atPath: root + "/" + (relative as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + relative))
        try setModified(root + "/" + relative, modified)
        return relative
    }

    func write(_ relative: String, bytes: [UInt8], modified: Date) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + relative))
        try setModified(root + "/" + relative, modified)
    }

    func setModified(_ path: String, _ date: Date) throws {
        try fileManager.setAttributes([.modificationDate: date], ofItemAtPath: path)
    }

    // MARK: The standard fixture

    struct Standard {
        let fixture: OllamaModelsFixture
        // Shared by llama3.2:latest and jdoe/mario:latest.
        let weights: Layer, template: Layer, license: Layer
        // llama3.2:latest only.
        let llamaParams: Layer, llamaConfig: Layer
        // jdoe/mario:latest only.
        let marioSystem: Layer, marioParams: Layer, marioConfig: Layer
        // hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M only.
        let qwenWeights: Layer, qwenTemplate: Layer, qwenConfig: Layer
        let llamaManifest: String, marioManifest: String, qwenManifest: String
        let orphan: Layer
        let partialHex: String
        let partialProgress: [UInt8]

        var sharedBytes: Int64 { Int64(weights.size + template.size + license.size) }
        var llamaOwnBytes: Int64 { Int64(llamaParams.size + llamaConfig.size) }
        var marioOwnBytes: Int64 { Int64(marioSystem.size + marioParams.size + marioConfig.size) }
        var qwenBytes: Int64 { Int64(qwenWeights.size + qwenTemplate.size + qwenConfig.size) }
        var partialPaths: [String] { ["blobs/sha256-\(partialHex)-partial", "blobs/sha256-\(partialHex)-partial-0"] }
    }

    /// Builds the standard fixture. Pulls: llama3.2 40 days ago, mario 20, qwen 5; the orphan is 3 days old and the
    /// interrupted download 2 days old.
    static func standard() throws -> Standard {
        let fixture = try OllamaModelsFixture()
        let weights = try fixture.blob(50_000, seed: 1, mediaType: "application/vnd.ollama.image.model")
        let template = try fixture.blob(1_200, seed: 2, mediaType: "application/vnd.ollama.image.template")
        let license = try fixture.blob(7_000, seed: 3, mediaType: "application/vnd.ollama.image.license")
        let llamaParams = try fixture.blob(96, seed: 4, mediaType: "application/vnd.ollama.image.params")
        let llamaConfig = try fixture.blob(561, seed: 5, mediaType: "application/vnd.docker.container.image.v1+json")
        let marioSystem = try fixture.blob(150, seed: 6, mediaType: "application/vnd.ollama.image.system")
        let marioParams = try fixture.blob(120, seed: 7, mediaType: "application/vnd.ollama.image.params")
        let marioConfig = try fixture.blob(580, seed: 8, mediaType: "application/vnd.docker.container.image.v1+json")
        let qwenWeights = try fixture.blob(30_000, seed: 9, mediaType: "application/vnd.ollama.image.model")
        let qwenTemplate = try fixture.blob(900, seed: 10, mediaType: "application/vnd.ollama.image.template")
        let qwenConfig = try fixture.blob(500, seed: 11, mediaType: "application/vnd.docker.container.image.v1+json")
        let orphan = try fixture.blob(
            12_000, seed: 12, mediaType: "application/vnd.ollama.image.model", modified: daysAgo(3))

        let llamaManifest = try fixture.manifest(
            "registry.ollama.ai", "library", "llama3.2", "latest",
            text: manifestJSON(config: llamaConfig, layers: [weights, template, license, llamaParams]),
            modified: daysAgo(40))
        let marioManifest = try fixture.manifest(
            "registry.ollama.ai", "jdoe", "mario", "latest",
            text: manifestJSON(config: marioConfig, layers: [weights, template, marioSystem, license, marioParams]),
            modified: daysAgo(20))
        let qwenManifest = try fixture.manifest(
            "hf.co", "bartowski", "Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M",
            text: manifestJSON(config: qwenConfig, layers: [qwenWeights, qwenTemplate]), modified: daysAgo(5))

        // An interrupted pull: the preallocated data file and the progress of its one part.
        let partialHex = ManifestHash.hexDigest(of: content(100, seed: 13))
        try fixture.write(
            "blobs/sha256-\(partialHex)-partial", bytes: content(8_192, seed: 14), modified: daysAgo(2))
        let progress = Array(#"{"N":0,"Offset":0,"Size":24576,"Completed":8192}"#.utf8) + [0x0A]
        try fixture.write("blobs/sha256-\(partialHex)-partial-0", bytes: progress, modified: daysAgo(2))

        return Standard(
            fixture: fixture, weights: weights, template: template, license: license, llamaParams: llamaParams,
            llamaConfig: llamaConfig, marioSystem: marioSystem, marioParams: marioParams, marioConfig: marioConfig,
            qwenWeights: qwenWeights, qwenTemplate: qwenTemplate, qwenConfig: qwenConfig, llamaManifest: llamaManifest,
            marioManifest: marioManifest, qwenManifest: qwenManifest, orphan: orphan, partialHex: partialHex,
            partialProgress: progress)
    }

    // MARK: Measuring and deleting, independently of the code under test

    /// The sum of the sizes of the regular files directly in `blobs/`, measured with `FileManager`.
    func blobsDirectoryBytes() throws -> Int64 {
        try fileManager.contentsOfDirectory(atPath: root + "/blobs").reduce(Int64(0)) { total, name in
            let attributes = try fileManager.attributesOfItem(atPath: root + "/blobs/" + name)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { return total }
            return total + ((attributes[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    /// The digests a manifest file lists (config and layers), read with `JSONSerialization`.
    func digests(inManifest relative: String) throws -> Set<String> {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var result = Set<String>()
        if let config = object["config"] as? [String: Any], let digest = config["digest"] as? String {
            result.insert(digest)
        }
        for layer in object["layers"] as? [[String: Any]] ?? [] {
            if let digest = layer["digest"] as? String { result.insert(digest) }
        }
        return result
    }

    /// Every manifest file under `manifests/`, relative to the root.
    func manifestFiles() throws -> [String] {
        let top = root + "/manifests"
        return (fileManager.subpaths(atPath: top) ?? []).filter { subpath in
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: top + "/" + subpath, isDirectory: &isDirectory)
                && !isDirectory.boolValue
                && subpath.split(separator: "/").count == 4
        }.map { "manifests/" + $0 }
    }

    /// What `ollama rm` does to a legacy-layout model: remove the manifest, then every blob it listed that no remaining
    /// manifest lists. Returns the bytes that disappeared from `blobs/`.
    @discardableResult
    func simulateOllamaDelete(_ relative: String) throws -> Int64 {
        let before = try blobsDirectoryBytes()
        let listed = try digests(inManifest: relative)
        try fileManager.removeItem(atPath: root + "/" + relative)
        var remaining = Set<String>()
        for other in try manifestFiles() { remaining.formUnion(try digests(inManifest: other)) }
        for digest in listed.subtracting(remaining) {
            let path = root + "/blobs/sha256-" + digest.dropFirst(7)
            if fileManager.fileExists(atPath: path) { try fileManager.removeItem(atPath: path) }
        }
        return before - (try blobsDirectoryBytes())
    }
}
