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

/// Writes a gzip-compressed tar archive (pax format), streaming, to a file or to a sink closure.
///
/// ```swift
/// let writer = try ArchiveWriter(path: "tables.tar.gz")
/// try writer.beginFile(at: "chunks.copy", size: size, modificationDate: date)
/// for chunk in chunks { try writer.write(chunk) }
/// try writer.finish()
/// ```
///
/// Memory stays flat whatever the archive's size: libarchive holds one output block and zlib's window, and each
/// block goes to the file or the sink as soon as it is full. Each entry's size must be known before its bytes,
/// as tar stores it in the header; writing fewer or more bytes than declared is an error, never silent padding.
///
/// The type is synchronous and not `Sendable`, like ``ArchiveReader``: run it in one blocking context. If it is
/// abandoned or any call fails, the archive is left without its end (no tar trailer, no gzip trailer), so no
/// reader takes a partial archive for a complete one.
public final class ArchiveWriter {
    /// How the archive is compressed.
    public struct Configuration: Sendable, Hashable {
        /// gzip level, 1 (fastest) to 9 (smallest). Defaults to 6, zlib's default; 1 is several times faster
        /// for about 10–20% larger output, worth it when compression, not the network, is the bottleneck.
        public var compressionLevel: Int = 6
        /// The size of the blocks handed to the file or sink (the last one may be shorter). Defaults to 64 KiB.
        public var blockSize: Int = 64 << 10

        /// The defaults above.
        public init() {}
    }

    /// Entries begun so far.
    public private(set) var entryCount = 0
    /// Entry bytes written so far, before compression.
    public private(set) var uncompressedBytes: Int64 = 0
    /// Compressed bytes handed to the file or sink so far.
    public var compressedBytes: Int64 { sink.bytesWritten }

    private enum State {
        case betweenEntries
        case inEntry(path: String, remaining: Int64)
        case finished
        case failed(ArchiveError)
    }

    private let archive: OpaquePointer
    private let entry: OpaquePointer
    private let sink: WriteSink
    private let file: OutputFile?
    private var state = State.betweenEntries

    /// Creates (or truncates) the file at `path` and writes the archive to it; ``finish()`` flushes it to disk.
    /// - Parameters:
    ///   - permissions: The new file's mode. Defaults to `0o600`: backups hold data only the appliance may read.
    public convenience init(
        path: String, permissions: UInt32 = 0o600, configuration: Configuration = Configuration()
    ) throws(ArchiveError) {
        let file = try OutputFile(path: path, permissions: permissions)
        try self.init(configuration: configuration, file: file) { bytes throws in try file.write(bytes) }
    }

    /// Writes the archive to `sink`, one block at a time (see ``Configuration/blockSize``).
    ///
    /// The buffer is only valid during the call: copy what you keep. An error `sink` throws fails the writer
    /// with ``ArchiveError/Code/io`` and the error as ``ArchiveError/underlying``.
    public convenience init(
        configuration: Configuration = Configuration(), sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws(ArchiveError) {
        try self.init(configuration: configuration, file: nil, sink: sink)
    }

    private init(
        configuration: Configuration, file: OutputFile?, sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws(ArchiveError) {
        guard (1...9).contains(configuration.compressionLevel) else {
            throw .misuse("The gzip compression level must be 1 to 9, not \(configuration.compressionLevel).")
        }
        guard configuration.blockSize > 0, configuration.blockSize <= Int(Int32.max) else {
            throw .misuse("The block size must be positive, not \(configuration.blockSize).")
        }
        guard let archive = archive_write_new() else {
            throw .io("libarchive could not allocate a writer (out of memory).")
        }
        guard let entry = archive_entry_new2(archive) else {
            archive_write_free(archive)
            throw .io("libarchive could not allocate an entry (out of memory).")
        }
        let writeSink = WriteSink(write: sink)
        let status = LibArchive.withUTF8Locale { () -> Int32 in
            // ARCHIVE_WARN from the gzip filter means it is not built in and an external gzip would run: refuse.
            let setup = [
                archive_write_set_format_pax_restricted(archive),
                archive_write_add_filter_gzip(archive),
                archive_write_set_filter_option(
                    archive, "gzip", "compression-level", "\(configuration.compressionLevel)"),
                archive_write_set_bytes_per_block(archive, Int32(configuration.blockSize)),
                // Through callbacks libarchive zero-pads the last block to the block size (a 3-byte file becomes
                // 10 KiB); gzip tolerates that, but stored objects should be exactly the compressed stream.
                archive_write_set_bytes_in_last_block(archive, 1),
            ]
            guard setup.allSatisfy({ $0 == ARCHIVE_OK }) else { return ARCHIVE_FATAL }
            return archive_write_open(
                archive, Unmanaged.passUnretained(writeSink).toOpaque(), nil, writeSinkCallback, nil)
        }
        guard status == ARCHIVE_OK else {
            let detail = LibArchive.errorString(archive, fallback: "setting up tar+gzip failed")
            let error: ArchiveError =
                if let underlying = writeSink.error {
                    .io("Writing the archive failed: \(underlying)", underlying: underlying)
                } else {
                    .io("libarchive could not start a tar.gz archive: \(detail). Install libarchive-dev.")
                }
            archive_write_fail(archive)
            archive_entry_free(entry)
            archive_write_free(archive)
            throw error
        }
        self.archive = archive
        self.entry = entry
        self.sink = writeSink
        self.file = file
    }

    deinit {
        if case .finished = state {
        } else {
            // Unfinished: free without writing the end of the archive (see the type's documentation).
            archive_write_fail(archive)
        }
        archive_entry_free(entry)
        archive_write_free(archive)
    }

    /// Starts a regular file of exactly `size` bytes, to be given with ``write(_:)-([UInt8])``.
    /// - Parameters:
    ///   - path: A relative path: no `..` component, no leading `/`; `./` and empty components are dropped.
    ///   - permissions: The file's mode bits. Defaults to `0o644`.
    ///   - modificationDate: Stored to the nanosecond where the format allows.
    public func beginFile(
        at path: String, size: Int64, permissions: UInt32 = 0o644, modificationDate: Date = .now
    ) throws(ArchiveError) {
        try LibArchive.withUTF8Locale { () throws(ArchiveError) in
            try endEntry()
            let normalised = try Self.validate(path: path)
            guard size >= 0 else { throw fail(.invalidEntry("Entry '\(path)' has a negative size (\(size)).")) }
            let (seconds, nanoseconds) = Self.timestamp(modificationDate)
            archive_entry_clear(entry)
            archive_entry_set_pathname_utf8(entry, normalised)
            archive_entry_set_filetype(entry, FileType.regular)
            archive_entry_set_perm(entry, mode_t(permissions & 0o7777))
            archive_entry_set_size(entry, size)
            archive_entry_set_mtime(entry, time_t(seconds), Int(nanoseconds))
            guard archive_write_header(archive, entry) == ARCHIVE_OK else {
                throw fail(writeFailure(while: "writing the header of '\(normalised)'"))
            }
            entryCount += 1
            state = .inEntry(path: normalised, remaining: size)
        }
    }

    /// Appends bytes to the current file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
        try LibArchive.withUTF8Locale { () throws(ArchiveError) in
            let (path, remaining) = try currentEntry()
            guard Int64(bytes.count) <= remaining else {
                throw fail(
                    .invalidEntry(
                        "Entry '\(path)' was given more bytes than the size declared in its header; the archive "
                            + "is abandoned."))
            }
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
            var offset = 0
            while offset < bytes.count {
                let written = archive_write_data(archive, base + offset, bytes.count - offset)
                guard written > 0 else { throw fail(writeFailure(while: "writing the data of '\(path)'")) }
                offset += written
            }
            uncompressedBytes += Int64(bytes.count)
            state = .inEntry(path: path, remaining: remaining - Int64(bytes.count))
        }
    }

    /// Appends bytes to the current file.
    public func write(_ bytes: [UInt8]) throws(ArchiveError) {
        // `withUnsafeBytes` rethrows untyped errors: carry ours out in a Result.
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(ArchiveError) in try write(buffer) } }
        try result.get()
    }

    /// Adds a whole file from `contents`: for small entries such as a manifest.
    public func addFile(
        at path: String, contents: [UInt8], permissions: UInt32 = 0o644, modificationDate: Date = .now
    ) throws(ArchiveError) {
        try beginFile(
            at: path, size: Int64(contents.count), permissions: permissions, modificationDate: modificationDate)
        try write(contents)
    }

    /// Ends the archive: writes the tar and gzip trailers, and for a file, flushes it to disk and closes it.
    ///
    /// Throws if the last file got fewer bytes than it declared. Nothing may be written after it.
    public func finish() throws(ArchiveError) {
        try LibArchive.withUTF8Locale { () throws(ArchiveError) in
            try endEntry()
            guard archive_write_close(archive) == ARCHIVE_OK else {
                throw fail(writeFailure(while: "closing the archive"))
            }
            if let file {
                do throws(ArchiveError) { try file.syncAndClose() } catch { throw fail(error) }
            }
            state = .finished
        }
    }

    // MARK: - Internals

    private func currentEntry() throws(ArchiveError) -> (path: String, remaining: Int64) {
        switch state {
        case .inEntry(let path, let remaining): return (path, remaining)
        case .failed(let error): throw error
        case .finished: throw .misuse("The archive is finished; nothing more can be written to it.")
        case .betweenEntries: throw .misuse("Call beginFile(at:size:) before writing bytes.")
        }
    }

    /// Checks that the current entry got all its bytes, so libarchive never pads it with zeros.
    private func endEntry() throws(ArchiveError) {
        switch state {
        case .betweenEntries: return
        case .failed(let error): throw error
        case .finished: throw .misuse("The archive is finished; nothing more can be written to it.")
        case .inEntry(let path, let remaining):
            guard remaining == 0 else {
                throw fail(
                    .invalidEntry(
                        "Entry '\(path)' got \(remaining) bytes fewer than the size declared in its header; the "
                            + "archive is abandoned."))
            }
            state = .betweenEntries
        }
    }

    private func fail(_ error: ArchiveError) -> ArchiveError {
        if case .failed = state {
        } else {
            archive_write_fail(archive)
            state = .failed(error)
        }
        return error
    }

    private func writeFailure(while doing: String, file: String = #fileID, line: Int = #line) -> ArchiveError {
        if let underlying = sink.error {
            if let error = underlying as? ArchiveError { return error }
            return .io(
                "Writing the archive failed while \(doing): \(underlying)", underlying: underlying, file: file,
                line: line)
        }
        let detail = LibArchive.errorString(archive, fallback: "unknown error")
        return .io("libarchive failed while \(doing): \(detail).", file: file, line: line)
    }

    /// The normalised form of a safe relative path, or an error naming what is wrong with it.
    private static func validate(path: String) throws(ArchiveError) -> String {
        guard !path.utf8.contains(0) else { throw .invalidEntry("Entry path '\(path)' contains a NUL byte.") }
        switch EntryPath.check(path) {
        case .relative(let normalised) where !normalised.isEmpty: return normalised
        case .relative, .empty: throw .invalidEntry("Entry path '\(path)' names no file.")
        case .absolute: throw .invalidEntry("Entry path '\(path)' is absolute; archive paths must be relative.")
        case .traversal: throw .invalidEntry("Entry path '\(path)' has a '..' component.")
        }
    }

    /// Whole seconds and nanoseconds since 1970 (floored, so times before 1970 keep a positive fraction),
    /// clamped to a range every tar reader accepts.
    private static func timestamp(_ date: Date) -> (seconds: Int64, nanoseconds: Int64) {
        let interval = date.timeIntervalSince1970
        guard interval.isFinite else { return (0, 0) }
        let clamped = min(max(interval, -8_589_934_592), 8_589_934_591)  // ±2^33 s: pax and GNU both take it
        let seconds = clamped.rounded(.down)
        let nanoseconds = min(max(((clamped - seconds) * 1_000_000_000).rounded(), 0), 999_999_999)
        return (Int64(seconds), Int64(nanoseconds))
    }
}

/// The caller's sink, kept alive by the writer for libarchive's write callback.
final class WriteSink {
    let write: (UnsafeRawBufferPointer) throws -> Void
    var bytesWritten: Int64 = 0
    /// What `write` threw.
    var error: (any Error)?

    init(write: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.write = write
    }
}

/// libarchive's write callback: hands a block to the ``WriteSink``.
private func writeSinkCallback(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ block: UnsafeRawPointer?, _ length: Int
) -> la_ssize_t {
    guard let context else { return la_ssize_t(ARCHIVE_FATAL) }
    let sink = Unmanaged<WriteSink>.fromOpaque(context).takeUnretainedValue()
    do {
        try sink.write(UnsafeRawBufferPointer(start: block, count: block == nil ? 0 : length))
        sink.bytesWritten += Int64(length)
        return la_ssize_t(length)
    } catch {
        sink.error = error
        return la_ssize_t(ARCHIVE_FATAL)
    }
}

/// A file the writer owns: written fully (retrying short writes and EINTR), synced on finish, closed once.
final class OutputFile {
    let path: String
    private var descriptor: Int32

    init(path: String, permissions: UInt32) throws(ArchiveError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(permissions & 0o7777))
        guard descriptor >= 0 else {
            throw .io("Cannot create archive '\(path)': \(LibArchive.posixMessage(errno)).")
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            #if canImport(Darwin)
                let written = Darwin.write(descriptor, base + offset, bytes.count - offset)
            #elseif canImport(Musl)
                let written = Musl.write(descriptor, base + offset, bytes.count - offset)
            #else
                let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            #endif
            if written < 0 {
                if errno == EINTR { continue }
                throw .io("Cannot write archive '\(path)': \(LibArchive.posixMessage(errno)).")
            }
            offset += written
        }
    }

    func syncAndClose() throws(ArchiveError) {
        guard descriptor >= 0 else { return }
        let fd = descriptor
        descriptor = -1
        if fsync(fd) != 0 {
            let message = LibArchive.posixMessage(errno)
            close(fd)
            throw .io("Cannot flush archive '\(path)' to disk: \(message).")
        }
        if close(fd) != 0 {
            throw .io("Cannot close archive '\(path)': \(LibArchive.posixMessage(errno)).")
        }
    }
}
