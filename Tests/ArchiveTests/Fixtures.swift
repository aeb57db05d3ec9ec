import Archive
import Crypto
import Foundation
import Testing

/// Builds fixture archives in a fresh temporary directory with `tar`, `python3` (zipfile, tarfile) and
/// ``ArchiveWriter``. A missing tool fails the test with what to install; nothing is skipped.
struct Fixture: ~Copyable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("archive-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The absolute path of `name` inside the fixture directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a shell command in the fixture directory; fails with its output if it exits non-zero.
    func shell(_ command: String) throws {
        try run("/bin/sh", ["-c", command])
    }

    /// Runs a Python 3 script in the fixture directory.
    func python(_ script: String) throws {
        try run("/usr/bin/env", ["python3", "-c", script])
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(
                message: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text) "
                    + "(the archive tests need tar, gzip and python3 on PATH)")
        }
    }

    /// Rewrites `name` with `transform` applied to its bytes (small fixtures only).
    func modify(_ name: String, _ transform: (inout [UInt8]) -> Void) throws {
        let url = directory.appendingPathComponent(name)
        var bytes = [UInt8](try Data(contentsOf: url))
        transform(&bytes)
        try Data(bytes).write(to: url)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// An entry and, for readable files, its bytes.
struct ReadEntry {
    var entry: ArchiveEntry
    var bytes: [UInt8]?
    var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
}

/// Reads every entry of `reader`, collecting the bytes of readable files.
func readEverything(_ reader: ArchiveReader) throws(ArchiveError) -> [ReadEntry] {
    var entries: [ReadEntry] = []
    while let entry = try reader.nextEntry() {
        if entry.kind == .file, !entry.isSkipped {
            entries.append(ReadEntry(entry: entry, bytes: try reader.readAll()))
        } else {
            entries.append(ReadEntry(entry: entry, bytes: nil))
        }
    }
    return entries
}

/// Reads every entry of `reader` and returns the error that stopped it, failing the test if none did.
func readingError(_ reader: ArchiveReader, sourceLocation: SourceLocation = #_sourceLocation) -> ArchiveError? {
    do {
        _ = try readEverything(reader)
        Issue.record("Expected the archive to be rejected, but it was read to the end", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

extension Array where Element == ReadEntry {
    /// The entry whose ``ArchiveEntry/path`` is `path`.
    subscript(path path: String) -> ReadEntry? { first { $0.entry.path == path } }
}

/// Deterministic incompressible bytes (SplitMix64), produced a chunk at a time.
struct PseudoRandomBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for shift in stride(from: 0, to: 64, by: 8) where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: z >> UInt64(shift))
                index += 1
            }
        }
        return bytes
    }
}

/// The process's peak resident memory so far (`VmHWM` from /proc/self/status), for the test log.
func peakResidentMemory() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return "unknown" }
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
    return line.map { $0.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// The hex SHA-256 of a digest, for comparisons in messages.
func hex(_ digest: SHA256.Digest) -> String {
    digest.map { String(format: "%02x", $0) }.joined()
}
