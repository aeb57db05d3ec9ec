/// Why an Ollama models directory could not be scanned, or why a file in it was not removed.
///
/// Messages name the path and say what to change: `lifecycle.ollama_models_dir` (or `OLLAMA_MODELS`) for a directory
/// that is not Ollama's, file permissions for one the appliance cannot read.
public struct ModelStoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so it can be a metric label.
    public enum Code: String, Sendable {
        /// The models directory does not exist.
        case notFound = "not_found"
        /// The path exists but is not a directory, or holds neither `manifests`, `manifests-v2` nor `blobs`.
        case notAModelsDirectory = "not_a_models_directory"
        /// A directory the scan needs could not be read (usually permissions).
        case unreadable
        /// `manifests`, `manifests-v2` or `blobs` is a symbolic link; the scan does not follow links out of the root.
        case symbolicLink = "symbolic_link"
        /// A removal was refused: the path is not an orphaned blob or partial download directly in `blobs/`.
        case refused
        /// The file system refused a removal the checks allowed.
        case removalFailed = "removal_failed"
    }

    public var code: Code
    /// The path at fault.
    public var path: String
    /// What is wrong and how to fix it.
    public var message: String
    public var description: String { "\(code): \(message)" }

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    static let configurationHint =
        "Set lifecycle.ollama_models_dir (or OLLAMA_MODELS) to the directory that holds Ollama's 'manifests' and "
        + "'blobs' (by default ~/.ollama/models, or /usr/share/ollama/.ollama/models for the Linux service)."

    static func notFound(_ path: String) -> ModelStoreError {
        ModelStoreError(
            code: .notFound, path: path,
            message: "The Ollama models directory '\(path)' does not exist. \(configurationHint)")
    }

    static func notADirectory(_ path: String) -> ModelStoreError {
        ModelStoreError(
            code: .notAModelsDirectory, path: path, message: "'\(path)' is not a directory. \(configurationHint)")
    }

    static func notAModelsDirectory(_ path: String) -> ModelStoreError {
        ModelStoreError(
            code: .notAModelsDirectory, path: path,
            message: "'\(path)' holds neither 'manifests' nor 'blobs', so it is not an Ollama models directory. "
                + configurationHint)
    }

    static func unreadable(_ path: String, reason: String) -> ModelStoreError {
        ModelStoreError(
            code: .unreadable, path: path,
            message: "Cannot read '\(path)': \(reason). Give the appliance's user read access to the models directory "
                + "(for the Linux service, add it to the 'ollama' group), or set lifecycle.ollama_models_dir to a "
                + "readable copy.")
    }

    static func symbolicLink(_ path: String) -> ModelStoreError {
        ModelStoreError(
            code: .symbolicLink, path: path,
            message: "'\(path)' is a symbolic link; the scan does not follow links out of the models directory, so it "
                + "cannot measure or clean it. Point lifecycle.ollama_models_dir at a directory that holds 'manifests' "
                + "and 'blobs' themselves (a link to the models directory as a whole is fine).")
    }

    static func refused(_ path: String, because reason: String) -> ModelStoreError {
        ModelStoreError(
            code: .refused, path: path,
            message:
                "Refusing to remove '\(path)': \(reason). Only orphaned blobs (blobs/sha256-<hex> that no manifest "
                + "references) and partial downloads (blobs/sha256-<hex>-partial*) are removed by the appliance; "
                + "delete models through Ollama (`ollama rm`).")
    }

    static func removalFailed(_ path: String, reason: String) -> ModelStoreError {
        ModelStoreError(
            code: .removalFailed, path: path,
            message: "Could not remove '\(path)': \(reason). Check that the appliance's user may write to the 'blobs' "
                + "directory.")
    }
}
