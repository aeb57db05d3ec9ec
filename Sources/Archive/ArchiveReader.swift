import CArchive

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a zip or tar archive (plain, gzip, bzip2 or xz; detected from its bytes, not its name) one entry at a
/// time, streaming: at most one chunk of an entry is in memory, and nothing is written to disk.
///
/// ```swift
/// let reader = try ArchiveReader(path: "bundle.zip")
/// while let entry = try reader.nextEntry() {
///     if let reason = entry.skipReason { report(entry.path, reason); continue }
///     guard entry.kind == .file else { continue }
///     while let chunk = try reader.nextChunk() { hasher.update(data: chunk) }
/// }
/// ```
///
/// The API is synchronous, not an `AsyncSequence`: libarchive blocks in `read(2)` and in decompression, and its
/// state (the current entry's data must be read before the next header) belongs to one consumer. An async
/// wrapper would either block the cooperative pool or hop threads for every chunk. Run the whole loop in one
/// blocking context, such as `NIOThreadPool.runIfActive`. The type is not `Sendable`; use it from one thread at a
/// time.
///
/// Defences: an entry whose path is absolute or has a `..` component, a link, a device, an encrypted entry and an
/// entry that is itself an archive come back with a ``ArchiveEntry/skipReason`` and their bytes are never handed
/// out. Exceeding a ``Limits`` throws and rejects the whole archive; so does damage (``ArchiveError/Code/corrupt``).
/// After any error every further call throws the same error. Callers that must store nothing from a rejected
/// archive collect its entries (or stage them in one transaction) and commit only after ``nextEntry()`` returns
/// `nil`.
///
/// Only libarchive's tar and zip readers and its gzip, bzip2 and xz filters are enabled, never its external-program
/// filters: other formats are reported as corrupt, and a smaller parser surface is a smaller attack surface.
public final class ArchiveReader {
    /// The archive's name in messages (its path, or the name given with a source).
    public let name: String
    /// The limits this reader enforces.
    public let limits: Limits
    /// Headers read so far, skipped entries included.
    public private(set) var entryCount = 0
    /// Uncompressed entry bytes produced so far, skipped entries' included.
    public private(set) var uncompressedBytes: Int64 = 0
    /// Compressed bytes libarchive has consumed so far.
    public var compressedBytes: Int64 { archive_filter_bytes(archive, -1) }

    private enum Phase {
        /// Before the next header.
        case header
        /// In an entry's data; `readable` when the caller may read it (a file that was not skipped).
        case data(readable: Bool)
        case finished
        case failed(ArchiveError)
    }

    private let archive: OpaquePointer
    private let source: ReadSource?
    private let buffer: UnsafeMutableRawBufferPointer
    private var phase = Phase.header
    /// The current entry's first chunk, read ahead to look for archive magic.
    private var pending: [UInt8]?
    private var currentPath = ""
    private var currentBytes: Int64 = 0

    /// Opens the archive at `path`.
    /// - Parameters:
    ///   - chunkSize: The largest chunk ``nextChunk()`` returns, and the size of the one buffer the reader keeps.
    public convenience init(path: String, limits: Limits = Limits(), chunkSize: Int = 64 << 10) throws(ArchiveError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .io("Cannot open archive '\(path)': \(LibArchive.posixMessage(errno)).")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw .io("Cannot open archive '\(path)': not a regular file.")
        }
        let archive = try Self.makeArchive(name: path)
        let opened = LibArchive.withUTF8Locale { archive_read_open_filename(archive, path, 64 << 10) }
        guard opened == ARCHIVE_OK else {
            let error = Self.openFailure(archive, name: path, source: nil)
            archive_read_free(archive)
            throw error
        }
        self.init(archive: archive, source: nil, name: path, limits: limits, chunkSize: chunkSize)
    }

    /// Reads an archive from `read`, which fills the buffer it is given and returns the count, `0` at the end.
    ///
    /// The source is read strictly forward, so zip archives are read from their local headers (libarchive's
    /// streaming zip reader) rather than their central directory. An error `read` throws ends reading with
    /// ``ArchiveError/Code/io`` and the error as ``ArchiveError/underlying``.
    /// - Parameters:
    ///   - name: The archive's name in messages.
    public convenience init(
        name: String, limits: Limits = Limits(), chunkSize: Int = 64 << 10,
        read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws(ArchiveError) {
        let source = ReadSource(read: read)
        let archive = try Self.makeArchive(name: name)
        let opened = LibArchive.withUTF8Locale {
            archive_read_open(archive, Unmanaged.passUnretained(source).toOpaque(), nil, readSourceCallback, nil)
        }
        guard opened == ARCHIVE_OK else {
            let error = Self.openFailure(archive, name: name, source: source)
            archive_read_free(archive)
            throw error
        }
        self.init(archive: archive, source: source, name: name, limits: limits, chunkSize: chunkSize)
    }

    private init(archive: OpaquePointer, source: ReadSource?, name: String, limits: Limits, chunkSize: Int) {
        self.archive = archive
        self.source = source
        self.name = name
        self.limits = limits
        self.buffer = .allocate(byteCount: max(chunkSize, NestedArchive.prefixLength), alignment: 16)
    }

    deinit {
        // Frees libarchive's state before `source`, which its callbacks point at, is released.
        archive_read_free(archive)
        buffer.deallocate()
    }

    /// The next entry's header, or `nil` after the last one.
    ///
    /// Any unread bytes of the previous entry are read and discarded first (they still count against the limits).
    public func nextEntry() throws(ArchiveError) -> ArchiveEntry? {
        try LibArchive.withUTF8Locale { () throws(ArchiveError) -> ArchiveEntry? in
            switch phase {
            case .failed(let error): throw error
            case .finished: return nil
            case .data(let readable): try drain(readable: readable)
            case .header: break
            }
            return try readHeader()
        }
    }

    /// The current entry's next chunk of bytes (at most `chunkSize`), or `nil` at its end.
    ///
    /// Returns `nil` at once for anything but a file that was not skipped.
    public func nextChunk() throws(ArchiveError) -> [UInt8]? {
        try LibArchive.withUTF8Locale { () throws(ArchiveError) -> [UInt8]? in
            switch phase {
            case .failed(let error): throw error
            case .data(readable: true): break
            case .data(readable: false), .header, .finished: return nil
            }
            if let chunk = pending {
                pending = nil
                return chunk
            }
            return try readBlock()
        }
    }

    /// All of the current entry's remaining bytes, at most ``Limits/maximumEntrySize`` of them.
    public func readAll() throws(ArchiveError) -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = try nextChunk() { bytes += chunk }
        return bytes
    }

    // MARK: - Headers

    private func readHeader() throws(ArchiveError) -> ArchiveEntry? {
        var entryPointer: OpaquePointer?
        var status = ARCHIVE_RETRY
        // ARCHIVE_RETRY means "try again": bounded, since a damaged archive could keep saying it.
        for _ in 0..<8 {
            status = archive_read_next_header(archive, &entryPointer)
            if status != ARCHIVE_RETRY { break }
        }
        switch status {
        case ARCHIVE_EOF:
            phase = .finished
            return nil
        case ARCHIVE_OK, ARCHIVE_WARN:
            break
        default:
            throw fail(readFailure(while: "reading the header after entry \(entryCount)"))
        }
        guard let entryPointer else {
            throw fail(.corrupt(archive: name, detail: "libarchive returned no entry after entry \(entryCount)"))
        }
        entryCount += 1
        if entryCount > limits.maximumEntries {
            throw fail(.tooManyEntries(archive: name, limit: limits.maximumEntries))
        }
        let warning = status == ARCHIVE_WARN ? LibArchive.errorString(archive, fallback: "unknown warning") : nil
        var entry = describe(entryPointer, warning: warning)
        currentPath = entry.path
        currentBytes = 0
        if let size = entry.size {
            if size > limits.maximumEntrySize {
                throw fail(.entryTooLarge(archive: name, entry: entry.path, limit: limits.maximumEntrySize))
            }
            let (total, overflow) = uncompressedBytes.addingReportingOverflow(size)
            if overflow || total > limits.maximumTotalSize {
                throw fail(.totalTooLarge(archive: name, limit: limits.maximumTotalSize))
            }
        }
        if entry.skipReason?.code == .encrypted {
            // Its bytes cannot be decrypted, so they cannot be read through either: skip them unread.
            guard archive_read_data_skip(archive) == ARCHIVE_OK else {
                throw fail(readFailure(while: "skipping encrypted entry '\(entry.path)'"))
            }
            phase = .header
            return entry
        }
        guard entry.kind == .file, entry.skipReason == nil else {
            phase = .data(readable: false)
            return entry
        }
        phase = .data(readable: true)
        // Read ahead one chunk: an entry is a nested archive if its name says so *or* its first bytes do.
        guard let first = try readBlock() else { return entry }  // empty file; phase is back to .header
        if !NestedArchive.isZipDocument(entry.path), let format = NestedArchive.format(ofPrefix: first) {
            entry.skipReason = .init(
                code: .nestedArchive,
                message: "'\(entry.path)' starts like a \(format) archive; nested archives are not opened")
            phase = .data(readable: false)
        } else {
            pending = first
        }
        return entry
    }

    /// An ``ArchiveEntry`` for libarchive's header, with the defences applied.
    private func describe(_ entry: OpaquePointer, warning: String?) -> ArchiveEntry {
        // The multibyte form holds the stored bytes even when they are not valid in any charset; the UTF-8 form
        // is the only one libarchive fills for some names. One of them is set for any real entry.
        let cPath = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry)
        let rawPath = cPath.map(LibArchive.bytes) ?? []
        let (decoded, isLossy) = LibArchive.decodeLossily(rawPath)

        let kind: ArchiveEntry.Kind
        var linkTarget: String?
        if let target = archive_entry_hardlink(entry) ?? archive_entry_hardlink_utf8(entry) {
            kind = .hardlink
            linkTarget = LibArchive.decodeLossily(target).string
        } else {
            switch archive_entry_filetype(entry) & FileType.mask {
            case FileType.regular: kind = .file
            case FileType.directory: kind = .directory
            case FileType.symlink:
                kind = .symlink
                linkTarget = (archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry))
                    .map { LibArchive.decodeLossily($0).string }
            default: kind = .other
            }
        }

        var modificationDate: Date?
        if archive_entry_mtime_is_set(entry) != 0 {
            let seconds = Double(archive_entry_mtime(entry))
            let nanoseconds = Double(archive_entry_mtime_nsec(entry))
            modificationDate = Date(timeIntervalSince1970: seconds + nanoseconds / 1_000_000_000)
        }

        var result = ArchiveEntry(
            path: decoded, rawPath: rawPath, pathIsLossy: isLossy, kind: kind,
            size: archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil,
            modificationDate: modificationDate,
            permissions: UInt32(archive_entry_perm(entry)) & 0o7777,
            linkTarget: linkTarget, skipReason: nil, warning: warning)

        switch EntryPath.check(decoded) {
        case .empty:
            result.skipReason = .init(
                code: .invalidPath,
                message: cPath == nil ? "an entry's name could not be decoded" : "an entry has an empty name")
            return result
        case .absolute:
            result.skipReason = .init(code: .absolutePath, message: "'\(decoded)' is an absolute path")
            return result
        case .traversal:
            result.skipReason = .init(code: .pathTraversal, message: "'\(decoded)' has a '..' component")
            return result
        case .relative(let normalised):
            if normalised.isEmpty, kind != .directory {
                result.skipReason = .init(code: .invalidPath, message: "'\(decoded)' names no file")
                return result
            }
            result.path = normalised.isEmpty ? "." : normalised
        }

        switch kind {
        case .symlink, .hardlink:
            let target = linkTarget ?? "?"
            result.skipReason = .init(
                code: .link,
                message: "'\(result.path)' is a \(kind == .symlink ? "symbolic" : "hard") link to "
                    + "'\(target)'; links are not followed")
        case .other:
            result.skipReason = .init(
                code: .specialFile, message: "'\(result.path)' is a device, FIFO, socket or unknown type")
        case .file where archive_entry_is_encrypted(entry) != 0:
            result.skipReason = .init(code: .encrypted, message: "'\(result.path)' is encrypted")
        case .file:
            if let format = NestedArchive.format(ofPath: result.path), !NestedArchive.isZipDocument(result.path) {
                result.skipReason = .init(
                    code: .nestedArchive,
                    message: "'\(result.path)' is named like a \(format) archive; nested archives are not opened")
            }
        case .directory:
            break
        }
        return result
    }

    // MARK: - Data

    /// The current entry's next block, counted against the limits, or `nil` at its end.
    private func readBlock() throws(ArchiveError) -> [UInt8]? {
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if count == 0 {
            phase = .header
            return nil
        }
        guard count > 0 else {
            throw fail(readFailure(while: "reading entry '\(currentPath)'"))
        }
        try account(Int64(count))
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// Reads and discards the rest of the current entry.
    private func drain(readable: Bool) throws(ArchiveError) {
        pending = nil
        while true {
            let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count > 0 {
                try account(Int64(count))
                continue
            }
            // A skipped entry libarchive cannot decode (an unsupported zip method, say) is no reason to reject
            // the archive: step over its compressed bytes instead.
            if !readable, count == ARCHIVE_FAILED || count == ARCHIVE_WARN,
                archive_read_data_skip(archive) == ARCHIVE_OK
            {
                break
            }
            throw fail(readFailure(while: "reading entry '\(currentPath)'"))
        }
        phase = .header
    }

    /// Counts `count` new bytes of the current entry and enforces the limits.
    private func account(_ count: Int64) throws(ArchiveError) {
        currentBytes += count
        uncompressedBytes += count
        if currentBytes > limits.maximumEntrySize {
            throw fail(.entryTooLarge(archive: name, entry: currentPath, limit: limits.maximumEntrySize))
        }
        if uncompressedBytes > limits.maximumTotalSize {
            throw fail(.totalTooLarge(archive: name, limit: limits.maximumTotalSize))
        }
        if uncompressedBytes > limits.compressionRatioThreshold {
            let compressed = max(archive_filter_bytes(archive, -1), 1)
            let (allowed, overflow) = compressed.multipliedReportingOverflow(by: limits.maximumCompressionRatio)
            if !overflow, uncompressedBytes > allowed {
                throw fail(
                    .compressionRatio(
                        archive: name, uncompressed: uncompressedBytes, compressed: compressed,
                        limit: limits.maximumCompressionRatio))
            }
        }
    }

    // MARK: - Errors

    /// Records `error` so every later call throws it, and returns it.
    private func fail(_ error: ArchiveError) -> ArchiveError {
        phase = .failed(error)
        pending = nil
        return error
    }

    /// The error for a failed libarchive call: the source's own error if it threw, else libarchive's message.
    private func readFailure(while doing: String, file: String = #fileID, line: Int = #line) -> ArchiveError {
        if let underlying = source?.error {
            return .io(
                "Reading archive '\(name)' failed while \(doing): \(underlying)", underlying: underlying,
                file: file, line: line)
        }
        let detail = LibArchive.errorString(archive, fallback: "unknown error")
        return .corrupt(archive: name, detail: "\(detail) (while \(doing))", file: file, line: line)
    }

    private static func openFailure(_ archive: OpaquePointer, name: String, source: ReadSource?) -> ArchiveError {
        if let underlying = source?.error {
            return .io("Reading archive '\(name)' failed: \(underlying)", underlying: underlying)
        }
        let detail = LibArchive.errorString(archive, fallback: "unknown error")
        switch archive_errno(archive) {
        case ENOENT, EACCES, EPERM, EISDIR, ENOTDIR, EMFILE, ENFILE, EIO, ELOOP, ENAMETOOLONG:
            return .io("Cannot open archive '\(name)': \(detail).")
        default:
            return .corrupt(archive: name, detail: detail)
        }
    }

    /// A libarchive reader with only the formats and filters we accept.
    private static func makeArchive(name: String) throws(ArchiveError) -> OpaquePointer {
        guard let archive = archive_read_new() else {
            throw .io("libarchive could not allocate a reader for '\(name)' (out of memory).")
        }
        // ARCHIVE_WARN from a filter means libarchive was built without it and would run an external program:
        // refuse rather than execute anything on behalf of an archive.
        let statuses = [
            archive_read_support_format_tar(archive),
            archive_read_support_format_zip(archive),
            archive_read_support_filter_none(archive),
            archive_read_support_filter_gzip(archive),
            archive_read_support_filter_bzip2(archive),
            archive_read_support_filter_xz(archive),
        ]
        guard statuses.allSatisfy({ $0 == ARCHIVE_OK }) else {
            let detail = LibArchive.errorString(archive, fallback: "a format or filter is missing")
            archive_read_free(archive)
            throw .io(
                "This libarchive lacks built-in tar, zip, gzip, bzip2 or xz support (\(detail)); install "
                    + "Debian's libarchive13 (libarchive-dev).")
        }
        return archive
    }
}

/// libarchive's file type bits (`AE_IFMT` and friends, which Swift does not import as they are casts).
enum FileType {
    static let mask: UInt32 = 0o170000
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000
}

/// The caller's byte source and the buffer libarchive reads from, kept alive by the reader.
final class ReadSource {
    let read: (UnsafeMutableRawBufferPointer) throws -> Int
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// What `read` threw, or why its answer was refused.
    var error: (any Error)?

    init(read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.read = read
    }

    deinit { buffer.deallocate() }
}

/// The error a source gets for returning a count outside its buffer.
struct InvalidReadCount: Error, CustomStringConvertible {
    var count: Int
    var capacity: Int
    var description: String { "the source returned \(count) for a buffer of \(capacity) bytes" }
}

/// libarchive's read callback: asks the ``ReadSource`` for the next block.
private func readSourceCallback(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ block: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let block else { return la_ssize_t(ARCHIVE_FATAL) }
    let source = Unmanaged<ReadSource>.fromOpaque(context).takeUnretainedValue()
    do {
        let count = try source.read(source.buffer)
        guard count >= 0, count <= source.buffer.count else {
            source.error = InvalidReadCount(count: count, capacity: source.buffer.count)
            return la_ssize_t(ARCHIVE_FATAL)
        }
        block.pointee = UnsafeRawPointer(source.buffer.baseAddress)
        return la_ssize_t(count)
    } catch {
        source.error = error
        return la_ssize_t(ARCHIVE_FATAL)
    }
}
