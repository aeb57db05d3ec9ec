import Foundation
import Testing

@testable import Lifecycle

@Suite struct OllamaModelNameTests {
    // MARK: SHA-256

    /// FIPS 180-4 examples, and lengths around the padding boundaries (55/56 and 119/120 bytes need one more block).
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
        (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (String(repeating: "a", count: 63), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (String(repeating: "a", count: 65), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (String(repeating: "a", count: 119), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (String(repeating: "a", count: 120), "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
        (String(repeating: "a", count: 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func hashesLikeSHA256Sum(input: String, expected: String) {
        #expect(ManifestHash.hexDigest(of: Array(input.utf8)) == expected)
    }

    @Test func hashesAManifestAsOllamaReportsItsDigest() {
        // `sha256sum` of this exact manifest text; Ollama's /api/tags shows the same hex as the model's `digest`.
        let manifest =
            #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":"#
            + #"{"mediaType":"application/vnd.docker.container.image.v1+json","#
            + #""digest":"sha256:34bb5ab01051a11372a186f4d89e8a8f6b1d5a5a8bb6cbd1d5c26d71e2fd44fa","size":561},"#
            + #""layers":[{"mediaType":"application/vnd.ollama.image.model","#
            + #""digest":"sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff","size":2019377376}]}"#
        #expect(
            ManifestHash.hexDigest(of: Array(manifest.utf8))
                == "056300ca42f99ef0424c6b9bb4a5b17b5fc89ed89263841e1c5720ff79216d99")
    }

    // MARK: Digests

    @Test func parsesDigestsInBothSpellingsOllamaAccepts() throws {
        let hex = String(repeating: "ab", count: 32)
        let colon = try #require(OllamaDigest("sha256:" + hex))
        let dash = try #require(OllamaDigest("sha256-" + hex))
        #expect(colon == dash)
        #expect(colon.description == "sha256:" + hex)
        #expect(colon.blobFileName == "sha256-" + hex)
    }

    @Test(arguments: [
        "../../etc/passwd", "sha256:../../../../etc/passwd", "sha256:1234",
        "sha256:" + String(repeating: "g", count: 64),
        "sha512:" + String(repeating: "a", count: 64), "sha256:" + String(repeating: "a", count: 65),
        "sha256:" + String(repeating: "a", count: 63) + "/", "", "sha256:",
    ])
    func rejectsDigestsThatCouldNameAnotherPath(text: String) {
        #expect(OllamaDigest(text) == nil)
    }

    // MARK: Names

    @Test(arguments: [
        (["registry.ollama.ai", "library", "llama3.2", "latest"], "llama3.2:latest"),
        (["registry.ollama.ai", "jdoe", "mario", "latest"], "jdoe/mario:latest"),
        (
            ["hf.co", "bartowski", "Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M"],
            "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"
        ),
        (["localhost:5000", "library", "tiny", "v1"], "localhost:5000/library/tiny:v1"),
        (["ollama.com", "library", "gemma3", "4b"], "gemma3:4b"),
        (["REGISTRY.OLLAMA.AI", "Library", "Llama3.2", "Latest"], "Llama3.2:Latest"),
    ])
    func displaysNamesAsOllamaDoes(parts: [String], expected: String) throws {
        let name = try #require(OllamaModelName(host: parts[0], namespace: parts[1], model: parts[2], tag: parts[3]))
        #expect(name.displayName == expected)
    }

    @Test(arguments: [
        "llama3.2", "llama3.2:latest", "library/llama3.2", "registry.ollama.ai/library/llama3.2:latest",
        "https://registry.ollama.ai/library/llama3.2:latest", "LLAMA3.2:LATEST", "ollama.com/library/llama3.2",
    ])
    func parsesShortAndLongSpellingsAsOneName(text: String) throws {
        let name = try #require(OllamaModelName(parsing: text))
        let expected = try #require(
            OllamaModelName(host: "registry.ollama.ai", namespace: "library", model: "llama3.2", tag: "latest"))
        #expect(name == expected)
        #expect(name.hashValue == expected.hashValue)
    }

    @Test func parsesHostsWithPorts() throws {
        let name = try #require(OllamaModelName(parsing: "localhost:5000/team/tiny:v1"))
        #expect(name.host == "localhost:5000")
        #expect(name.namespace == "team")
        #expect(name.model == "tiny")
        #expect(name.tag == "v1")
        let noTag = try #require(OllamaModelName(parsing: "localhost:5000/team/tiny"))
        #expect(noTag.tag == "latest")
    }

    @Test(arguments: [
        "", "llama3.2:", ":latest", "a/b/c/d", "../x", "..", "bad.namespace/model", "model@sha256:abc", "mo del",
        "-model", "model/", "/model", String(repeating: "m", count: 81),
    ])
    func rejectsNamesOllamaWouldReject(text: String) {
        #expect(OllamaModelName(parsing: text) == nil)
    }

    @Test func rejectsPathPartsThatCouldEscape() {
        #expect(OllamaModelName(host: "..", namespace: "library", model: "x", tag: "latest") == nil)
        #expect(OllamaModelName(host: "registry.ollama.ai", namespace: "library", model: "x", tag: "..") == nil)
        #expect(OllamaModelName(host: "registry.ollama.ai", namespace: "a.b", model: "x", tag: "latest") == nil)
        #expect(OllamaModelName(host: "registry.ollama.ai", namespace: "lib", model: "x:y", tag: "latest") == nil)
    }
}
