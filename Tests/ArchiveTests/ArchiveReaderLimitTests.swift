import Archive
import Foundation
import Testing

/// Bombs and damage reject the whole archive with an error that names the cause.
@Suite struct ArchiveReaderLimitTests {
    @Test func gzipBombFromSystemTarIsRejectedByRatio() throws {
        let fixture = try Fixture()
        // 200 MiB of zeros in four entries, each under the 64 MiB entry limit so that only the ratio can catch
        // them: read from sparse files and compressed by gzip as a stream, ~200 KiB on disk.
        try fixture.shell(
            "for i in 1 2 3 4; do truncate -s 50M zeros$i.bin; done && tar -czf bomb.tar.gz zeros*.bin && rm zeros*.bin"
        )
        let reader = try ArchiveReader(path: fixture.path("bomb.tar.gz"))
        let error = try #require(readingError(reader))

        #expect(error.code == .compressionRatio)
        #expect(error.isLimit)
        #expect(error.message.contains("compression ratio"))
        #expect(error.message.contains("Limits.maximumCompressionRatio"))
        // Stopped early: within the first entry, long before 200 MiB.
        #expect(reader.uncompressedBytes < 50 << 20)
        #expect(reader.entryCount == 1)
        // Every later call reports the same rejection.
        #expect(throws: ArchiveError.self) { try reader.nextEntry() }
        print(
            "ratio bomb (tar.gz): stopped after \(reader.uncompressedBytes) bytes from "
                + "\(reader.compressedBytes) compressed; VmHWM \(peakResidentMemory())")
    }

    @Test func gzipBombFromArchiveWriterIsRejectedByRatio() throws {
        let fixture = try Fixture()
        let writer = try ArchiveWriter(path: fixture.path("bomb.tar.gz"))
        let zeros = [UInt8](repeating: 0, count: 64 << 10)
        for index in 0..<4 {
            try writer.beginFile(at: "zeros\(index).bin", size: 50 << 20)
            for _ in 0..<((50 << 20) / zeros.count) { try writer.write(zeros) }
        }
        try writer.finish()

        let reader = try ArchiveReader(path: fixture.path("bomb.tar.gz"))
        #expect(readingError(reader)?.code == .compressionRatio)
        print("ratio bomb (ArchiveWriter, \(writer.compressedBytes) bytes): VmHWM \(peakResidentMemory())")
    }

    @Test func zipBombIsRejectedByRatio() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import zipfile
            zeros = bytes(1 << 20)
            with zipfile.ZipFile('bomb.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('readme.md', 'looks innocent')
                for index in range(4):
                    with z.open(f'zeros{index}.bin', 'w') as f:
                        for _ in range(50):
                            f.write(zeros)
            """)
        let reader = try ArchiveReader(path: fixture.path("bomb.zip"))
        #expect(readingError(reader)?.code == .compressionRatio)
    }

    @Test func archiveLargerThanTheTotalLimitIsRejected() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, io, os
            with tarfile.open('total.tar.gz', 'w:gz') as t:
                for index in range(5):
                    info = tarfile.TarInfo(f'part{index}.bin'); info.size = 300_000
                    t.addfile(info, io.BytesIO(os.urandom(300_000)))
            """)
        var limits = ArchiveReader.Limits()
        limits.maximumTotalSize = 1 << 20
        let reader = try ArchiveReader(path: fixture.path("total.tar.gz"), limits: limits)
        let error = try #require(readingError(reader))
        #expect(error.code == .totalTooLarge)
        #expect(error.message.contains("Limits.maximumTotalSize"))
        #expect(reader.uncompressedBytes <= 1 << 20)
    }

    @Test func streamedBytesBeyondTheTotalLimitAreCaughtEvenWithoutDeclaredSizes() throws {
        let fixture = try Fixture()
        // A zip read from a stream: entries written with data descriptors declare no size up front.
        try fixture.python(
            """
            import zipfile, os
            with zipfile.ZipFile('streamed.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                for index in range(3):
                    with z.open(f'part{index}.bin', 'w') as f:
                        f.write(os.urandom(400_000))
            """)
        var limits = ArchiveReader.Limits()
        limits.maximumTotalSize = 1_000_000
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: fixture.path("streamed.zip")))
        defer { try? handle.close() }
        let reader = try ArchiveReader(name: "streamed.zip", limits: limits) { buffer in
            let data = try handle.read(upToCount: buffer.count) ?? Data()
            return data.copyBytes(to: buffer)
        }
        #expect(readingError(reader)?.code == .totalTooLarge)
    }

    @Test func entryDeclaredLargerThanTheEntryLimitIsRejectedBeforeReadingIt() throws {
        let fixture = try Fixture()
        try fixture.shell("truncate -s 65M big.bin && tar -cf big.tar big.bin && rm big.bin")
        let reader = try ArchiveReader(path: fixture.path("big.tar"))
        let error = try #require(readingError(reader))
        #expect(error.code == .entryTooLarge)
        #expect(error.message.contains("big.bin"))
        #expect(error.message.contains("64 MiB"))
        #expect(reader.uncompressedBytes == 0)
    }

    @Test func tooManyEntriesIsRejectedAtTheDefaultLimit() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import zipfile
            with zipfile.ZipFile('many.zip', 'w') as z:
                for index in range(10_001):
                    z.writestr(f'f{index:05}.md', '')
            """)
        let reader = try ArchiveReader(path: fixture.path("many.zip"))
        var count = 0
        let error = try #require(
            throws: ArchiveError.self,
            performing: {
                while try reader.nextEntry() != nil { count += 1 }
            })
        #expect(error.code == .tooManyEntries)
        #expect(error.message.contains("10000"))
        #expect(count == 10_000)
    }

    @Test(arguments: ["truncatedTarGz", "flippedTarGz", "flippedZip", "truncatedTar", "garbage", "truncatedZip"])
    func corruptArchiveThrowsCorruptWithLibarchivesMessage(damage: String) throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, zipfile, io, random
            rng = random.Random(7)
            payload = bytes(rng.getrandbits(8) for _ in range(300_000)) + b'text ' * 60_000
            for mode, name in [('w:gz', 'a.tar.gz'), ('w', 'a.tar')]:
                with tarfile.open(name, mode) as t:
                    for index in range(3):
                        info = tarfile.TarInfo(f'doc{index}.bin'); info.size = len(payload)
                        t.addfile(info, io.BytesIO(payload))
            with zipfile.ZipFile('a.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                for index in range(3):
                    z.writestr(f'doc{index}.bin', payload)
            with open('garbage.zip', 'wb') as f:
                f.write(bytes(rng.getrandbits(8) for _ in range(100_000)))
            """)
        let name: String
        switch damage {
        case "truncatedTarGz":
            name = "a.tar.gz"
            try fixture.modify(name) { $0.removeLast($0.count / 2) }
        case "flippedTarGz":
            name = "a.tar.gz"
            try fixture.modify(name) { bytes in
                for index in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[index] ^= 0x5A }
            }
        case "flippedZip":
            name = "a.zip"
            try fixture.modify(name) { bytes in
                for index in stride(from: 1_000, to: 1_064, by: 1) { bytes[index] ^= 0x5A }
            }
        case "truncatedTar":
            name = "a.tar"
            try fixture.modify(name) { $0.removeLast($0.count / 2) }
        case "truncatedZip":
            name = "a.zip"
            try fixture.modify(name) { $0.removeLast($0.count / 2) }
        default:
            name = "garbage.zip"
        }

        do {
            let reader = try ArchiveReader(path: fixture.path(name))
            let error = try #require(readingError(reader))
            #expect(error.code == .corrupt, "\(error)")
            #expect(error.message.contains(name))
            print("corrupt (\(damage)): \(error.message)")
        } catch let error as ArchiveError {
            // Damage at the very start is found when the archive is opened.
            #expect(error.code == .corrupt, "\(error)")
            print("corrupt at open (\(damage)): \(error.message)")
        }
    }

    @Test func missingFileIsAnIOErrorNotCorruption() {
        #expect {
            _ = try ArchiveReader(path: "/nonexistent/archive.zip")
        } throws: { error in
            (error as? ArchiveError)?.code == .io
        }
    }

    @Test func errorsThrownByTheSourceComeBackAsIOWithTheUnderlyingError() throws {
        struct Disconnected: Error {}
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, io, os
            with tarfile.open('a.tar.gz', 'w:gz') as t:
                info = tarfile.TarInfo('big.bin'); info.size = 1_000_000
                t.addfile(info, io.BytesIO(os.urandom(1_000_000)))
            """)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture.path("a.tar.gz"))))
        var offset = 0
        let reader = try ArchiveReader(name: "a.tar.gz") { buffer in
            guard offset < bytes.count / 2 else { throw Disconnected() }
            let count = min(buffer.count, bytes.count - offset)
            buffer.copyBytes(from: bytes[offset..<(offset + count)])
            offset += count
            return count
        }
        let error = try #require(readingError(reader))
        #expect(error.code == .io)
        #expect(error.underlying is Disconnected)
    }
}
