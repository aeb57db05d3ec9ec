import Foundation
import Lifecycle
import Logging
import NIOCore
import Providers

/// What restoring a set's models into Ollama did.
public struct BackupModelRestoreReport: Codable, Sendable {
    /// The set's id.
    public var id: String
    /// Models created in Ollama.
    public var restored: [String]
    /// Models Ollama already had under their name, left as they are.
    public var alreadyPresent: [String]
    /// Blobs uploaded to Ollama.
    public var blobsUploaded: Int
    /// Blobs Ollama already held.
    public var blobsAlreadyPresent: Int
    /// Layers of a kind this version does not restore, per model.
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case id, restored, alreadyPresent = "already_present", blobsUploaded = "blobs_uploaded"
        case blobsAlreadyPresent = "blobs_already_present", notes
    }
}

extension BackupService {
    /// Restores the models of set `id` into Ollama through its API, never by writing into its directory: each
    /// weights, projector or adapter blob the server lacks is uploaded (`POST /api/blobs/sha256:…`, streamed from the
    /// target and checked by Ollama against its digest), then the model is created (`POST /api/create`) from those
    /// files with the template, system prompt, licenses, parameters and messages of its manifest.
    ///
    /// A model Ollama already has under its name is left alone, so restoring twice changes nothing. Ollama writes the
    /// config and manifest itself, so the restored model's digest differs from the original's; its weights and texts
    /// are the same bytes.
    public func restoreModels(id: String, into ollama: OllamaAdminClient) async throws -> BackupModelRestoreReport {
        let manifest = try await manifest(of: id)
        let key = try key(for: manifest)
        var report = BackupModelRestoreReport(
            id: id, restored: [], alreadyPresent: [], blobsUploaded: 0, blobsAlreadyPresent: 0, notes: [])
        let models = manifest.objects.filter { $0.kind == "modelManifest" }
        guard !models.isEmpty else { return report }
        let installed = Set(try await ollama.tags().compactMap { OllamaModelName(parsing: $0.name) })
        let blobs = Dictionary(
            manifest.objects.filter { $0.kind == "blob" }.map { ($0.sha256.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        for object in models {
            guard let text = object.model, let name = OllamaModelName(parsing: text) else {
                throw BackupError(.corrupt, "Set \(id) lists the model manifest \(object.key) without a valid model name.")
            }
            if installed.contains(name) {
                report.alreadyPresent.append(name.displayName)
                continue
            }
            let layers = try Self.layers(of: try await data(of: object, key: key, limit: OllamaModelsDirectory.maximumManifestBytes), key: object.key)
            var files: [String: String] = [:]
            var adapters: [String: String] = [:]
            var template: String?
            var system: String?
            var licenses: [String] = []
            var parameters: Data?
            var messages: Data?
            for (index, layer) in layers.enumerated() {
                guard let digest = OllamaDigest(layer.digest), let blob = blobs[digest.hex.lowercased()] else {
                    throw BackupError(
                        .corrupt, "Set \(id) lacks the blob \(layer.digest.prefix(80)) of model \(name.displayName).")
                }
                func upload() async throws {
                    if try await ollama.hasBlob(digest.description) {
                        report.blobsAlreadyPresent += 1
                    } else {
                        try await ollama.pushBlob(digest.description, size: blob.size, body: try await contents(of: blob, key: key))
                        report.blobsUploaded += 1
                    }
                }
                func text() async throws -> String { String(decoding: try await data(of: blob, key: key), as: UTF8.self) }
                switch layer.mediaType {
                case "application/vnd.ollama.image.model", "application/vnd.ollama.image.projector":
                    try await upload()
                    files["layer-\(index).gguf"] = digest.description
                case "application/vnd.ollama.image.adapter":
                    try await upload()
                    adapters["adapter-\(index).gguf"] = digest.description
                case "application/vnd.ollama.image.template": template = try await text()
                case "application/vnd.ollama.image.system": system = try await text()
                case "application/vnd.ollama.image.license": licenses.append(try await text())
                case "application/vnd.ollama.image.params": parameters = try await data(of: blob, key: key)
                case "application/vnd.ollama.image.messages": messages = try await data(of: blob, key: key)
                default:
                    report.notes.append("\(name.displayName): a layer of type \(layer.mediaType.prefix(100)) is not restored.")
                }
            }
            guard !files.isEmpty else {
                throw BackupError(.corrupt, "The manifest of model \(name.displayName) in set \(id) lists no weights.")
            }
            do {
                try await ollama.create(
                    name.displayName, files: files, adapters: adapters, template: template, system: system,
                    license: licenses, parameters: parameters, messages: messages)
            } catch let error as ProviderError {
                throw BackupError(.modelRestore, "Ollama did not restore \(name.displayName): \(error.message)")
            }
            report.restored.append(name.displayName)
            logger.info("Model restored into Ollama", metadata: ["backup.id": "\(id)", "model": "\(name.displayName)"])
        }
        return report
    }

    /// The whole (small) object, checked against the manifest.
    func data(of object: BackupManifest.Object, key: BackupEncryptionKey?, limit: Int = 16 << 20) async throws -> Data {
        guard object.size <= limit else {
            throw BackupError(.corrupt, "\(object.key) is \(object.size) bytes; more than \(limit) are not read into memory.")
        }
        let tally = HashingFile.Tally()
        var data = Data()
        for try await chunk in try await contents(of: object, key: key) {
            tally.add(chunk)
            data.append(contentsOf: chunk.readableBytesView)
            guard data.count <= limit else { throw BackupError(.corrupt, "\(object.key) is longer than its manifest says.") }
        }
        let (sha256, size) = tally.result
        guard sha256 == object.sha256, size == object.size else {
            throw BackupError(.corrupt, "\(object.key) is tampered or damaged: its bytes do not match the manifest.")
        }
        return data
    }

    /// A model manifest's layers (the config is left out: Ollama writes its own).
    static func layers(of data: Data, key: String) throws -> [(mediaType: String, digest: String)] {
        struct Manifest: Decodable {
            struct Layer: Decodable {
                var mediaType: String?
                var digest: String?
            }
            var layers: [Layer]?
        }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            throw BackupError(.corrupt, "The model manifest \(key) is not an Ollama manifest.")
        }
        return (manifest.layers ?? []).map { ($0.mediaType ?? "", $0.digest ?? "") }
    }
}
