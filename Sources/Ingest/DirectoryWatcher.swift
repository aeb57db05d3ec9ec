import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Follows a directory tree with inotify and reports the paths that changed, debounced: a set of paths is reported
/// once nothing has changed for ``Configuration/quiet``.
///
/// Every directory under the root is watched (hidden ones, as the walker skips them, are not); a directory created
/// or moved in is watched as it appears and reported itself, so that files written into it before its watch existed
/// are found by walking it. A path is reported when it is created, written, moved or deleted; an overflow of the
/// kernel's queue reports the root (everything is looked at again).
///
/// The blocking reads run on a dedicated thread, never on Swift concurrency's threads; the thread ends when the
/// stream's consumer stops iterating (or is cancelled).
public struct DirectoryWatcher: Sendable {
    /// Debounce and polling.
    public struct Configuration: Sendable {
        /// Quiet time after the last change before the changed paths are reported. Defaults to 500 ms.
        public var quiet: Duration = .milliseconds(500)
        /// The defaults.
        public init() {}
    }

    /// The directory followed (absolute, standardised).
    public let root: String
    /// Debounce settings.
    public let configuration: Configuration

    /// A watcher of `root`, which must be a directory; nothing is watched until ``changes()`` is iterated.
    public init(root: String, configuration: Configuration = .init()) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.configuration = configuration
    }

    /// Sets of changed paths (absolute), each reported after a quiet period. Throws at once when inotify cannot be
    /// set up (the limit of instances reached, the root unreadable).
    public func changes() throws -> AsyncStream<Set<String>> {
        let descriptor = inotify_init1(Int32(Self.closeOnExec | Self.nonBlocking))
        guard descriptor >= 0 else {
            throw IngestWatchError(message: "inotify_init1 failed (errno \(errno)); raise fs.inotify.max_user_instances.")
        }
        let state = WatchState(descriptor: descriptor, root: root)
        guard state.addTree(root) else {
            close(descriptor)
            throw IngestWatchError(message: "Cannot watch \(root) (errno \(errno)); is it a readable directory?")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Set<String>.self, bufferingPolicy: .unbounded)
        let stop = StopFlag()
        continuation.onTermination = { _ in stop.value.store(true, ordering: .releasing) }
        let quietMilliseconds = max(1, Int(configuration.quiet.components.seconds) * 1000
            + Int(configuration.quiet.components.attoseconds / 1_000_000_000_000_000))
        let thread = Thread {
            state.run(quietMilliseconds: quietMilliseconds, stop: stop) { continuation.yield($0) }
            close(descriptor)
            continuation.finish()
        }
        thread.name = "unity-ai.watch"
        thread.start()
        return stream
    }

    // inotify's flags, spelled out (the C header's macros do not all import).
    static let closeOnExec: UInt32 = 0o2_000_000
    static let nonBlocking: UInt32 = 0o4000
    static let modify: UInt32 = 0x2
    static let closeWrite: UInt32 = 0x8
    static let movedFrom: UInt32 = 0x40
    static let movedTo: UInt32 = 0x80
    static let create: UInt32 = 0x100
    static let delete: UInt32 = 0x200
    static let deleteSelf: UInt32 = 0x400
    static let queueOverflow: UInt32 = 0x4000
    static let ignored: UInt32 = 0x8000
    static let onlyDirectory: UInt32 = 0x100_0000
    static let doNotFollow: UInt32 = 0x200_0000
    static let isDirectory: UInt32 = 0x4000_0000
    static let watchMask: UInt32 =
        modify | closeWrite | movedFrom | movedTo | create | delete | deleteSelf | onlyDirectory | doNotFollow
}

/// Why watching could not start.
public struct IngestWatchError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public var message: String
    /// The message.
    public var description: String { message }
}

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// The watch descriptors and the paths they stand for; used only by the watch thread after setup.
private final class WatchState: @unchecked Sendable {
    let descriptor: Int32
    let root: String
    var paths: [Int32: String] = [:]

    init(descriptor: Int32, root: String) {
        self.descriptor = descriptor
        self.root = root
    }

    /// Watches `directory` and every directory under it (not hidden ones, not links); false if `directory`
    /// itself cannot be watched.
    @discardableResult
    func addTree(_ directory: String) -> Bool {
        let watch = inotify_add_watch(descriptor, directory, DirectoryWatcher.watchMask)
        guard watch >= 0 else { return false }
        paths[watch] = directory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where !name.hasPrefix(".") {
            let path = directory + "/" + name
            var status = stat()
            if lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR { addTree(path) }
        }
        return true
    }

    /// Stops watching `directory` and what is under it (it was moved away).
    func removeTree(_ directory: String) {
        for (watch, path) in paths where path == directory || path.hasPrefix(directory + "/") {
            inotify_rm_watch(descriptor, watch)
            paths[watch] = nil
        }
    }

    func run(quietMilliseconds: Int, stop: StopFlag, report: (Set<String>) -> Void) {
        var changed: Set<String> = []
        var lastChange = ContinuousClock.now
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stop.value.load(ordering: .acquiring) {
            let quiet = Duration.milliseconds(quietMilliseconds)
            var timeout: Int32 = 200
            if !changed.isEmpty {
                let waited = ContinuousClock.now - lastChange
                if waited >= quiet {
                    report(changed)
                    changed.removeAll()
                    continue
                }
                let left = (quiet - waited).components
                let milliseconds = Int(left.seconds) * 1000 + Int(left.attoseconds / 1_000_000_000_000_000) + 1
                timeout = Int32(clamping: min(200, max(1, milliseconds)))
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, timeout)
            guard ready > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            lastChange = .now
            buffer.withUnsafeBytes { bytes in parse(bytes.prefix(count), into: &changed) }
        }
    }

    /// Reads the events in `bytes` (`struct inotify_event`: wd, mask, cookie, len, then a NUL-padded name).
    private func parse(_ bytes: UnsafeRawBufferPointer.SubSequence, into changed: inout Set<String>) {
        let header = 16
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            let base = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + header)])
            let watch = base.loadUnaligned(fromByteOffset: 0, as: Int32.self)
            let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let length = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            let nameStart = offset + header
            guard length <= bytes.endIndex - nameStart else { return }
            let nameBytes = bytes[nameStart..<(nameStart + length)].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            offset = nameStart + length
            handle(watch: watch, mask: mask, name: name, changed: &changed)
        }
    }

    private func handle(watch: Int32, mask: UInt32, name: String, changed: inout Set<String>) {
        if mask & DirectoryWatcher.queueOverflow != 0 {
            changed.insert(root)
            return
        }
        if mask & DirectoryWatcher.ignored != 0 {
            paths[watch] = nil
            return
        }
        guard let directory = paths[watch] else { return }
        if mask & DirectoryWatcher.deleteSelf != 0 {
            changed.insert(directory)
            return
        }
        guard !name.isEmpty, !name.hasPrefix(".") else { return }
        let path = directory + "/" + name
        if mask & DirectoryWatcher.isDirectory != 0 {
            if mask & (DirectoryWatcher.create | DirectoryWatcher.movedTo) != 0 { addTree(path) }
            if mask & (DirectoryWatcher.movedFrom | DirectoryWatcher.delete) != 0 { removeTree(path) }
        }
        changed.insert(path)
    }
}
