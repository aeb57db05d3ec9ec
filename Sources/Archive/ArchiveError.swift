/// An error thrown by ``ArchiveReader`` or ``ArchiveWriter``.
///
/// A limit error (``Code/tooManyEntries``, ``Code/entryTooLarge``, ``Code/totalTooLarge``,
/// ``Code/compressionRatio``) rejects the whole archive: the reader stops at once, and callers store nothing
/// from it. Entries that are merely unsafe (traversal, links, nested archives) are not errors: they come back
/// as skipped entries with an ``ArchiveEntry/SkipReason``.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a bounded value fit for a metric label.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case tooManyEntries, entryTooLarge, totalTooLarge, compressionRatio
            case corrupt, io, invalidEntry, misuse
        }
        private let base: Base

        /// The archive has more entries than ``ArchiveReader/Limits/maximumEntries``.
        public static let tooManyEntries = Code(base: .tooManyEntries)
        /// One entry expands past ``ArchiveReader/Limits/maximumEntrySize``.
        public static let entryTooLarge = Code(base: .entryTooLarge)
        /// All entries together expand past ``ArchiveReader/Limits/maximumTotalSize``.
        public static let totalTooLarge = Code(base: .totalTooLarge)
        /// The archive expands more than ``ArchiveReader/Limits/maximumCompressionRatio`` times its compressed size.
        public static let compressionRatio = Code(base: .compressionRatio)
        /// libarchive could not read the archive: truncated, damaged, or not an archive of a supported format.
        public static let corrupt = Code(base: .corrupt)
        /// The file could not be opened or written, or the caller's source or sink threw.
        public static let io = Code(base: .io)
        /// The writer was given an entry it will not write: an unsafe path, or bytes that do not match the size.
        public static let invalidEntry = Code(base: .invalidEntry)
        /// A call out of order, such as writing after ``ArchiveWriter/finish()``.
        public static let misuse = Code(base: .misuse)

        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// What happened and how to fix it.
    public var message: String
    /// The error a caller's source or sink threw, if that is the cause.
    public var underlying: (any Error)?
    /// Where the error was raised, as `#fileID:#line`.
    public var location: String

    public var description: String { "\(code): \(message)" }

    /// Whether this error is one of the four limits that reject an archive as a bomb.
    public var isLimit: Bool {
        code == .tooManyEntries || code == .entryTooLarge || code == .totalTooLarge || code == .compressionRatio
    }

    init(code: Code, message: String, underlying: (any Error)? = nil, file: String, line: Int) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.location = "\(file):\(line)"
    }
}

extension ArchiveError {
    static func tooManyEntries(
        archive: String, limit: Int, file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(
            code: .tooManyEntries,
            message: "Archive '\(archive)' has more than \(limit) entries, the entry-count limit; nothing of it "
                + "should be kept. If the archive is trusted, raise Limits.maximumEntries (now \(limit)).",
            file: file, line: line)
    }

    static func entryTooLarge(
        archive: String, entry: String, limit: Int64, file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(
            code: .entryTooLarge,
            message: "Entry '\(entry)' of archive '\(archive)' expands to more than \(formatBytes(limit)), the "
                + "per-entry size limit; nothing of the archive should be kept. If the archive is trusted, raise "
                + "Limits.maximumEntrySize (now \(limit) bytes).",
            file: file, line: line)
    }

    static func totalTooLarge(
        archive: String, limit: Int64, file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(
            code: .totalTooLarge,
            message: "Archive '\(archive)' expands to more than \(formatBytes(limit)) in total, the total "
                + "uncompressed size limit; nothing of it should be kept. If the archive is trusted, raise "
                + "Limits.maximumTotalSize (now \(limit) bytes).",
            file: file, line: line)
    }

    static func compressionRatio(
        archive: String, uncompressed: Int64, compressed: Int64, limit: Int64,
        file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(
            code: .compressionRatio,
            message: "Archive '\(archive)' expanded \(formatBytes(compressed)) of compressed input into "
                + "\(formatBytes(uncompressed)), more than the compression ratio limit of \(limit):1 (a "
                + "decompression bomb); nothing of it should be kept. If the archive is trusted, raise "
                + "Limits.maximumCompressionRatio (now \(limit)).",
            file: file, line: line)
    }

    static func corrupt(
        archive: String, detail: String, file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(
            code: .corrupt,
            message: "Archive '\(archive)' cannot be read: \(detail). It may be truncated, damaged, or not a "
                + "zip or tar archive (plain, gzip, bzip2 or xz).",
            file: file, line: line)
    }

    static func io(
        _ what: String, underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) -> ArchiveError {
        ArchiveError(code: .io, message: what, underlying: underlying, file: file, line: line)
    }

    static func invalidEntry(_ what: String, file: String = #fileID, line: Int = #line) -> ArchiveError {
        ArchiveError(code: .invalidEntry, message: what, file: file, line: line)
    }

    static func misuse(_ what: String, file: String = #fileID, line: Int = #line) -> ArchiveError {
        ArchiveError(code: .misuse, message: what, file: file, line: line)
    }
}

/// "64 MiB" for messages; exact bytes follow in the message where they matter.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) bytes" }
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[unit])" : "\(rounded) \(units[unit])"
}
