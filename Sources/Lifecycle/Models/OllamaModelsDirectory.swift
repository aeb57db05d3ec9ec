import Foundation

/// Reads an Ollama models directory (`OLLAMA_MODELS`) into a ``Snapshot``; the only part of model cleanup that
/// touches the file system, apart from ``removeOrphanOrPartial(path:root:modifiedBefore:)``.
///
/// ## Layout
///
/// This is the layout Ollama's `server/internal/manifest` package and `server/download.go` write:
///
/// ```
/// <root>/manifests/<host>/<namespace>/<model>/<tag>      a JSON manifest (the long-standing layout)
/// <root>/manifests-v2/<host>/<namespace>/<model>/<tag>   newer Ollama: a symbolic link to blobs/sha256-<digest>
/// <root>/blobs/sha256-<hex>                             a layer, config or manifest, named after its SHA-256
/// <root>/blobs/sha256-<hex>-partial                     a download in progress (sparse, preallocated)
/// <root>/blobs/sha256-<hex>-partial-<n>                 the progress of part n of that download (JSON)
/// ```
///
/// A manifest is `{"schemaVersion":2,"mediaType":…,"config":{"mediaType","digest","size"},"layers":[…]}`. Like
/// Ollama, the scan reads `manifests-v2/` before `manifests/`, takes the first manifest of each model name and treats
/// the public registry's two host names as one. A model's digest is the SHA-256 of its manifest's bytes.
///
/// ## Safety and bounds
///
/// - Symbolic links are never followed out of the root. The root itself may be a link (a models directory moved to
///   a larger disk); `manifests`, `manifests-v2` and `blobs` may not. A manifest may be a link only to a blob directly
///   in `blobs/`, which is what newer Ollama writes; any other link is reported as invalid.
/// - Every digest is checked to be `sha256:<64 hex>` before it names a file, so a manifest cannot point the scan (or
///   a later removal) at `../../etc/passwd`.
/// - Manifests over ``maximumManifestBytes`` are reported and not read. Blobs are measured with `lstat`, never read.
/// - Only the four directory levels Ollama uses below a manifests directory are walked.
///
/// Everything is reported, nothing is repaired: see ``Snapshot``, ``InvalidManifest`` and ``SkippedEntry``.
public enum OllamaModelsDirectory {
    /// The largest manifest read: 1 MiB. Real manifests are a few kilobytes even for models split into hundreds of
    /// tensor layers.
    public static let maximumManifestBytes = 1 << 20

    /// The manifest directories, in the order Ollama reads them.
    static let manifestDirectories = ["manifests-v2", "manifests"]

    /// Scans the models directory at `path`.
    ///
    /// - Throws: ``ModelStoreError`` when `path` is missing, unreadable, or not an Ollama models directory. Problems
    ///   with single files are not errors; they are reported in the snapshot.
    public static func scan(path: String) throws -> Snapshot {
        let root = try resolveRoot(path)
        var present: [String: Bool] = [:]
        for directory in manifestDirectories + ["blobs"] {
            let full = root.appendingPathComponent(directory)
            let status: FileSystem.Status?
            do { status = try FileSystem.status(full) } catch {
                throw ModelStoreError.unreadable(full, reason: "\(error)")
            }
            switch status?.kind {
            case nil: present[directory] = false
            case .directory: present[directory] = true
            case .symbolicLink: throw ModelStoreError.symbolicLink(full)
            case .regular, .other: throw ModelStoreError.notADirectory(full)
            }
        }
        guard present.values.contains(true) else { throw ModelStoreError.notAModelsDirectory(root) }

        var scanner = Scanner(root: root)
        if present["blobs"] == true { try scanner.scanBlobs() }
        for directory in manifestDirectories where present[directory] == true {
            try scanner.scanManifests(in: directory)
        }
        return Snapshot(
            root: root, manifests: scanner.manifests, invalidManifests: scanner.invalidManifests, blobs: scanner.blobs,
            partials: scanner.partials, skipped: scanner.skipped)
    }

    /// The digest of a partial download's file name: `sha256-<hex>-partial` or `sha256-<hex>-partial-<n>`.
    static func partialDigest(_ name: String) -> OllamaDigest? {
        guard name.utf8.count > 71 else { return nil }
        let blobName = String(name.prefix(71))
        guard let digest = OllamaDigest(blobFileName: blobName) else { return nil }
        let suffix = name.dropFirst(71)
        if suffix == "-partial" { return digest }
        guard suffix.hasPrefix("-partial-") else { return nil }
        let number = suffix.dropFirst(9)
        guard !number.isEmpty, number.utf8.count <= 9,
            number.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return digest
    }

    /// `path` with symbolic links resolved, checked to be an existing directory.
    static func resolveRoot(_ path: String) throws -> String {
        guard !path.isEmpty else { throw ModelStoreError.notFound(path) }
        let root: String
        do {
            root = try FileSystem.realPath(path)
        } catch {
            if error.isNotFound { throw ModelStoreError.notFound(path) }
            throw ModelStoreError.unreadable(path, reason: "\(error)")
        }
        let status: FileSystem.Status?
        do { status = try FileSystem.status(root) } catch { throw ModelStoreError.unreadable(root, reason: "\(error)") }
        guard status?.kind == .directory else { throw ModelStoreError.notADirectory(path) }
        return root
    }

    /// The scan's working state; one per call.
    private struct Scanner {
        let root: String
        var manifests: [Manifest] = []
        var invalidManifests: [InvalidManifest] = []
        var blobs: [Blob] = []
        var partials: [Partial] = []
        var skipped: [SkippedEntry] = []
        /// The manifest path each name was first read from.
        var seenNames: [OllamaModelName: String] = [:]

        init(root: String) { self.root = root }

        // MARK: Blobs

        mutating func scanBlobs() throws {
            let directory = root.appendingPathComponent("blobs")
            let names: [String]
            do { names = try FileSystem.entries(of: directory) } catch {
                throw ModelStoreError.unreadable(directory, reason: "\(error)")
            }
            for name in names where !name.hasPrefix(".") {
                let relative = "blobs/" + name
                let status: FileSystem.Status
                do {
                    // An entry that vanished since the listing (Ollama finished or removed it) is simply not there.
                    guard let found = try FileSystem.status(directory.appendingPathComponent(name)) else { continue }
                    status = found
                } catch {
                    skipped.append(SkippedEntry(path: relative, reason: "cannot be read (\(error)); not measured"))
                    continue
                }
                if let digest = OllamaDigest(blobFileName: name) {
                    guard status.kind == .regular else {
                        skipped.append(
                            SkippedEntry(path: relative, reason: Self.describe(status.kind) + "; not measured"))
                        continue
                    }
                    blobs.append(Blob(digest: digest, bytes: status.size, modified: status.modified))
                } else if let digest = OllamaModelsDirectory.partialDigest(name) {
                    guard status.kind == .regular else {
                        skipped.append(
                            SkippedEntry(path: relative, reason: Self.describe(status.kind) + "; not measured"))
                        continue
                    }
                    partials.append(
                        Partial(
                            path: relative, digest: digest, bytes: min(status.size, status.allocatedBytes),
                            apparentBytes: status.size, modified: status.modified))
                } else {
                    let reason =
                        status.kind == .directory
                        ? "directory; not measured (Ollama keeps links to split GGUF shards in blobs/splits)"
                        : "not a blob or partial download name Ollama writes; not measured"
                    skipped.append(SkippedEntry(path: relative, reason: reason))
                }
            }
        }

        // MARK: Manifests

        mutating func scanManifests(in directory: String) throws {
            let top = root.appendingPathComponent(directory)
            let names: [String]
            do { names = try FileSystem.entries(of: top) } catch {
                throw ModelStoreError.unreadable(top, reason: "\(error)")
            }
            walk(names: names, relative: directory, parts: [])
        }

        /// Walks `<host>/<namespace>/<model>/<tag>`: three directory levels, then manifest files.
        private mutating func walk(names: [String], relative: String, parts: [String]) {
            for name in names where !name.hasPrefix(".") {
                // Hidden names are Ollama's temporary files (`.manifest-*` while a v2 manifest is written).
                let entryRelative = relative + "/" + name
                let full = root.appendingPathComponent(entryRelative)
                let status: FileSystem.Status
                do {
                    // Nothing there: removed since the listing (a model deleted while the scan runs).
                    guard let found = try FileSystem.status(full) else { continue }
                    status = found
                } catch {
                    invalidManifests.append(
                        InvalidManifest(
                            path: entryRelative, reason: .unreadable,
                            message: "Cannot read '\(entryRelative)' (\(error)). Give the appliance's user read access "
                                + "to the models directory."))
                    continue
                }
                if parts.count < 3 {
                    switch status.kind {
                    case .directory:
                        let children: [String]
                        do { children = try FileSystem.entries(of: full) } catch {
                            invalidManifests.append(
                                InvalidManifest(
                                    path: entryRelative, reason: .unreadable,
                                    message:
                                        "Cannot list '\(entryRelative)' (\(error)); manifests in it cannot be read. "
                                        + "Give the appliance's user read access to the models directory."))
                            continue
                        }
                        walk(names: children, relative: entryRelative, parts: parts + [name])
                    case .symbolicLink:
                        skipped.append(
                            SkippedEntry(path: entryRelative, reason: "symbolic link; not followed out of the root"))
                    case .regular, .other:
                        skipped.append(
                            SkippedEntry(
                                path: entryRelative,
                                reason: "not a manifest: manifests are <host>/<namespace>/<model>/<tag>"))
                    }
                } else if status.kind == .directory || status.kind == .other {
                    // Ollama's `manifests/*/*/*/*` glob skips these too; they cannot be manifests.
                    skipped.append(
                        SkippedEntry(
                            path: entryRelative, reason: Self.describe(status.kind) + " where a manifest belongs"))
                } else {
                    readManifest(at: entryRelative, parts: parts + [name], status: status)
                }
            }
        }

        private mutating func readManifest(at relative: String, parts: [String], status: FileSystem.Status) {
            let name = OllamaModelName(host: parts[0], namespace: parts[1], model: parts[2], tag: parts[3])
            if let name, let first = seenNames[name] {
                // Ollama reads the first file of a name and ignores the rest without parsing them.
                invalidManifests.append(
                    InvalidManifest(
                        path: relative, reason: .shadowed,
                        message: "'\(relative)' is a second manifest for \(name.displayName); Ollama reads '\(first)' "
                            + "and ignores this one. Remove it once the model works."))
                return
            }

            let bytes: [UInt8]
            switch read(relative, status: status) {
            case .bytes(let read): bytes = read
            case .invalid(let invalid):
                invalidManifests.append(invalid)
                return
            }
            let digest = OllamaDigest(hex: ManifestHash.hexDigest(of: bytes))
            guard let digest else { return }  // A SHA-256 is always 64 hex digits.

            let decoded: ManifestJSON
            do {
                decoded = try JSONDecoder().decode(ManifestJSON.self, from: Data(bytes))
            } catch {
                invalidManifests.append(
                    InvalidManifest(
                        path: relative, reason: .notJSON,
                        message: "'\(relative)' is not a JSON manifest; Ollama cannot use it either. Remove it, or "
                            + "pull the model again to rewrite it."))
                return
            }

            var references = [digest]
            var badDigests: [String] = []
            func layer(_ entry: LayerJSON) -> Layer? {
                guard let text = entry.digest, let parsed = OllamaDigest(text) else {
                    badDigests.append(entry.digest ?? "<none>")
                    return nil
                }
                references.append(parsed)
                return Layer(digest: parsed, size: entry.size ?? 0, mediaType: entry.mediaType ?? "")
            }
            // An absent config, or one with an empty digest, is allowed: Ollama skips it.
            let config = decoded.config.flatMap { $0.digest?.isEmpty == false ? layer($0) : nil }
            let layers = (decoded.layers ?? []).compactMap(layer)
            var seen = Set<OllamaDigest>()
            references = references.filter { seen.insert($0).inserted }

            if !badDigests.isEmpty {
                let shown = badDigests.prefix(3).map { "'\(String($0.prefix(80)))'" }.joined(separator: ", ")
                invalidManifests.append(
                    InvalidManifest(
                        path: relative, reason: .invalidDigest,
                        message: "'\(relative)' names \(badDigests.count) digest\(badDigests.count == 1 ? "" : "s") "
                            + "that are not sha256:<64 hex digits> (\(shown)); it is ignored, and the blobs it names "
                            + "correctly are kept. Pull the model again or remove the file.",
                        references: references))
                return
            }
            if ((config.map { [$0] } ?? []) + layers).contains(where: { $0.size < 0 }) {
                invalidManifests.append(
                    InvalidManifest(
                        path: relative, reason: .invalidSize,
                        message: "'\(relative)' declares a negative layer size; it is ignored, and its blobs are kept. "
                            + "Pull the model again or remove the file.",
                        references: references))
                return
            }
            guard let name else {
                invalidManifests.append(
                    InvalidManifest(
                        path: relative, reason: .invalidName,
                        message: "'\(relative)' is not <host>/<namespace>/<model>/<tag> with names Ollama accepts "
                            + "(letters, digits, '_', '-', '.'); Ollama does not list it. Its blobs are kept.",
                        references: references))
                return
            }
            seenNames[name] = relative
            manifests.append(
                Manifest(
                    name: name, path: relative, digest: digest, modified: status.modified, config: config,
                    layers: layers
                ))
        }

        private enum ReadOutcome {
            case bytes([UInt8])
            case invalid(InvalidManifest)
        }

        /// The manifest's bytes: a regular file, or a link to a blob directly in `blobs/` whose bytes match its name.
        private func read(_ relative: String, status: FileSystem.Status) -> ReadOutcome {
            let full = root.appendingPathComponent(relative)
            var file = full
            var linkedDigest: OllamaDigest?
            switch status.kind {
            case .regular: break
            case .symbolicLink:
                guard let target = try? FileSystem.linkTarget(full) else {
                    return .invalid(
                        InvalidManifest(
                            path: relative, reason: .unreadable, message: "Cannot read the link '\(relative)'."))
                }
                let parent = String(full[..<(full.lastIndex(of: "/") ?? full.startIndex)])
                let resolved = Self.lexicallyStandardized(target.hasPrefix("/") ? target : parent + "/" + target)
                let blobName = String(resolved.split(separator: "/").last ?? "")
                guard let digest = OllamaDigest(blobFileName: blobName),
                    resolved == root.appendingPathComponent("blobs/" + blobName)
                else {
                    return .invalid(
                        InvalidManifest(
                            path: relative, reason: .linkOutsideBlobs,
                            message: "'\(relative)' is a symbolic link to '\(target)', not to a blob in "
                                + "\(root)/blobs; the scan does not follow it. Remove the link or pull the model again."
                        ))
                }
                file = resolved
                linkedDigest = digest
            case .directory, .other:
                return .invalid(
                    InvalidManifest(
                        path: relative, reason: .notARegularFile,
                        message: "'\(relative)' is where a manifest should be but is not a file. Remove it."))
            }

            let contents: FileSystem.Contents
            do {
                contents = try FileSystem.readFile(file, limit: maximumManifestBytes)
            } catch {
                return .invalid(
                    InvalidManifest(
                        path: relative, reason: .unreadable,
                        message: "Cannot read '\(relative)' (\(error)). Give the appliance's user read access to the "
                            + "models directory."))
            }
            switch contents {
            case .tooLarge(let fileStatus):
                return .invalid(
                    InvalidManifest(
                        path: relative, reason: .tooLarge,
                        message: "'\(relative)' is \(fileStatus.size) bytes, more than the \(maximumManifestBytes) a "
                            + "manifest may be; it was not read. Orphan removal is suspended until it is removed."))
            case .notARegularFile:
                return .invalid(
                    InvalidManifest(
                        path: relative, reason: .notARegularFile,
                        message: "'\(relative)' does not lead to a regular file. Remove it."))
            case .bytes(let bytes, _):
                if let linkedDigest, ManifestHash.hexDigest(of: bytes) != linkedDigest.hex.lowercased() {
                    return .invalid(
                        InvalidManifest(
                            path: relative, reason: .digestMismatch,
                            message: "'\(relative)' links to \(linkedDigest.blobFileName), whose bytes do not hash to "
                                + "its name; Ollama refuses it too. Pull the model again."))
                }
                return .bytes(bytes)
            }
        }

        /// `path` with `.`, `..` and repeated `/` resolved by text alone. Sound here because every directory above
        /// the link was reached through real directories, never links.
        static func lexicallyStandardized(_ path: String) -> String {
            var components: [Substring] = []
            for component in path.split(separator: "/", omittingEmptySubsequences: true) {
                switch component {
                case ".": continue
                case "..": _ = components.popLast()
                default: components.append(component)
                }
            }
            return "/" + components.joined(separator: "/")
        }

        static func describe(_ kind: FileSystem.Status.Kind) -> String {
            switch kind {
            case .regular: "file"
            case .directory: "directory"
            case .symbolicLink: "symbolic link, not followed"
            case .other: "special file"
            }
        }
    }

    /// A manifest as JSON; every field optional, as Go decodes a missing field to its zero value.
    private struct ManifestJSON: Decodable {
        var config: LayerJSON?
        var layers: [LayerJSON]?
    }

    private struct LayerJSON: Decodable {
        var mediaType: String?
        var digest: String?
        var size: Int64?
    }
}
