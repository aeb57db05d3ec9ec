import Foundation
import Testing

@testable import MiniLM

/// The installed model and the reference vectors the tests compare against. Anything missing is a failure that
/// says what to run, never a skip: a green run always means the real model was exercised.
enum MiniLMFixtures {
    /// One case of `minilm-reference.json`: a text, its token ids and its embedding from the numpy reference.
    struct ReferenceCase: Decodable, Sendable {
        var text: String
        var tokenIDs: [Int]
        var embedding: [Float]

        enum CodingKeys: String, CodingKey {
            case text
            case tokenIDs = "token_ids"
            case embedding
        }
    }

    struct Reference: Decodable, Sendable {
        var model: String
        var maxSeqLength: Int
        var cases: [ReferenceCase]

        enum CodingKeys: String, CodingKey {
            case model
            case maxSeqLength = "max_seq_length"
            case cases
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `<repo>/../shared/reference/minilm-reference.json`: the shared folder sits beside the repository in CI.
    static var referencePath: String {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/minilm-reference.json").path
    }

    static let loadedReference = Result { () throws(SetupError) -> Reference in
        guard let data = FileManager.default.contents(atPath: referencePath) else {
            throw SetupError(
                description: "The MiniLM reference vectors are missing: expected \(referencePath) (the shared folder "
                    + "beside the repository, as in CI). Check out the shared folder next to the repository.")
        }
        do {
            return try JSONDecoder().decode(Reference.self, from: data)
        } catch {
            throw SetupError(description: "\(referencePath) cannot be decoded: \(error)")
        }
    }

    static let loadedEmbedder = Result { () throws(SetupError) -> MiniLMEmbedder in
        let directory = MiniLMEmbedder.defaultModelDirectory(environment: ProcessInfo.processInfo.environment)
        do {
            return try MiniLMEmbedder(modelDirectory: directory)
        } catch {
            // MiniLMError says what to run (./deploy/install-model.sh); anything else gets the same advice.
            let advice = error is MiniLMError ? "" : " Run ./deploy/install-model.sh before running the tests."
            throw SetupError(description: "The MiniLM model cannot be loaded from \(directory): \(error)\(advice)")
        }
    }

    /// The reference file; fails the test with a clear message when it is missing.
    static func reference() throws -> Reference { try loadedReference.get() }

    /// The embedder over the installed model; fails the test (saying to run ./deploy/install-model.sh) when the
    /// model is not installed.
    static func embedder() throws -> MiniLMEmbedder { try loadedEmbedder.get() }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0
        var normA = 0.0
        var normB = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            normA += Double(x) * Double(x)
            normB += Double(y) * Double(y)
        }
        return dot / (normA.squareRoot() * normB.squareRoot())
    }
}
