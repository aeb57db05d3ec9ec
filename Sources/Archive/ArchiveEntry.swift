#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One entry of an archive, as ``ArchiveReader/nextEntry()`` returns it; its bytes come from
/// ``ArchiveReader/nextChunk()``.
public struct ArchiveEntry: Sendable, Hashable {
    /// What an entry is.
    public enum Kind: String, Sendable, Hashable {
        case file, directory, symlink, hardlink
        /// A device, FIFO, socket or an unknown type.
        case other
    }

    /// Why the reader skipped an entry: its bytes are never handed out, but it is not an error.
    public struct SkipReason: Sendable, Hashable, CustomStringConvertible {
        /// A bounded value fit for a metric label.
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            private enum Base: String {
                case pathTraversal, absolutePath, invalidPath, link, specialFile, nestedArchive, encrypted
            }
            private let base: Base

            /// The path has a `..` component, so it could land outside the place it is unpacked to.
            public static let pathTraversal = Code(base: .pathTraversal)
            /// The path starts with `/`, `\` or a drive letter.
            public static let absolutePath = Code(base: .absolutePath)
            /// The path is empty, or libarchive could not decode it at all.
            public static let invalidPath = Code(base: .invalidPath)
            /// A symbolic or hard link: following one could read or overwrite anything.
            public static let link = Code(base: .link)
            /// A device, FIFO, socket or unknown type.
            public static let specialFile = Code(base: .specialFile)
            /// The entry is itself an archive or a compressed file (by name or by its first bytes); it is not
            /// opened, so limits cannot be dodged by nesting.
            public static let nestedArchive = Code(base: .nestedArchive)
            /// The entry is encrypted.
            public static let encrypted = Code(base: .encrypted)

            public var description: String { base.rawValue }
        }

        /// Which defence skipped the entry.
        public var code: Code
        /// Why, for a person: names the entry and, for links, the target.
        public var message: String

        public var description: String { "\(code): \(message)" }
    }

    /// The entry's path, `/`-separated, without a leading `./`, `.` components or a trailing `/`.
    ///
    /// For a skipped entry it is the path as stored (decoded), so a report shows what was in the archive.
    public var path: String
    /// The path's bytes exactly as stored in the archive.
    public var rawPath: [UInt8]
    /// Whether ``rawPath`` was not valid UTF-8 and ``path`` replaced the bad bytes with U+FFFD; two different
    /// entries can then share a ``path``.
    public var pathIsLossy: Bool
    /// What the entry is.
    public var kind: Kind
    /// The size the archive declares for the entry's data, if it declares one; the reader enforces its limits
    /// on the bytes actually produced, whatever this says.
    public var size: Int64?
    /// The entry's modification time, if the archive records one.
    public var modificationDate: Date?
    /// The permission bits (`mode & 0o7777`).
    public var permissions: UInt32
    /// The target of a symbolic or hard link.
    public var linkTarget: String?
    /// Why the entry was skipped, or `nil` when its bytes can be read.
    public var skipReason: SkipReason?
    /// A warning libarchive gave for this entry's header (for example an unconvertible name), if any.
    public var warning: String?

    /// Whether the reader skipped the entry (see ``skipReason``).
    public var isSkipped: Bool { skipReason != nil }
}
