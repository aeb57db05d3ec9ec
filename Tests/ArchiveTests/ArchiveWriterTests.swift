import Archive
import Crypto
import Foundation
import Testing

@Suite struct ArchiveWriterTests {
    @Test func roundTripKeepsBytesNamesModesAndTimesWithFlatMemory() throws {
        let fixture = try Fixture()
        let before = peakResidentMemory()
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let files: [(path: String, size: Int, permissions: UInt32)] = [
            ("manifest.json", 120, 0o644),
            ("tables/chunks.copy", 1 << 20, 0o600),
            ("naïve/ünïcode.md", 10, 0o640),
            ("empty.txt", 0, 0o644),
            ("models/big.bin", 50_000_000, 0o644),
        ]
        var expected: [String: String] = [:]
        let writer = try ArchiveWriter(path: fixture.path("backup.tar.gz"))
        var random = PseudoRandomBytes(seed: 42)
        for file in files {
            try writer.beginFile(
                at: file.path, size: Int64(file.size), permissions: file.permissions, modificationDate: date)
            var hasher = SHA256()
            var remaining = file.size
            while remaining > 0 {
                let chunk = random.next(min(remaining, 1 << 16))
                hasher.update(data: chunk)
                try writer.write(chunk)
                remaining -= chunk.count
            }
            expected[file.path] = hex(hasher.finalize())
        }
        try writer.finish()
        #expect(writer.entryCount == files.count)
        #expect(writer.uncompressedBytes == Int64(files.map(\.size).reduce(0, +)))
        let afterWrite = peakResidentMemory()

        // The backup restore path reads its own archives with the limits lifted.
        let reader = try ArchiveReader(path: fixture.path("backup.tar.gz"), limits: .unlimited)
        var seen: [String] = []
        while let entry = try reader.nextEntry() {
            seen.append(entry.path)
            #expect(!entry.isSkipped, "\(entry.path)")
            #expect(!entry.pathIsLossy)
            let file = try #require(files.first { $0.path == entry.path })
            #expect(entry.size == Int64(file.size))
            #expect(entry.permissions == file.permissions)
            #expect(entry.modificationDate == date)
            var hasher = SHA256()
            var count = 0
            while let chunk = try reader.nextChunk() {
                hasher.update(data: chunk)
                count += chunk.count
            }
            #expect(count == file.size)
            #expect(hex(hasher.finalize()) == expected[entry.path], "\(entry.path)")
        }
        #expect(seen == files.map(\.path))
        print(
            "round trip of \(writer.uncompressedBytes) bytes → \(writer.compressedBytes) compressed: "
                + "VmHWM before \(before), after writing \(afterWrite), after reading \(peakResidentMemory())")
    }

    @Test func outputIsAValidTarGzForSystemTools() throws {
        let fixture = try Fixture()
        let writer = try ArchiveWriter(path: fixture.path("out.tar.gz"))
        try writer.addFile(
            at: "a.txt", contents: Array("alpha\n".utf8), modificationDate: Date(timeIntervalSince1970: 0))
        try writer.addFile(at: "./dir//b.txt", contents: Array("beta\n".utf8))
        try writer.finish()
        // gzip must accept the stream, and tar must list and extract both entries.
        try fixture.shell(
            """
            gzip -t out.tar.gz
            test "$(tar -tzf out.tar.gz | tr '\\n' ' ')" = "a.txt dir/b.txt "
            test "$(tar -xzOf out.tar.gz dir/b.txt)" = "beta"
            """)
    }

    @Test func sinkReceivesTheWholeArchiveInBlocks() throws {
        var output: [UInt8] = []
        var blocks = 0
        var configuration = ArchiveWriter.Configuration()
        configuration.compressionLevel = 1
        let writer = try ArchiveWriter(configuration: configuration) { block in
            #expect(block.count <= configuration.blockSize)
            output += block
            blocks += 1
        }
        var random = PseudoRandomBytes(seed: 1)
        let payload = random.next(500_000)
        try writer.addFile(at: "payload.bin", contents: payload)
        try writer.finish()
        #expect(Int64(output.count) == writer.compressedBytes)
        #expect(blocks > 1)

        var offset = 0
        let reader = try ArchiveReader(name: "sink.tar.gz") { buffer in
            let count = min(buffer.count, output.count - offset)
            buffer.copyBytes(from: output[offset..<(offset + count)])
            offset += count
            return count
        }
        let entries = try readEverything(reader)
        #expect(entries.map(\.entry.path) == ["payload.bin"])
        #expect(entries.first?.bytes == payload)
    }

    @Test func smallArchiveIsNotPaddedToABlock() throws {
        var output: [UInt8] = []
        let writer = try ArchiveWriter { block in output += block }
        try writer.addFile(at: "a.txt", contents: Array("abc".utf8))
        try writer.finish()
        // libarchive's default would pad this to 10,240 bytes of mostly zeros.
        #expect(output.count < 512)
        #expect(output.prefix(2) == [0x1F, 0x8B])
    }

    @Test func sinkErrorsFailTheWriterWithTheUnderlyingError() throws {
        struct UploadFailed: Error {}
        let writer = try ArchiveWriter { _ in throw UploadFailed() }
        var random = PseudoRandomBytes(seed: 3)
        try writer.beginFile(at: "x.bin", size: 1_000_000)
        let error = try #require(
            throws: ArchiveError.self,
            performing: {
                for _ in 0..<16 { try writer.write(random.next(62_500)) }
                try writer.finish()
            })
        #expect(error.code == .io)
        #expect(error.underlying is UploadFailed)
    }

    @Test(arguments: ["../escape.txt", "/etc/passwd", "", "a/../../b", "./", "C:\\x", "x\u{0}y"])
    func unsafePathsAreRefused(path: String) throws {
        let writer = try ArchiveWriter { _ in }
        #expect {
            try writer.beginFile(at: path, size: 0)
        } throws: { error in
            (error as? ArchiveError)?.code == .invalidEntry
        }
    }

    @Test func writingMoreOrFewerBytesThanDeclaredFails() throws {
        let more = try ArchiveWriter { _ in }
        try more.beginFile(at: "a", size: 3)
        #expect(throws: ArchiveError.self) { try more.write([1, 2, 3, 4]) }

        let fewer = try ArchiveWriter { _ in }
        try fewer.beginFile(at: "a", size: 3)
        try fewer.write([1, 2])
        let error = try #require(throws: ArchiveError.self) { try fewer.finish() }
        #expect(error.code == .invalidEntry)
        #expect(error.message.contains("1 bytes fewer"))
        // A failed writer stays failed.
        #expect(throws: ArchiveError.self) { try fewer.beginFile(at: "b", size: 0) }
    }

    @Test func callsAfterFinishAreMisuse() throws {
        let writer = try ArchiveWriter { _ in }
        try writer.finish()
        let error = try #require(throws: ArchiveError.self) { try writer.beginFile(at: "late.txt", size: 0) }
        #expect(error.code == .misuse)
    }

    @Test func anAbandonedArchiveIsNotMistakenForAComplete() throws {
        let fixture = try Fixture()
        do {
            let writer = try ArchiveWriter(path: fixture.path("partial.tar.gz"))
            try writer.addFile(at: "first.txt", contents: Array("complete entry".utf8))
            var random = PseudoRandomBytes(seed: 9)
            try writer.beginFile(at: "second.bin", size: 2_000_000)
            try writer.write(random.next(1_000_000))
            // The writer goes away here without finish(), as when a backup is interrupted.
        }
        let reader = try ArchiveReader(path: fixture.path("partial.tar.gz"), limits: .unlimited)
        #expect(readingError(reader)?.code == .corrupt)
    }

    @Test func outOfRangeSettingsAreRefused() {
        var configuration = ArchiveWriter.Configuration()
        configuration.compressionLevel = 0
        #expect(throws: ArchiveError.self) { try ArchiveWriter(configuration: configuration) { _ in } }
    }
}
