import Crypto
import Foundation
import NIOPosix
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an embedded cluster keeps its files: `data/` (PGDATA), the socket directory, the server log, the lock and
/// the registry of processes using the server.
struct ClusterLayout: Sendable {
    var root: String
    var data: String { root + "/data" }
    var logFile: String { root + "/postgres.log" }
    var socketDirectory: String
    var socketPath: String { socketDirectory + "/.s.PGSQL.5432" }
    var clientsDirectory: String { root + "/clients" }
    var ownerFile: String { root + "/owner.pid" }

    /// Creates (or finds) the layout for `dataDirectory`, owned by `serverUser` when running as root.
    static func make(dataDirectory: String, serverUser: String?, runner: CommandRunner, logger: Logger) async throws
        -> ClusterLayout
    {
        var root = dataDirectory + "/postgres"
        let ids = serverUser.flatMap(ProcessIdentity.ids(ofUser:))
        if let serverUser, let ids {
            try createDirectory(root, owner: ids)
            let reachable = try await runner.run("/usr/bin/test", ["-w", root])
            if !reachable.succeeded {
                // An ancestor (say, a home directory only its owner may enter) shuts the server user out.
                let digest = SHA256.hash(data: Data(dataDirectory.utf8)).map { String(format: "%02x", $0) }.joined()
                let fallback = "/var/lib/unity-ai/clusters/" + digest.prefix(16)
                try FileManager.default.createDirectory(
                    atPath: "/var/lib/unity-ai/clusters", withIntermediateDirectories: true)
                try createDirectory(fallback, owner: ids)
                try? FileManager.default.removeItem(atPath: root)
                try? "\(fallback)\n".write(
                    toFile: dataDirectory + "/postgres-location", atomically: true, encoding: .utf8)
                logger.notice(
                    "The PostgreSQL user cannot reach the data directory; keeping the cluster elsewhere",
                    metadata: ["postgres.user": "\(serverUser)", "postgres.cluster": "\(fallback)"])
                root = fallback
            }
        } else {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(atPath: root + "/clients", withIntermediateDirectories: true)

        // Unix socket paths are limited to 107 bytes; a deep data directory gets its socket in /tmp.
        var socketDirectory = root + "/run"
        if (socketDirectory + "/.s.PGSQL.5432").utf8.count > 100 {
            let digest = SHA256.hash(data: Data(root.utf8)).map { String(format: "%02x", $0) }.joined()
            socketDirectory = "/tmp/unity-ai-" + digest.prefix(12)
        }
        try createDirectory(socketDirectory, owner: ids, mode: 0o700)
        return ClusterLayout(root: root, socketDirectory: socketDirectory)
    }

    private static func createDirectory(_ path: String, owner: (uid: uid_t, gid: gid_t)?, mode: Int = 0o755) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw StorageError(.serverStartFailed, "\(path) exists but is not a directory.")
        }
        if let owner {
            guard chown(path, owner.uid, owner.gid) == 0 else {
                throw StorageError(.serverStartFailed, "Cannot hand \(path) to the PostgreSQL user (chown failed).")
            }
        } else if status.st_uid != geteuid() {
            throw StorageError(.serverStartFailed, "\(path) belongs to another user; remove it or choose another data directory.")
        }
    }

    /// Whether a server runs for this cluster: its postmaster.pid names a live process and the socket exists.
    var isRunning: Bool {
        guard let contents = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8),
            let pid = contents.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) })
        else { return false }
        return ProcessIdentity.isAlive(pid: pid) && FileManager.default.fileExists(atPath: socketPath)
    }

    /// Makes postgresql.conf include the appliance's settings file, once, after initdb.
    func includeServerSettings() throws {
        let conf = data + "/postgresql.conf"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# Managed by unity-ai\ninclude_if_exists = 'unity-ai.conf'\n".utf8))
    }

    /// Writes the settings that depend on where the cluster lives; rewritten at every start.
    func writeServerSettings() throws {
        let quotedSocket = socketDirectory.replacingOccurrences(of: "'", with: "''")
        let settings = """
            # Written by unity-ai at each start; edits are overwritten.
            listen_addresses = ''
            unix_socket_directories = '\(quotedSocket)'
            unix_socket_permissions = 0700
            port = 5432

            """
        let path = data + "/unity-ai.conf"
        try settings.write(toFile: path, atomically: false, encoding: .utf8)
        var status = stat()
        if stat(data, &status) == 0 { _ = chown(path, status.st_uid, status.st_gid) }
    }

    /// The last lines of the server log, for error messages.
    func logTail(lines: Int = 20) -> String {
        guard let log = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "(no log written)" }
        return log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    func recordOwner() throws {
        try "\(getpid())\n".write(toFile: ownerFile, atomically: true, encoding: .utf8)
    }

    func clearOwner() {
        try? FileManager.default.removeItem(atPath: ownerFile)
    }

    func ownerIsGoneOrSelf() -> Bool {
        guard let contents = try? String(contentsOfFile: ownerFile, encoding: .utf8),
            let owner = Int32(contents.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            return false  // started by someone else (by hand, say): not ours to stop
        }
        return owner == getpid() || !ProcessIdentity.isAlive(pid: owner)
    }

    /// Records one use of the server, named `<pid>.<random>` so that one process may hold several.
    func registerClient() throws -> String {
        let entry = "\(getpid()).\(UUID().uuidString)"
        try "".write(toFile: clientsDirectory + "/" + entry, atomically: true, encoding: .utf8)
        return entry
    }

    func unregisterClient(_ entry: String) {
        try? FileManager.default.removeItem(atPath: clientsDirectory + "/" + entry)
    }

    /// The ids of live processes using the server; entries of dead processes are removed.
    func liveClients() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: clientsDirectory)) ?? []
        return entries.compactMap { entry in
            guard let pid = entry.split(separator: ".").first.flatMap({ Int32($0) }) else { return nil }
            if ProcessIdentity.isAlive(pid: pid) { return pid }
            try? FileManager.default.removeItem(atPath: clientsDirectory + "/" + entry)
            return nil
        }
    }
}

/// An exclusive advisory lock on a file (`flock`), released by ``unlock()`` or when the process exits.
final class FileLock: @unchecked Sendable {
    /// Waits for the lock on NIO's blocking-I/O thread pool: `flock` blocks its thread until another process lets
    /// go, and Swift concurrency's few threads (two on a 2-core machine) must never be the ones held.
    static func acquire(path: String) async throws -> FileLock {
        try await NIOThreadPool.singleton.runIfActive { try FileLock(path: path) }
    }

    private var descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StorageError(.serverStartFailed, "Cannot open the lock file \(path) (errno \(errno)).")
        }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(descriptor)
                throw StorageError(.serverStartFailed, "Cannot lock \(path) (errno \(errno)).")
            }
        }
    }

    func unlock() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
