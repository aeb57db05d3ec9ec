/// An error thrown while loading the native MiniLM embedder: missing or unusable model files.
public struct MiniLMError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; bounded, so fine as a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case modelNotInstalled, invalidModelFile, unsupportedModel }
        private let base: Base
        /// A model file is missing: run `./deploy/install-model.sh`.
        public static let modelNotInstalled = Code(base: .modelNotInstalled)
        /// A model file exists but cannot be read or parsed (truncated download, wrong file).
        public static let invalidModelFile = Code(base: .invalidModelFile)
        /// The files describe a model this embedder does not implement (not a BERT WordPiece encoder).
        public static let unsupportedModel = Code(base: .unsupportedModel)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and how to fix it.
    public var message: String
    /// Where the error was raised ("#fileID:#line").
    public var location: String

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public var description: String { "\(code): \(message)" }

    /// The model directory lacks the file `name`.
    static func modelNotInstalled(directory: String, missing name: String, file: String = #fileID, line: Int = #line)
        -> MiniLMError
    {
        MiniLMError(
            .modelNotInstalled,
            "The all-MiniLM-L6-v2 model is not installed: \(directory)/\(name) is missing. "
                + "Run ./deploy/install-model.sh (it prints the directory it fills), or point UNITY_AI_MODELS_DIR "
                + "at the directory holding all-minilm-l6-v2.",
            file: file, line: line)
    }

    /// `path` cannot be used; `reason` says why.
    static func invalidModelFile(_ path: String, _ reason: String, file: String = #fileID, line: Int = #line)
        -> MiniLMError
    {
        MiniLMError(
            .invalidModelFile,
            "\(path) is not a usable model file: \(reason). Delete the model directory and run "
                + "./deploy/install-model.sh again.",
            file: file, line: line)
    }
}
