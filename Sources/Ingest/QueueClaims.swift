import Foundation

/// How a sync takes work from a change queue that several instances share: a batch at a time, each claim a lease.
public struct QueueClaims: Sendable {
    /// Queue entries claimed, read and stored at a time.
    public var batchSize: Int
    /// How long a claim holds: a batch must be stored within it, or another instance may take its entries too.
    /// Defaults to 10 minutes.
    public var lease: Duration = .seconds(600)
    /// This process, in the queue's claims: host name and process id by default.
    public var instance = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"

    /// Claims of `batchSize` entries.
    public init(batchSize: Int) {
        self.batchSize = batchSize
    }
}
