import Foundation
import NIOCore

/// Reads the NDJSON of `POST /api/pull` into ``OllamaPullProgress`` steps, whatever the chunk boundaries.
///
/// The stream ends with the step whose status is `success`; later bytes are ignored. A line `{"error": "…"}` (how
/// Ollama fails a pull after the 200 was sent), or a status `error: …` (how its newer registry client does), throws
/// the mapped error after the steps before it were appended. A
/// line longer than `maximumLineBytes` fails the pull before it is buffered, so a broken upstream cannot grow memory
/// without bound.
struct OllamaPullDecoder: Sendable {
    let errors: OllamaAdminClient.Errors
    let model: String
    let maximumLineBytes: Int
    private var lines = LineSplitter()
    /// Bytes since the last newline: the length of the line being received.
    private var pendingLineBytes = 0
    /// Whether the `success` step arrived.
    private(set) var isDone = false

    init(errors: OllamaAdminClient.Errors, model: String, maximumLineBytes: Int) {
        self.errors = errors
        self.model = model
        self.maximumLineBytes = max(1, maximumLineBytes)
    }

    /// Feeds the next bytes and appends the steps they complete to `steps`. Throws for an error line (the steps
    /// before it stand), an unreadable line or one over the length limit.
    mutating func feed(_ bytes: ByteBuffer, into steps: inout [OllamaPullProgress]) throws {
        guard !isDone else { return }
        let view = bytes.readableBytesView
        for byte in view {
            if byte == UInt8(ascii: "\n") {
                pendingLineBytes = 0
            } else {
                pendingLineBytes += 1
                if pendingLineBytes > maximumLineBytes {
                    throw ProviderError.malformedResponse(
                        provider: errors.provider,
                        reason: "a line of the pull progress of '\(model)' is over \(maximumLineBytes) bytes")
                }
            }
        }
        for line in lines.feed(view) {
            try handle(line, into: &steps)
            if isDone { return }
        }
    }

    /// The body ended: handles a last line without its newline, then throws unless the pull reported `success`.
    mutating func finish(into steps: inout [OllamaPullProgress]) throws {
        if !isDone, let last = lines.finish() { try handle(last, into: &steps) }
        guard isDone else {
            throw ProviderError.malformedResponse(
                provider: errors.provider,
                reason: "the pull of '\(model)' ended before Ollama reported success; pull it again (it resumes)")
        }
    }

    private mutating func handle(_ line: String, into steps: inout [OllamaPullProgress]) throws {
        let decoded = try WireDecoding.decode(
            OllamaAdminWire.PullLine.self, from: Data(line.utf8), decoder: JSONDecoder(),
            what: "a line of the pull progress", provider: errors.provider)
        if let error = decoded.error {
            throw errors.pullFailed(text: error, model: model)
        }
        guard let status = decoded.status else {
            throw ProviderError.malformedResponse(
                provider: errors.provider, reason: "a line of the pull progress has neither 'status' nor 'error'")
        }
        // Ollama's newer registry client (OLLAMA_EXPERIMENT=client2) reports a failed pull as a last status line
        // `{"status": "error: model \"x\" not found"}`, without an `error` field.
        if status.hasPrefix("error:") {
            throw errors.pullFailed(text: status, model: model)
        }
        let step = OllamaPullProgress(
            status: status, digest: decoded.digest, total: decoded.total, completed: decoded.completed)
        steps.append(step)
        if step.isSuccess { isDone = true }
    }
}
