import Foundation
import Lifecycle
/// What one ingest run did.
public struct IngestSummary: Sendable, Codable, Equatable {
    /// A file that could not be ingested, and why.
    public struct Failure: Sendable, Codable, Equatable {
        public var path: String
        public var reason: String
    }

    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var removed = 0
    public var failed = 0
    /// Files passed over because the appliance does not read their kind (binaries, links).
    public var skipped = 0
    /// Texts sent to the embedder: chunks whose exact text already had a vector of the model in the tenant (from
    /// any path) reuse it and are not counted.
    public var chunksEmbedded = 0
    public var seconds = 0.0
    /// Of ``seconds``, the time spent building the model's vector index: after the writes of a model's first ingest
    /// (which stores its vectors, then builds the index over all of them and refreshes their statistics), or before
    /// the writes when the index was missing (left invalid by an interrupted build). 0 when no index was built.
    public var indexSeconds = 0.0
    public var failures: [Failure] = []
    /// Archive entries passed over by a defence (a `..` or absolute path, a link, a nested archive), with the
    /// reason; each is also counted in ``skipped``.
    public var skippedEntries: [Failure] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case added, updated, unchanged, removed, failed, skipped, chunksEmbedded = "chunks_embedded", seconds
        case indexSeconds = "index_seconds", failures
        case skippedEntries = "skipped_entries"
    }
}

extension IngestSummary {
    /// The counts in one line: `2 added, 1 updated, 0 unchanged, 1 removed, 0 failed; 7 chunks embedded in 0.4 s`.
    public var line: String {
        String(
            format: "%ld added, %ld updated, %ld unchanged, %ld removed, %ld failed; %ld chunks embedded in %.1f s",
            added, updated, unchanged, removed, failed, chunksEmbedded, seconds)
    }

    /// The line for the job history; a run in which something failed throws it with the first failure, so the run
    /// is recorded as failed.
    public func jobSummary() throws -> String {
        guard let first = failures.first else { return line }
        throw SchedulerError(message: line + "; first failure: \(first.path): \(first.reason)")
    }
}

/// Progress of a running ingest, reported after every file.
public struct IngestProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    /// Texts sent to the embedder so far.
    public var chunksEmbedded: Int
    /// Chunks of the documents written so far, embedded or reused.
    public var chunksStored: Int
    public var elapsedSeconds: Double

    /// A report of the counts so far.
    public init(filesDone: Int, filesTotal: Int, chunksEmbedded: Int, chunksStored: Int = 0, elapsedSeconds: Double) {
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.chunksEmbedded = chunksEmbedded
        self.chunksStored = chunksStored
        self.elapsedSeconds = elapsedSeconds
    }
}

extension IngestProgress {
    /// One line for a terminal, at most `width` columns: a bar of files done, files and chunks done, the rate in
    /// chunks a second and the time left, estimated from the files still to do at the rate files have gone so far.
    ///
    /// `[########------------]  120/500 files · 3400 chunks (2100 embedded) · 850 chunks/s · ETA 0:42`
    public func line(width: Int = 100) -> String {
        let total = max(filesTotal, filesDone)
        let fraction = total > 0 ? Double(filesDone) / Double(total) : 0
        let rate = elapsedSeconds > 0 ? Double(chunksStored) / elapsedSeconds : 0
        var eta = "--:--"
        if filesDone > 0, elapsedSeconds > 0, total >= filesDone {
            let seconds = elapsedSeconds / Double(filesDone) * Double(total - filesDone)
            if seconds.isFinite, seconds < 360_000 { eta = Self.clock(Int(seconds.rounded())) }
        }
        let text =
            " \(filesDone)/\(total) files · \(chunksStored) chunks (\(chunksEmbedded) embedded) · "
            + "\(Int(rate.isFinite ? min(rate, 1e12).rounded() : 0)) chunks/s · ETA \(eta)"
        return Self.bar(fraction: fraction, text: text, width: width)
    }

    /// `[####------] text` in `width` columns (the bar up to 30 wide), or the text alone when narrower. Ingest
    /// and reindex draw their progress with it.
    static func bar(fraction: Double, text: String, width: Int) -> String {
        let barWidth = max(0, min(30, width - text.count - 2))
        guard barWidth >= 5 else { return String(text.dropFirst().prefix(max(0, width))) }
        let filled = max(0, min(barWidth, Int((fraction.isFinite ? fraction * Double(barWidth) : 0).rounded(.down))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "]" + text
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: Int) -> String {
        let (hours, rest) = seconds.quotientAndRemainder(dividingBy: 3600)
        let (minutes, secs) = rest.quotientAndRemainder(dividingBy: 60)
        return hours > 0
            ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
