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
    public var chunksEmbedded = 0
    public var seconds = 0.0
    public var failures: [Failure] = []
    /// Archive entries passed over by a defence (a `..` or absolute path, a link, a nested archive), with the
    /// reason; each is also counted in ``skipped``.
    public var skippedEntries: [Failure] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case added, updated, unchanged, removed, failed, skipped, chunksEmbedded = "chunks_embedded", seconds, failures
        case skippedEntries = "skipped_entries"
    }
}

/// Progress of a running ingest, reported after every file.
public struct IngestProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    public var chunksEmbedded: Int
    public var elapsedSeconds: Double
}
