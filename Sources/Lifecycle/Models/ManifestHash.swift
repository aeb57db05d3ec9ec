import Crypto
import Foundation

/// SHA-256 of a manifest's bytes, the way Ollama computes a manifest's digest. Only manifests are hashed (the scan
/// caps them at ``OllamaModelsDirectory/maximumManifestBytes``); blobs are never hashed, their names are their digests.
enum ManifestHash {
    /// The digest of `bytes` as 64 lowercase hexadecimal digits, the form Ollama writes after `sha256:`.
    static func hexDigest(of bytes: some Collection<UInt8>) -> String {
        SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
    }
}
