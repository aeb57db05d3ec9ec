extension ArchiveReader {
    /// How much an archive may expand before the reader rejects it as a bomb.
    ///
    /// Exceeding any limit stops reading and throws an ``ArchiveError`` whose code names the limit; the reader
    /// counts the bytes it actually produces (declared sizes are checked too, to fail early, but never trusted).
    /// Skipped entries' bytes count as well: the reader still decompresses them to reach the next entry.
    public struct Limits: Sendable, Hashable {
        /// Entries of every kind, skipped ones included. Defaults to 10,000: a large documentation bundle, and
        /// small enough that per-entry bookkeeping stays cheap.
        public var maximumEntries: Int = 10_000
        /// Uncompressed bytes of one entry. Defaults to 64 MiB: far more than any text document, and what a
        /// caller can afford to hold if it buffers an entry.
        public var maximumEntrySize: Int64 = 64 << 20
        /// Uncompressed bytes of all entries together. Defaults to 1 GiB.
        public var maximumTotalSize: Int64 = 1 << 30
        /// Uncompressed bytes produced so far per compressed byte consumed so far
        /// (libarchive's `archive_filter_bytes(a, -1)`). Defaults to 200: text compresses about 3–10:1 and even
        /// very repetitive logs stay under 100:1, while a gzip'd run of zeros is about 1,000:1.
        public var maximumCompressionRatio: Int64 = 200
        /// Uncompressed bytes below which the ratio is not checked, so that a tiny archive of a few repetitive
        /// files is not called a bomb. Defaults to 1 MiB.
        public var compressionRatioThreshold: Int64 = 1 << 20

        /// The defaults above.
        public init() {}

        /// No limits at all: only for archives this appliance wrote itself and has verified by hash (a restore);
        /// never for archives users supply.
        public static var unlimited: Limits {
            var limits = Limits()
            limits.maximumEntries = .max
            limits.maximumEntrySize = .max
            limits.maximumTotalSize = .max
            limits.maximumCompressionRatio = .max
            return limits
        }
    }
}
