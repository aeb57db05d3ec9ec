import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

@testable import Lifecycle

/// A fake Ollama on 127.0.0.1, port 0, that manages a real models directory the way Ollama does, so model lifecycle
/// code can be tested against files it can measure.
///
/// - `GET /api/tags` is computed from the manifests: the name as Ollama shows it, the digest (SHA-256 of the
///   manifest's bytes), the size (config plus every layer, shared blobs counted in each model) and the details from
///   the config blob's JSON; newest first. A model whose config blob is missing is left out, as Ollama does.
/// - `GET /api/ps` lists the models set with ``setLoaded(_:)``.
/// - `POST /api/show` answers from the manifest, the config blob, the template, license, system and params blobs,
///   and the GGUF metadata at the start of the weights (`model_info`: architecture, context length, …).
/// - `DELETE /api/delete` does what Ollama's `DeleteHandler` does: it removes the manifest (and the directories left
///   empty), then the blobs **that manifest** listed which no remaining manifest lists (`Manifest.RemoveLayers` /
///   `manifest.RemoveNamed` → `RemoveUnreferencedBlobs(candidates…)`). Blobs that were orphaned before, and partial
///   downloads, are left alone: Ollama removes those only at start-up (`PruneLayers`, unless `OLLAMA_NOPRUNE`).
/// - `POST /api/pull` streams Ollama's progress (`pulling manifest`, `pulling <12 hex>` per blob with digest, total and
///   completed, `verifying sha256 digest`, `writing manifest`, `success`) while it writes the blobs (through a
///   `-partial` file) and the manifest of a model from the catalogue given at init; a blob already on disk reports
///   `completed == total` at once. An unknown model fails as Ollama does, with an `{"error"}` line after
///   `pulling manifest`; ``failNextPull(afterBlobs:message:)`` injects an error line mid-pull.
/// - `HEAD /api/blobs/sha256:<hex>` answers 200 when the blob is in `blobs/`, 404 otherwise; `POST` streams the body
///   into `blobs/` (through a temporary file, as `NewLayer` does), answering 201, 200 when the blob was there already
///   (without reading the body), 400 `digest mismatch` when the bytes do not hash to the digest and 400 `invalid
///   digest format` for a digest `GetBlobsPath` refuses (`CreateBlobHandler`).
/// - `POST /api/create` with `files` (file name → digest of GGUF weights), `adapters`, `template`, `system`,
///   `license` (a string or a list), `parameters` and `messages` does what Ollama's `CreateHandler` does: 400 without
///   `files` (`neither 'from' or 'files' was specified`) or for a path that is not relative; the GGUF blobs become
///   model layers (an error when a blob is missing or not GGUF), the texts and JSON become layers of their own
///   (`NewLayer`), the config (`model.ConfigV2`: format, family from the weights' `general.architecture`, the layers as
///   `rootfs.diff_ids`) and the manifest are written; progress streams as NDJSON unless `"stream": false`.
/// - `GET /api/version` and `GET /` answer as Ollama does.
///
/// Every request is counted by path (``requestCount(_:)``) and recorded (``requests``).
final class FakeOllama: Sendable {
    /// A model in memory, for `/api/ps`.
    struct LoadedModel: Sendable {
        var name: String
        /// Memory in bytes (weights, context, buffers).
        var size: Int64
        var sizeVRAM: Int64
        var expiresAt: Date
        var contextLength: Int
    }

    /// A request as the fake received it.
    struct RecordedRequest: Sendable {
        var method: String
        var path: String
        var body: Data
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    private struct State: Sendable {
        var loaded: [LoadedModel] = []
        var pullFailure: (afterBlobs: Int, message: String)?
        var counts: [String: Int] = [:]
        var requests: [RecordedRequest] = []
    }

    /// The models directory (`OLLAMA_MODELS`).
    let root: String
    let version: String
    private let catalogue: [OllamaModelName: OllamaModelsFixtureBuilder.CatalogueModel]
    private let state = Mutex(State())
    /// Held while the directory changes (a delete, the end of a pull), as Ollama's handlers do not interleave here.
    private let directory = Mutex(())

    /// A fake over the models directory at `root`, able to pull the models of `catalogue` (by name, e.g.
    /// `all-minilm:latest`).
    init(
        modelsDirectory root: String, catalogue: [String: OllamaModelsFixtureBuilder.CatalogueModel] = [:],
        version: String = "0.12.6"
    ) {
        self.root = root
        self.version = version
        var models: [OllamaModelName: OllamaModelsFixtureBuilder.CatalogueModel] = [:]
        for (text, model) in catalogue {
            if let name = OllamaModelName(parsing: text) { models[name] = model }
        }
        self.catalogue = models
    }

    /// Sets the models `/api/ps` lists.
    func setLoaded(_ models: [LoadedModel]) { state.withLock { $0.loaded = models } }

    /// Makes the next pull fail after `afterBlobs` blobs with the line `{"error": message}` (leaving a partial download
    /// of the next blob, as an interrupted Ollama does).
    func failNextPull(afterBlobs: Int, message: String) {
        state.withLock { $0.pullFailure = (afterBlobs, message) }
    }

    /// How many requests reached `path` (e.g. `/api/delete`).
    func requestCount(_ path: String) -> Int { state.withLock { $0.counts[path, default: 0] } }

    /// Every request received, in order.
    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// Runs the fake on a free port for the duration of `body`, which gets its base URL (`http://127.0.0.1:PORT`).
    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/__fake/ready") { _, _ in "ready" }
        router.get("/") { request, _ in
            try await self.record(request)
            return Self.text("Ollama is running")
        }
        router.get("/api/version") { request, _ in
            try await self.record(request)
            return Self.json(["version": self.version])
        }
        router.get("/api/tags") { request, _ in
            try await self.record(request)
            return Self.json(["models": self.tags()])
        }
        router.get("/api/ps") { request, _ in
            try await self.record(request)
            return Self.json(["models": self.running()])
        }
        router.post("/api/show") { request, _ in try await self.show(self.record(request)) }
        router.delete("/api/delete") { request, _ in try await self.delete(self.record(request)) }
        router.post("/api/pull") { request, _ in try await self.pull(self.record(request)) }
        router.head("/api/blobs/{digest}") { request, context in
            try await self.hasBlob(self.record(request), digest: context.parameters.get("digest") ?? "")
        }
        router.post("/api/blobs/{digest}") { request, context in
            try await self.createBlob(request, digest: context.parameters.get("digest") ?? "")
        }
        router.post("/api/create") { request, _ in try await self.create(self.record(request)) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        // As in FakeUpstream: errors are carried out of the live test rather than thrown through it, and the test
        // client's connection is used before the body runs (apple/swift-nio#3481).
        let result: Result<T, any Error> = try await app.test(.live) { client in
            try await client.execute(uri: "/__fake/ready", method: .get) { _ in }
            do {
                return .success(try await body("http://127.0.0.1:\(client.port ?? 0)"))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    @discardableResult
    private func record(_ request: Request) async throws -> RecordedRequest {
        let body = try await request.body.collect(upTo: 1 << 20)
        let recorded = RecordedRequest(
            method: request.method.rawValue, path: request.uri.path, body: Data(body.readableBytesView))
        state.withLock {
            $0.counts[recorded.path, default: 0] += 1
            $0.requests.append(recorded)
        }
        return recorded
    }

    // MARK: The models directory, read as Ollama reads it

    /// A blob a manifest lists.
    struct Reference: Sendable, Hashable {
        var mediaType: String
        var digest: String
        var size: Int64
    }

    /// A manifest on disk.
    struct StoredManifest: Sendable {
        var name: OllamaModelName
        var path: String
        var digest: String
        var modified: Date
        var config: Reference?
        var layers: [Reference]

        var references: [Reference] { layers + (config.map { [$0] } ?? []) }
        var size: Int64 { references.reduce(0) { $0 + $1.size } }
    }

    /// `blobs/sha256-<hex>` for a digest Ollama accepts (`sha256:` or `sha256-` and 64 hex digits); `nil` for any
    /// other, so no manifest can name a path outside `blobs/`.
    func blobPath(_ digest: String) -> String? {
        guard let parsed = OllamaDigest(digest) else { return nil }
        return root + "/blobs/" + parsed.blobFileName
    }

    /// Every valid manifest (`manifests/*/*/*/*`); unreadable ones are skipped, as Ollama's `Manifests(true)` does.
    func manifests() -> [StoredManifest] {
        let fileManager = FileManager.default
        func directories(_ path: String) -> [String] {
            ((try? fileManager.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        var result: [StoredManifest] = []
        let top = root + "/manifests"
        for host in directories(top) {
            for namespace in directories(top + "/" + host) {
                for model in directories(top + "/" + host + "/" + namespace) {
                    for tag in directories(top + "/" + host + "/" + namespace + "/" + model) {
                        let path = [top, host, namespace, model, tag].joined(separator: "/")
                        if let manifest = readManifest(path, parts: [host, namespace, model, tag]) {
                            result.append(manifest)
                        }
                    }
                }
            }
        }
        return result
    }

    private func readManifest(_ path: String, parts: [String]) -> StoredManifest? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let name = OllamaModelName(host: parts[0], namespace: parts[1], model: parts[2], tag: parts[3]),
            let data = FileManager.default.contents(atPath: path),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        func reference(_ value: Any?) -> Reference? {
            guard let entry = value as? [String: Any], let digest = entry["digest"] as? String, !digest.isEmpty
            else { return nil }
            return Reference(
                mediaType: entry["mediaType"] as? String ?? "", digest: digest,
                size: (entry["size"] as? NSNumber)?.int64Value ?? 0)
        }
        let modified =
            (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date ?? .distantPast
        return StoredManifest(
            name: name, path: path, digest: OllamaModelsFixtureBuilder.sha256(Array(data)), modified: modified,
            config: reference(object["config"]),
            layers: (object["layers"] as? [Any] ?? []).compactMap(reference))
    }

    /// The manifest of the model `text` names (compared as Ollama compares names, ignoring case).
    func manifest(named text: String) -> StoredManifest? {
        guard let name = OllamaModelName(parsing: text) else { return nil }
        return manifests().first { $0.name == name }
    }

    private func contents(_ reference: Reference, limit: Int = 1 << 20) -> Data? {
        guard let path = blobPath(reference.digest), let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.read(upToCount: limit)
    }

    /// The config blob's JSON (`model.ConfigV2`); `nil` when the blob is missing or not JSON.
    private func config(_ manifest: StoredManifest) -> [String: Any]? {
        guard let reference = manifest.config, let data = contents(reference) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `details` as Ollama builds it from the config: `api.ModelDetails`.
    private func details(_ config: [String: Any]) -> [String: Any] {
        [
            "parent_model": "", "format": config["model_format"] as? String ?? "",
            "family": config["model_family"] as? String ?? "",
            "families": config["model_families"] as? [String] ?? NSNull(),
            "parameter_size": config["model_type"] as? String ?? "",
            "quantization_level": config["file_type"] as? String ?? "",
        ]
    }

    // MARK: Handlers

    private func tags() -> [[String: Any]] {
        manifests().sorted { $0.modified > $1.modified }.compactMap { manifest in
            // Ollama skips a model whose config blob cannot be read ("bad manifest filepath").
            guard let config = config(manifest) else { return nil }
            return [
                "name": manifest.name.displayName, "model": manifest.name.displayName,
                "modified_at": Self.rfc3339(manifest.modified), "size": manifest.size, "digest": manifest.digest,
                "details": details(config),
            ]
        }
    }

    private func running() -> [[String: Any]] {
        let loaded = state.withLock { $0.loaded }
        let manifests = manifests()
        return loaded.map { model in
            let manifest = OllamaModelName(parsing: model.name).flatMap { name in manifests.first { $0.name == name } }
            return [
                "name": model.name, "model": model.name, "size": model.size, "digest": manifest?.digest ?? "",
                "details": details(manifest.flatMap { config($0) } ?? [:]),
                "expires_at": Self.rfc3339(model.expiresAt), "size_vram": model.sizeVRAM,
                "context_length": model.contextLength,
            ]
        }
    }

    private func show(_ request: RecordedRequest) -> Response {
        guard let json = request.json else { return Self.error(400, "missing request body") }
        guard let text = (json["model"] as? String).flatMap({ $0.isEmpty ? nil : $0 }) ?? json["name"] as? String
        else { return Self.error(400, "model is required") }
        guard OllamaModelName(parsing: text) != nil else { return Self.error(400, "invalid model name") }
        guard let manifest = manifest(named: text), let config = config(manifest) else {
            return Self.error(404, "model '\(text)' not found")
        }
        func texts(_ mediaType: String) -> [String] {
            manifest.layers.filter { $0.mediaType == mediaType }.compactMap { contents($0) }.map {
                String(decoding: $0, as: UTF8.self)
            }
        }
        let weights = manifest.layers.first { $0.mediaType == OllamaModelsFixtureBuilder.modelMediaType }
        var info = weights.flatMap { contents($0, limit: 64 << 10) }.map { Self.ggufMetadata(Array($0)) } ?? [:]
        info["general.name"] = nil
        info["tokenizer.chat_template"] = nil
        let architecture = info["general.architecture"] as? String ?? ""
        let template = texts(OllamaModelsFixtureBuilder.templateMediaType).first ?? ""
        var capabilities: [String]
        if info["\(architecture).pooling_type"] != nil {
            capabilities = ["embedding"]
        } else {
            capabilities = ["completion"]
            if template.contains(".Tools") { capabilities.append("tools") }
            if template.contains(".Suffix") { capabilities.append("insert") }
        }
        let parameters = texts(OllamaModelsFixtureBuilder.paramsMediaType).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.flatMap { $0.sorted { $0.key < $1.key } }.map {
            $0.key.padding(toLength: 30, withPad: " ", startingAt: 0) + " \($0.value)"
        }
        return Self.json([
            "license": texts(OllamaModelsFixtureBuilder.licenseMediaType).joined(separator: "\n"),
            "modelfile": "# Modelfile generated by \"ollama show\"\nFROM \(manifest.name.displayName)\n",
            "parameters": parameters.joined(separator: "\n"), "template": template,
            "system": texts(OllamaModelsFixtureBuilder.systemMediaType).first ?? "",
            "details": details(config), "model_info": info, "capabilities": capabilities,
            "modified_at": Self.rfc3339(manifest.modified),
        ])
    }

    private func delete(_ request: RecordedRequest) -> Response {
        guard let json = request.json else { return Self.error(400, "missing request body") }
        let text = (json["model"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? json["name"] as? String ?? ""
        guard OllamaModelName(parsing: text) != nil else { return Self.error(400, "name \"\(text)\" is invalid") }
        return directory.withLock { _ in
            guard let manifest = manifest(named: text) else { return Self.error(404, "model '\(text)' not found") }
            do {
                try removeManifest(manifest)
            } catch {
                return Self.error(500, "\(error)")
            }
            return Response(status: .ok)
        }
    }

    /// `m.Remove()` then `m.RemoveLayers()`: the manifest file and the directories it leaves empty, then each blob it
    /// listed that no remaining manifest lists.
    private func removeManifest(_ manifest: StoredManifest) throws {
        try FileManager.default.removeItem(atPath: manifest.path)
        var directory = (manifest.path as NSString).deletingLastPathComponent
        while directory.hasPrefix(root + "/manifests/"),
            (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true
        {
            try FileManager.default.removeItem(atPath: directory)
            directory = (directory as NSString).deletingLastPathComponent
        }
        removeUnreferenced(manifest.references.map(\.digest))
    }

    /// Removes the blobs among `candidates` that no manifest lists (`RemoveUnreferencedBlobs`); others stay.
    private func removeUnreferenced(_ candidates: [String]) {
        let inUse = Set(manifests().flatMap(\.references).compactMap { OllamaDigest($0.digest) })
        let removable = Set(candidates.compactMap { OllamaDigest($0) }).subtracting(inUse)
        for digest in removable {
            if let path = blobPath(digest.description) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    private func pull(_ request: RecordedRequest) -> Response {
        guard let json = request.json else { return Self.error(400, "missing request body") }
        let text = (json["model"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? json["name"] as? String ?? ""
        guard let name = OllamaModelName(parsing: text) else { return Self.error(400, "invalid model name") }
        let stream = json["stream"] as? Bool ?? true
        let failure: (afterBlobs: Int, message: String)? = state.withLock { state in
            let failure = state.pullFailure
            state.pullFailure = nil
            return failure
        }
        let model = catalogue[name]
        guard stream else {
            guard let model else { return Self.error(500, "pull model manifest: file does not exist") }
            if let failure { return Self.error(500, failure.message) }
            do {
                for bytes in model.layers.map(\.bytes) + [model.config] {
                    try writeBlob(bytes, parts: 1) { _ in }
                }
                try writeManifest(name, model)
            } catch {
                return Self.error(500, "\(error)")
            }
            return Self.json(["status": "success"])
        }
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                func send(_ object: [String: Any]) async throws {
                    var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    data.append(0x0A)
                    try await writer.write(ByteBuffer(bytes: data))
                    await Task.yield()
                }
                try await send(["status": "pulling manifest"])
                guard let model else {
                    try await send(["error": "pull model manifest: file does not exist"])
                    try await writer.finish(nil)
                    return
                }
                // Ollama downloads the layers, then the config.
                let blobs = model.layers.map(\.bytes) + [model.config]
                for (index, bytes) in blobs.enumerated() {
                    let digest = "sha256:" + OllamaModelsFixtureBuilder.sha256(bytes)
                    let status = "pulling " + String(digest.dropFirst(7).prefix(12))
                    let total = Int64(bytes.count)
                    if let failure, index == failure.afterBlobs {
                        try self.writePartial(bytes)
                        try await send(["error": failure.message])
                        try await writer.finish(nil)
                        return
                    }
                    var lines: [[String: Any]] = []
                    try self.writeBlob(bytes, parts: 4) { completed in
                        var line: [String: Any] = ["status": status, "digest": digest, "total": total]
                        if completed > 0 { line["completed"] = completed }
                        lines.append(line)
                    }
                    for line in lines { try await send(line) }
                }
                try await send(["status": "verifying sha256 digest"])
                try await send(["status": "writing manifest"])
                let pruned = try self.writeManifest(name, model)
                if pruned { try await send(["status": "removing unused layers"]) }
                try await send(["status": "success"])
                try await writer.finish(nil)
            })
    }

    private static let configMediaType = OllamaModelsFixtureBuilder.configMediaType

    /// Writes a blob as Ollama's downloader does: into `sha256-<hex>-partial`, then renamed. A blob already on disk is
    /// reported complete at once. `progress` gets the bytes done after each part (0 first, for the total alone).
    private func writeBlob(_ bytes: [UInt8], parts: Int, progress: (Int64) -> Void) throws {
        let hex = OllamaModelsFixtureBuilder.sha256(bytes)
        let path = root + "/blobs/sha256-" + hex
        if FileManager.default.fileExists(atPath: path) {
            progress(Int64(bytes.count))
            return
        }
        let partial = path + "-partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil) else {
            throw CocoaError(.fileWriteUnknown)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        progress(0)
        let step = max(1, (bytes.count + parts - 1) / max(1, parts))
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + step, bytes.count)
            try handle.write(contentsOf: bytes[offset..<end])
            offset = end
            progress(Int64(offset))
        }
        try handle.close()
        try FileManager.default.moveItem(atPath: partial, toPath: path)
    }

    /// Half of a blob in `sha256-<hex>-partial`: what an interrupted download leaves.
    private func writePartial(_ bytes: [UInt8]) throws {
        let path = root + "/blobs/sha256-" + OllamaModelsFixtureBuilder.sha256(bytes) + "-partial"
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: path))
    }

    /// Writes the manifest of `name`; when it replaces an older one, removes that one's blobs no manifest lists any
    /// more (Ollama's pull does, unless `OLLAMA_NOPRUNE`). Returns whether it pruned.
    @discardableResult
    private func writeManifest(_ name: OllamaModelName, _ model: OllamaModelsFixtureBuilder.CatalogueModel) throws
        -> Bool
    {
        func blob(_ mediaType: String, _ bytes: [UInt8]) -> OllamaModelsFixtureBuilder.Blob {
            .init(
                mediaType: mediaType, digest: "sha256:" + OllamaModelsFixtureBuilder.sha256(bytes),
                size: Int64(bytes.count))
        }
        let bytes = OllamaModelsFixtureBuilder.manifestJSON(
            config: blob(Self.configMediaType, model.config), layers: model.layers.map { blob($0.mediaType, $0.bytes) })
        return try directory.withLock { _ in
            let old = manifests().first { $0.name == name }
            let path = root + "/manifests/\(name.host)/\(name.namespace)/\(name.model)/\(name.tag)"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let old else { return false }
            removeUnreferenced(old.references.map(\.digest))
            return true
        }
    }

    // MARK: Blobs and create

    private func hasBlob(_ request: RecordedRequest, digest: String) -> Response {
        guard let path = blobPath(digest) else { return Self.error(400, "invalid digest format") }
        return Response(status: FileManager.default.fileExists(atPath: path) ? .ok : .notFound)
    }

    /// `CreateBlobHandler`: an existing blob answers 200 at once; otherwise the body is hashed as it is written.
    private func createBlob(_ request: Request, digest: String) async throws -> Response {
        state.withLock {
            $0.counts["/api/blobs", default: 0] += 1
            $0.requests.append(RecordedRequest(method: request.method.rawValue, path: request.uri.path, body: Data()))
        }
        guard let path = blobPath(digest), let parsed = OllamaDigest(digest) else {
            return Self.error(400, "invalid digest format")
        }
        if FileManager.default.fileExists(atPath: path) { return Response(status: .ok) }
        let temporary = root + "/blobs/sha256-upload-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else { return Self.error(500, "cannot write") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        var hasher = SHA256()
        do {
            for try await chunk in request.body {
                hasher.update(data: chunk.readableBytesView)
                try handle.write(contentsOf: Data(chunk.readableBytesView))
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        let received = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard received == parsed.hex.lowercased() else {
            try? FileManager.default.removeItem(atPath: temporary)
            return Self.error(400, "digest mismatch, expected \"\(digest)\", got \"sha256:\(received)\"")
        }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        return Response(status: .created)
    }

    /// `CreateHandler` with `files`: see the type's documentation.
    private func create(_ request: RecordedRequest) -> Response {
        guard let json = request.json else { return Self.error(400, "missing request body") }
        let text = (json["model"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? json["name"] as? String ?? ""
        guard let name = OllamaModelName(parsing: text) else { return Self.error(400, "invalid model name") }
        let stream = json["stream"] as? Bool ?? true
        guard let files = json["files"] as? [String: String], !files.isEmpty else {
            return Self.error(400, "neither 'from' or 'files' was specified")
        }
        let adapters = json["adapters"] as? [String: String] ?? [:]
        for file in Array(files.keys) + Array(adapters.keys)
        where file.hasPrefix("/") || file.split(separator: "/").contains("..") || file.isEmpty {
            return Self.error(400, "file path must be relative")
        }
        var layers: [OllamaModelsFixtureBuilder.Blob] = []
        var progress: [[String: Any]] = [["status": "parsing GGUF"]]
        var architecture = ""
        do {
            for (digest, mediaType) in files.sorted(by: { $0.key < $1.key }).map({ ($0.value, OllamaModelsFixtureBuilder.modelMediaType) })
                + adapters.sorted(by: { $0.key < $1.key }).map({ ($0.value, "application/vnd.ollama.image.adapter") })
            {
                guard let path = blobPath(digest), let data = FileManager.default.contents(atPath: path) else {
                    return Self.error(500, "open \(digest): no such file or directory")
                }
                guard data.starts(with: Array("GGUF".utf8)) else { return Self.error(500, "invalid file magic") }
                if architecture.isEmpty {
                    architecture = Self.ggufMetadata(Array(data.prefix(64 << 10)))["general.architecture"] as? String ?? ""
                }
                layers.append(.init(mediaType: mediaType, digest: digest, size: Int64(data.count)))
                progress.append(["status": "using existing layer \(digest)"])
            }
            func textLayer(_ text: String, _ mediaType: String) throws {
                let blob = try storeBlob(Array(text.utf8), mediaType: mediaType)
                layers.append(blob)
                progress.append(["status": "creating new layer \(blob.digest)"])
            }
            if let template = json["template"] as? String { try textLayer(template, OllamaModelsFixtureBuilder.templateMediaType) }
            if let system = json["system"] as? String { try textLayer(system, OllamaModelsFixtureBuilder.systemMediaType) }
            let licenses = (json["license"] as? [String]) ?? (json["license"] as? String).map { [$0] } ?? []
            for license in licenses { try textLayer(license, OllamaModelsFixtureBuilder.licenseMediaType) }
            if let messages = json["messages"] as? [Any] {
                let data = try JSONSerialization.data(withJSONObject: messages, options: [.sortedKeys])
                try textLayer(String(decoding: data, as: UTF8.self), "application/vnd.ollama.image.messages")
            }
            if let parameters = json["parameters"] as? [String: Any], !parameters.isEmpty {
                // json.NewEncoder(...).Encode: sorted keys, a newline at the end.
                let data = try JSONSerialization.data(withJSONObject: parameters, options: [.sortedKeys])
                try textLayer(String(decoding: data, as: UTF8.self) + "\n", OllamaModelsFixtureBuilder.paramsMediaType)
            }
            let config = try storeBlob(
                OllamaModelsFixtureBuilder.configJSON(family: architecture, parameterSize: "", quantization: "", layers: layers),
                mediaType: Self.configMediaType)
            progress.append(["status": "writing manifest"])
            let bytes = OllamaModelsFixtureBuilder.manifestJSON(config: config, layers: layers)
            try directory.withLock { _ in
                let path = root + "/manifests/\(name.host)/\(name.namespace)/\(name.model)/\(name.tag)"
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }
        } catch {
            return Self.error(500, "\(error)")
        }
        progress.append(["status": "success"])
        guard stream else { return Self.json(["status": "success"]) }
        let lines = progress.compactMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: .init(byteBuffer: ByteBuffer(bytes: lines.flatMap { Array($0) + [0x0A] })))
    }

    /// `NewLayer`: the bytes stored under their digest (once).
    private func storeBlob(_ bytes: [UInt8], mediaType: String) throws -> OllamaModelsFixtureBuilder.Blob {
        let hex = OllamaModelsFixtureBuilder.sha256(bytes)
        let path = root + "/blobs/sha256-" + hex
        if !FileManager.default.fileExists(atPath: path) { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
        return .init(mediaType: mediaType, digest: "sha256:" + hex, size: Int64(bytes.count))
    }

    // MARK: Wire helpers

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Ollama's error body: `{"error": "…"}` with the status.
    static func error(_ status: Int, _ message: String) -> Response {
        json(["error": message], status: HTTPResponse.Status(code: status))
    }

    /// RFC 3339 in UTC with nanoseconds and trailing zeros trimmed, as Go's `time.Time` marshals.
    static func rfc3339(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let whole = formatter.string(from: Date(timeIntervalSince1970: seconds))
        let nanoseconds = Int(((date.timeIntervalSince1970 - seconds) * 1e9).rounded())
        guard nanoseconds > 0, nanoseconds < 1_000_000_000 else { return whole }
        var fraction = String(nanoseconds)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return String(whole.dropLast()) + "." + fraction + "Z"
    }

    /// The metadata of a GGUF header (strings and numbers; it stops at the first array), as `model_info` holds it.
    static func ggufMetadata(_ bytes: [UInt8]) -> [String: Any] {
        var offset = 0
        func read<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard offset + size <= bytes.count else { return nil }
            var value: UInt64 = 0
            for index in 0..<size { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
            offset += size
            return T(truncatingIfNeeded: value)
        }
        func readString() -> String? {
            guard let length = read(UInt64.self), length <= 1 << 16, offset + Int(length) <= bytes.count else {
                return nil
            }
            defer { offset += Int(length) }
            return String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
        }
        guard bytes.starts(with: Array("GGUF".utf8)) else { return [:] }
        offset = 4
        guard read(UInt32.self) != nil, read(UInt64.self) != nil, let count = read(UInt64.self) else { return [:] }
        var metadata: [String: Any] = [:]
        for _ in 0..<min(count, 1024) {
            guard let key = readString(), let type = read(UInt32.self) else { break }
            let value: Any?
            switch type {
            case 0: value = read(UInt8.self).map { Int($0) }
            case 1: value = read(Int8.self).map { Int($0) }
            case 2: value = read(UInt16.self).map { Int($0) }
            case 3: value = read(Int16.self).map { Int($0) }
            case 4: value = read(UInt32.self).map { Int($0) }
            case 5: value = read(Int32.self).map { Int($0) }
            case 6: value = read(UInt32.self).map { Double(Float(bitPattern: $0)) }
            case 7: value = read(UInt8.self).map { $0 != 0 }
            case 8: value = readString()
            case 10: value = read(UInt64.self).map { Int64(clamping: $0) }
            case 11: value = read(Int64.self)
            case 12: value = read(UInt64.self).map { Double(bitPattern: $0) }
            default: value = nil
            }
            guard let value else { break }
            metadata[key] = value
        }
        return metadata
    }
}
