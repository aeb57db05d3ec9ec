import Foundation
import Testing

@testable import Lifecycle

/// A real Ollama models directory in a temporary directory, written the way `ollama pull` writes one: manifests under
/// `manifests/<host>/<namespace>/<model>/<tag>` (the registry's compact JSON), blobs named after the SHA-256 of their
/// bytes under `blobs/sha256-<hex>`, config blobs holding Ollama's config JSON and weights that begin with a real GGUF
/// header, so a fake Ollama can answer `/api/tags` and `/api/show` from the files alone.
///
/// ``standard()`` holds the directory the model lifecycle is tested on: `llama3.2:latest` and `jdoe/mario:latest`
/// (created `FROM llama3.2` with a system prompt) share the weights, template and license blobs;
/// `hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M` has blobs of its own; one blob is orphaned; one download was
/// interrupted. Sizes are small and distinct so that every sum identifies its parts.
///
/// The directory is removed when the builder is released.
final class OllamaModelsFixtureBuilder: Sendable {
    /// The temporary directory; the models directory is `root`, inside it.
    let base: String
    /// The models directory (`OLLAMA_MODELS`).
    let root: String

    init() throws {
        base = NSTemporaryDirectory() + "ollama-models-\(UUID().uuidString)"
        root = base + "/models"
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/blobs", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    // MARK: Blobs

    /// A blob's entry in a manifest.
    struct Blob: Sendable, Hashable {
        var mediaType: String
        /// `sha256:<64 hex>`.
        var digest: String
        var size: Int64
        /// The 64 hex digits.
        var hex: String { String(digest.dropFirst(7)) }
        /// The file name in `blobs/`.
        var fileName: String { "sha256-" + hex }
        var json: String { #"{"mediaType":"\#(mediaType)","digest":"\#(digest)","size":\#(size)}"# }
    }

    static let modelMediaType = "application/vnd.ollama.image.model"
    static let templateMediaType = "application/vnd.ollama.image.template"
    static let licenseMediaType = "application/vnd.ollama.image.license"
    static let paramsMediaType = "application/vnd.ollama.image.params"
    static let systemMediaType = "application/vnd.ollama.image.system"
    static let configMediaType = "application/vnd.docker.container.image.v1+json"

    /// The hex SHA-256 of `bytes`.
    static func sha256(_ bytes: some Collection<UInt8>) -> String { ManifestHash.hexDigest(of: bytes) }

    /// Deterministic pseudo-random bytes (incompressible, so sizes on disk are what they seem).
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<max(0, count)).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Writes `bytes` as a blob named after their SHA-256 and returns its manifest entry.
    @discardableResult
    func blob(_ bytes: [UInt8], mediaType: String, modified: Date = .now.addingTimeInterval(-60 * 86_400)) throws
        -> Blob
    {
        let blob = Blob(mediaType: mediaType, digest: "sha256:" + Self.sha256(bytes), size: Int64(bytes.count))
        let path = root + "/blobs/" + blob.fileName
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
        return blob
    }

    /// Weights: a GGUF v3 header with `metadata`, padded with noise to `size` bytes.
    static func ggufWeights(size: Int, seed: UInt64, metadata: [(String, GGUFValue)]) -> [UInt8] {
        let header = GGUFValue.header(metadata)
        return header + noise(size - header.count, seed: seed)
    }

    /// A value of GGUF metadata.
    enum GGUFValue: Sendable {
        case string(String)
        case uint32(UInt32)
        case uint64(UInt64)

        /// `GGUF`, version 3, no tensors, then the key-value pairs (little-endian), as llama.cpp writes them.
        static func header(_ metadata: [(String, GGUFValue)]) -> [UInt8] {
            var bytes = Array("GGUF".utf8)
            func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
            func appendString(_ text: String) {
                append(UInt64(text.utf8.count))
                bytes += Array(text.utf8)
            }
            append(UInt32(3))
            append(UInt64(0))
            append(UInt64(metadata.count))
            for (key, value) in metadata {
                appendString(key)
                switch value {
                case .string(let text):
                    append(UInt32(8))
                    appendString(text)
                case .uint32(let number):
                    append(UInt32(4))
                    append(number)
                case .uint64(let number):
                    append(UInt32(10))
                    append(number)
                }
            }
            return bytes
        }
    }

    /// The config blob Ollama writes (`model.ConfigV2`): format, family, parameter size, quantisation, and the
    /// layers' digests as `rootfs.diff_ids`.
    static func configJSON(
        family: String, families: [String]? = nil, parameterSize: String, quantization: String, layers: [Blob]
    ) -> [UInt8] {
        let familyList = (families ?? [family]).map { "\"\($0)\"" }.joined(separator: ",")
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        return Array(
            (#"{"model_format":"gguf","model_family":"\#(family)","model_families":[\#(familyList)],"#
                + #""model_type":"\#(parameterSize)","file_type":"\#(quantization)","architecture":"amd64","#
                + #""os":"linux","rootfs":{"type":"layers","diff_ids":[\#(diffIDs)]}}"#).utf8)
    }

    /// Text padded with a repeated filler line to `size` bytes (when `size` is larger), e.g. a license.
    static func text(_ text: String, paddedTo size: Int = 0) -> [UInt8] {
        var bytes = Array(text.utf8)
        let filler = Array("\nThis line pads the fixture text to a realistic length.".utf8)
        while bytes.count < size { bytes += filler.prefix(size - bytes.count) }
        return bytes
    }

    // MARK: Manifests

    /// The manifest bytes exactly as `ollama pull` writes them: the registry's compact JSON.
    static func manifestJSON(config: Blob, layers: [Blob]) -> [UInt8] {
        Array(
            (#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":"#
                + config.json + #","layers":["# + layers.map(\.json).joined(separator: ",") + "]}").utf8)
    }

    /// A written manifest.
    struct Manifest: Sendable, Hashable {
        var name: OllamaModelName
        /// Relative to the models directory.
        var path: String
        /// The model's digest: the SHA-256 of the manifest's bytes, as `/api/tags` reports it.
        var digest: String
        var config: Blob
        var layers: [Blob]
        var modified: Date
        /// What `/api/tags` reports as the size: the config and every layer, shared or not.
        var apparentSize: Int64 { config.size + layers.reduce(0) { $0 + $1.size } }
        var blobs: Set<Blob> { Set(layers + [config]) }
    }

    /// Writes the manifest of `name` (`manifests/<host>/<namespace>/<model>/<tag>`) listing `config` and `layers`.
    @discardableResult
    func manifest(_ name: OllamaModelName, config: Blob, layers: [Blob], modified: Date) throws -> Manifest {
        let relative = "manifests/\(name.host)/\(name.namespace)/\(name.model)/\(name.tag)"
        let bytes = Self.manifestJSON(config: config, layers: layers)
        try FileManager.default.createDirectory(
            atPath: root + "/" + (relative as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + relative))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: root + "/" + relative)
        return Manifest(
            name: name, path: relative, digest: Self.sha256(bytes), config: config, layers: layers, modified: modified)
    }

    // MARK: The standard directory

    /// A model a fake Ollama can pull: its config and layers' bytes, as the registry would serve them.
    struct CatalogueModel: Sendable {
        var config: [UInt8]
        var layers: [(mediaType: String, bytes: [UInt8])]
    }

    /// What ``standard()`` wrote, to check figures against.
    struct Standard: Sendable {
        let fixture: OllamaModelsFixtureBuilder
        // Shared by llama3.2:latest and jdoe/mario:latest.
        let weights: Blob, template: Blob, license: Blob
        let llama: Manifest, mario: Manifest, qwen: Manifest
        let orphan: Blob
        /// `blobs/sha256-<hex>-partial` and its progress file `-partial-0`.
        let partialPaths: [String]
        /// Models the registry behind a fake Ollama offers: `all-minilm:latest` (blobs of its own) and `llama3.2:1b`
        /// (its own weights, but the template and license of `llama3.2:latest`, already on disk).
        let catalogue: [String: CatalogueModel]

        var manifests: [Manifest] { [llama, mario, qwen] }
        var sharedBlobs: Set<Blob> { [weights, template, license] }
        /// The blobs only `name`'s manifest lists: what deleting it frees.
        func uniqueBlobs(of manifest: Manifest) -> Set<Blob> {
            manifests.filter { $0 != manifest }.reduce(manifest.blobs) { $0.subtracting($1.blobs) }
        }
    }

    /// Pulled 40 (llama3.2), 20 (mario) and 5 (qwen) days ago; the orphan is 3 days old, the interrupted download 2.
    static func standard(now: Date = .now) throws -> Standard {
        let fixture = try OllamaModelsFixtureBuilder()
        func daysAgo(_ days: Double) -> Date { now.addingTimeInterval(-days * 86_400) }

        let weights = try fixture.blob(
            ggufWeights(
                size: 50_000, seed: 1,
                metadata: [
                    ("general.architecture", .string("llama")), ("general.name", .string("Llama 3.2 3B Instruct")),
                    ("general.parameter_count", .uint64(3_212_749_888)), ("llama.context_length", .uint32(131_072)),
                    ("llama.embedding_length", .uint32(3072)), ("llama.block_count", .uint32(28)),
                ]), mediaType: modelMediaType)
        let template = try fixture.blob(
            text(
                "<|start_header_id|>system<|end_header_id|>\n\n{{ if .System }}{{ .System }}{{ end }}"
                    + "{{ if .Tools }}You have tools.{{ end }}<|eot_id|>", paddedTo: 1_200),
            mediaType: templateMediaType)
        let license = try fixture.blob(
            text("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT", paddedTo: 7_000), mediaType: licenseMediaType)
        let llamaParams = try fixture.blob(
            text(#"{"stop":["<|start_header_id|>","<|end_header_id|>","<|eot_id|>"]}"#), mediaType: paramsMediaType)
        let llamaConfig = try fixture.blob(
            configJSON(
                family: "llama", parameterSize: "3.2B", quantization: "Q4_K_M",
                layers: [weights, template, license, llamaParams]), mediaType: configMediaType)
        let marioSystem = try fixture.blob(
            text("You are Mario from Super Mario Bros. Answer as Mario, the assistant, only."),
            mediaType: systemMediaType)
        let marioParams = try fixture.blob(text(#"{"temperature":1,"num_ctx":4096}"#), mediaType: paramsMediaType)
        let marioConfig = try fixture.blob(
            configJSON(
                family: "llama", parameterSize: "3.2B", quantization: "Q4_K_M",
                layers: [weights, template, marioSystem, license, marioParams]), mediaType: configMediaType)
        let qwenWeights = try fixture.blob(
            ggufWeights(
                size: 30_000, seed: 9,
                metadata: [
                    ("general.architecture", .string("qwen2")), ("general.parameter_count", .uint64(494_032_768)),
                    ("qwen2.context_length", .uint32(32_768)), ("qwen2.embedding_length", .uint32(896)),
                ]), mediaType: modelMediaType)
        let qwenTemplate = try fixture.blob(
            text("{{- if .Messages }}<|im_start|>{{ .Prompt }}<|im_end|>{{ end }}", paddedTo: 900),
            mediaType: templateMediaType)
        let qwenConfig = try fixture.blob(
            configJSON(
                family: "qwen2", parameterSize: "494.03M", quantization: "Q4_K_M", layers: [qwenWeights, qwenTemplate]),
            mediaType: configMediaType)
        let orphan = try fixture.blob(
            noise(12_000, seed: 12), mediaType: modelMediaType, modified: daysAgo(3))

        func name(_ text: String) throws -> OllamaModelName { try #require(OllamaModelName(parsing: text)) }
        let llama = try fixture.manifest(
            name("llama3.2:latest"), config: llamaConfig, layers: [weights, template, license, llamaParams],
            modified: daysAgo(40))
        let mario = try fixture.manifest(
            name("jdoe/mario:latest"), config: marioConfig,
            layers: [weights, template, marioSystem, license, marioParams], modified: daysAgo(20))
        let qwen = try fixture.manifest(
            name("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"), config: qwenConfig,
            layers: [qwenWeights, qwenTemplate], modified: daysAgo(5))

        // An interrupted pull: the preallocated data file and the progress of its one part.
        let partialHex = sha256(noise(100, seed: 13))
        let partialPaths = ["blobs/sha256-\(partialHex)-partial", "blobs/sha256-\(partialHex)-partial-0"]
        try Data(noise(8_192, seed: 14)).write(to: URL(fileURLWithPath: fixture.root + "/" + partialPaths[0]))
        try Data((#"{"N":0,"Offset":0,"Size":24576,"Completed":8192}"# + "\n").utf8)
            .write(to: URL(fileURLWithPath: fixture.root + "/" + partialPaths[1]))
        for path in partialPaths {
            try FileManager.default.setAttributes(
                [.modificationDate: daysAgo(2)], ofItemAtPath: fixture.root + "/" + path)
        }

        let miniWeights = ggufWeights(
            size: 20_000, seed: 21,
            metadata: [
                ("general.architecture", .string("bert")), ("general.parameter_count", .uint64(22_565_376)),
                ("bert.context_length", .uint32(512)), ("bert.embedding_length", .uint32(384)),
                ("bert.pooling_type", .uint32(1)),
            ])
        let miniLicense = text("Apache License 2.0", paddedTo: 3_000)
        let miniParams = text(#"{"num_ctx":256}"#)
        func configFor(_ layers: [(String, [UInt8])], family: String, size: String, quantization: String) -> [UInt8] {
            configJSON(
                family: family, parameterSize: size, quantization: quantization,
                layers: layers.map { Blob(mediaType: $0.0, digest: "sha256:" + sha256($0.1), size: Int64($0.1.count)) })
        }
        let miniLayers = [
            (modelMediaType, miniWeights), (licenseMediaType, miniLicense), (paramsMediaType, miniParams),
        ]
        let smallWeights = ggufWeights(
            size: 15_000, seed: 31,
            metadata: [
                ("general.architecture", .string("llama")), ("general.parameter_count", .uint64(1_235_814_432)),
                ("llama.context_length", .uint32(131_072)), ("llama.embedding_length", .uint32(2048)),
            ])
        let templateBytes = try fixture.read(template)
        let licenseBytes = try fixture.read(license)
        let smallLayers = [
            (modelMediaType, smallWeights), (templateMediaType, templateBytes), (licenseMediaType, licenseBytes),
            (paramsMediaType, text(#"{"stop":["<|eot_id|>"]}"#)),
        ]
        let catalogue: [String: CatalogueModel] = [
            "all-minilm:latest": CatalogueModel(
                config: configFor(miniLayers, family: "bert", size: "23M", quantization: "F16"),
                layers: miniLayers.map { (mediaType: $0.0, bytes: $0.1) }),
            "llama3.2:1b": CatalogueModel(
                config: configFor(smallLayers, family: "llama", size: "1.2B", quantization: "Q8_0"),
                layers: smallLayers.map { (mediaType: $0.0, bytes: $0.1) }),
        ]

        return Standard(
            fixture: fixture, weights: weights, template: template, license: license, llama: llama, mario: mario,
            qwen: qwen, orphan: orphan, partialPaths: partialPaths, catalogue: catalogue)
    }

    // MARK: Measuring, independently of the code under test

    /// The bytes of a blob on disk.
    func read(_ blob: Blob) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: root + "/blobs/" + blob.fileName)))
    }

    /// The names of the entries of `blobs/`.
    func blobFileNames() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: root + "/blobs"))
    }

    /// The sum of the sizes of the regular files directly in `blobs/`, measured with `FileManager`.
    func blobsDirectoryBytes() throws -> Int64 {
        try FileManager.default.contentsOfDirectory(atPath: root + "/blobs").reduce(Int64(0)) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/blobs/" + name)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { return total }
            return total + ((attributes[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    /// Every manifest file under `manifests/`, relative to the root.
    func manifestFiles() -> Set<String> {
        let top = root + "/manifests"
        return Set(
            (FileManager.default.subpaths(atPath: top) ?? []).filter { subpath in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: top + "/" + subpath, isDirectory: &isDirectory)
                    && !isDirectory.boolValue && subpath.split(separator: "/").count == 4
            }.map { "manifests/" + $0 })
    }

    /// Whether `relative` (e.g. a manifest's directory) exists.
    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/" + relative)
    }
}
