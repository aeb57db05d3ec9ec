import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX calls the models-directory scan and the orphan remover need, with symbolic links never followed.
///
/// `FileManager` follows symbolic links when it reads attributes or contents, and it does not report allocated blocks;
/// both matter here. A link inside the models directory must not lead the scan (or a removal) somewhere else, and
/// Ollama preallocates partial downloads as sparse files whose apparent size is the whole blob.
enum FileSystem {
    /// What `lstat` says about a path; a symbolic link is described, not followed.
    struct Status: Sendable, Hashable {
        enum Kind: Sendable, Hashable { case regular, directory, symbolicLink, other }
        var kind: Kind
        /// The apparent size (`st_size`).
        var size: Int64
        /// The bytes the file occupies on disk (`st_blocks` × 512); less than `size` for a sparse file.
        var allocatedBytes: Int64
        var modified: Date
    }

    /// A failed system call and its `errno`.
    struct Failure: Error, Sendable, CustomStringConvertible {
        var code: Int32
        var isNotFound: Bool { code == ENOENT || code == ENOTDIR }
        var isPermissionDenied: Bool { code == EACCES || code == EPERM }
        var description: String { String(cString: strerror(code)) }
    }

    /// The status of `path` itself; nil when nothing is there.
    static func status(_ path: String) throws(Failure) -> Status? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let failure = Failure(code: errno)
            if failure.isNotFound { return nil }
            throw failure
        }
        return status(info)
    }

    /// The canonical absolute path of `path`, with every symbolic link resolved.
    static func realPath(_ path: String) throws(Failure) -> String {
        guard let resolved = realpath(path, nil) else { throw Failure(code: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The target a symbolic link holds, unresolved.
    static func linkTarget(_ path: String) throws(Failure) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw Failure(code: errno) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory, sorted by their bytes as Go's `filepath.Glob` returns them, without `.` and `..`.
    static func entries(of directory: String) throws(Failure) -> [String] {
        guard let stream = opendir(directory) else { throw Failure(code: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The outcome of reading a file with a size limit.
    enum Contents: Sendable {
        case bytes([UInt8], Status)
        case tooLarge(Status)
        case notARegularFile(Status)
    }

    /// Reads a regular file of at most `limit` bytes without following a symbolic link at `path`.
    ///
    /// The file is opened with `O_NOFOLLOW` and checked with `fstat` on the open descriptor, so a link swapped in
    /// between a directory listing and the read is refused rather than followed.
    static func readFile(_ path: String, limit: Int) throws(Failure) -> Contents {
        // `O_NONBLOCK`: a FIFO swapped in for a manifest must not hang the scan.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(code: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Failure(code: errno) }
        let fileStatus = status(info)
        guard fileStatus.kind == .regular else { return .notARegularFile(fileStatus) }
        guard fileStatus.size <= Int64(limit) else { return .tooLarge(fileStatus) }

        // Read until end of file rather than trusting `st_size`: the file may have grown since `fstat`.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(fileStatus.size) + 1)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= limit {
            let count = chunk.withUnsafeMutableBytes { buffer in read(descriptor, buffer.baseAddress, buffer.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(code: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        guard bytes.count <= limit else { return .tooLarge(fileStatus) }
        return .bytes(bytes, fileStatus)
    }

    /// Removes a file or symbolic link (never a directory, and never what a link points to).
    static func unlinkFile(_ path: String) throws(Failure) {
        guard unlink(path) == 0 else { throw Failure(code: errno) }
    }

    private static func status(_ info: stat) -> Status {
        let kind: Status.Kind =
            switch info.st_mode & S_IFMT {
            case S_IFREG: .regular
            case S_IFDIR: .directory
            case S_IFLNK: .symbolicLink
            default: .other
            }
        #if canImport(Darwin)
            let modified = info.st_mtimespec
        #else
            let modified = info.st_mtim
        #endif
        return Status(
            kind: kind,
            size: Int64(info.st_size),
            allocatedBytes: Int64(info.st_blocks) * 512,
            modified: Date(
                timeIntervalSince1970: TimeInterval(modified.tv_sec) + TimeInterval(modified.tv_nsec) / 1_000_000_000))
    }
}

extension String {
    /// `self` and `component` joined by one `/`.
    func appendingPathComponent(_ component: String) -> String {
        hasSuffix("/") ? self + component : self + "/" + component
    }
}
