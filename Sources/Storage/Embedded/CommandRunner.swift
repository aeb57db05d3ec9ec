import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion, optionally as another (unprivileged) user, with a deadline.
struct CommandRunner: Sendable {
    struct Result: Sendable {
        var status: Int32
        var output: String
        var succeeded: Bool { status == 0 }
    }

    /// The user to run as, or `nil` for the current one. Uses `runuser`, so only root may set it.
    var user: String?

    /// Runs `executable` with `arguments`; gives up (and kills it) after `timeout`.
    ///
    /// Uses `posix_spawn` and polls `waitpid`, so it neither blocks a concurrency thread nor depends on
    /// `SIGCHLD` delivery; output goes to a temporary file, never a pipe, so a daemon the program leaves running
    /// (as `pg_ctl start` does) cannot hold the read open.
    func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> Result {
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] + arguments } ?? [executable] + arguments
        let outputPath = NSTemporaryDirectory() + "unity-ai-cmd-\(UUID().uuidString).log"
        defer { unlink(outputPath) }

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)

        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &fileActions, nil, &cArguments, environ)
        guard spawned == 0 else {
            throw StorageError(.serverStartFailed, "Cannot run \(argv[0]) (error \(spawned)).")
        }

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var status: Int32 = 0
        var exitStatus: Int32?
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid {
                // WIFEXITED / WEXITSTATUS, spelled out: the macros are not imported into Swift.
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                break
            }
            if waited < 0, errno != EINTR { break }
            if clock.now >= deadline {
                kill(pid, SIGTERM)
                try? await Task.sleep(for: .seconds(2))
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard let exitStatus else {
            return Result(status: -1, output: output + "\n(timed out after \(timeout))")
        }
        return Result(status: exitStatus, output: output)
    }
}

/// Information about this process's user.
enum ProcessIdentity {
    static var isRoot: Bool { geteuid() == 0 }

    /// The numeric user and group ids of `name`, if such a user exists.
    static func ids(ofUser name: String) -> (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam(name) else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// Whether a process with this id is alive.
    static func isAlive(pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
