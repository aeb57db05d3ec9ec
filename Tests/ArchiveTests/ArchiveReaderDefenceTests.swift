import Archive
import Foundation
import Testing

/// Entries that are unsafe are skipped and reported; the rest of the archive still reads.
@Suite struct ArchiveReaderDefenceTests {
    @Test func zipWithTraversalAbsoluteAndSymlinkEntriesReadsOnlyTheGoodOnes() throws {
        let fixture = try Fixture()
        try fixture.python(
            #"""
            import zipfile, stat
            with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('guide/setup.md', 'setup steps')
                z.writestr('../evil.md', 'escaped')
                z.writestr('docs/../../evil2.md', 'escaped too')
                z.writestr('/etc/absolute.md', 'absolute')
                z.writestr('..\\windows.md', 'windows traversal')
                link = zipfile.ZipInfo('link-out')
                link.create_system = 3
                link.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(link, '../../../etc/passwd')
                z.writestr('./notes/./a.md', 'note a')
            """#)
        let reader = try ArchiveReader(path: fixture.path("bundle.zip"))
        let entries = try readEverything(reader)

        #expect(entries.count == 7)
        #expect(entries[path: "guide/setup.md"]?.text == "setup steps")
        #expect(entries[path: "notes/a.md"]?.text == "note a")
        #expect(entries[path: "../evil.md"]?.entry.skipReason?.code == .pathTraversal)
        #expect(entries[path: "docs/../../evil2.md"]?.entry.skipReason?.code == .pathTraversal)
        #expect(entries[path: "/etc/absolute.md"]?.entry.skipReason?.code == .absolutePath)
        // libarchive turns a zip name's backslashes into slashes before we see it.
        #expect(entries[path: "../windows.md"]?.entry.skipReason?.code == .pathTraversal)
        let link = try #require(entries[path: "link-out"])
        #expect(link.entry.kind == .symlink)
        #expect(link.entry.skipReason?.code == .link)
        #expect(link.entry.linkTarget == "../../../etc/passwd")
        #expect(link.entry.skipReason?.message.contains("../../../etc/passwd") == true)
        // Skipped entries never hand out their bytes.
        #expect(entries.filter { $0.entry.isSkipped }.allSatisfy { $0.bytes == nil })
    }

    @Test func tarFromSystemTarSkipsLinksSpecialFilesTraversalAndAbsolutePaths() throws {
        let fixture = try Fixture()
        try fixture.shell(
            """
            mkdir -p w/src w/other
            echo good > w/src/good.md
            echo original > w/src/orig.md
            ln w/src/orig.md w/src/hard.md
            ln -s /etc/passwd w/src/abs-link
            ln -s ../../escape w/src/rel-link
            mkfifo w/src/fifo
            echo traversal > w/other/trav.md
            echo absolute > w/other/abs.md
            cd w/src && tar -cPf ../../links.tar good.md orig.md hard.md abs-link rel-link fifo \
                ../other/trav.md "$PWD/../other/abs.md"
            """)
        let entries = try readEverything(try ArchiveReader(path: fixture.path("links.tar")))

        #expect(entries.count == 8)
        #expect(entries[path: "good.md"]?.text == "good\n")
        #expect(entries[path: "orig.md"]?.text == "original\n")
        let hard = try #require(entries[path: "hard.md"])
        #expect(hard.entry.kind == .hardlink)
        #expect(hard.entry.skipReason?.code == .link)
        #expect(hard.entry.linkTarget == "orig.md")
        #expect(entries[path: "abs-link"]?.entry.kind == .symlink)
        #expect(entries[path: "abs-link"]?.entry.linkTarget == "/etc/passwd")
        #expect(entries[path: "rel-link"]?.entry.skipReason?.code == .link)
        #expect(entries[path: "fifo"]?.entry.kind == .other)
        #expect(entries[path: "fifo"]?.entry.skipReason?.code == .specialFile)
        #expect(entries[path: "../other/trav.md"]?.entry.skipReason?.code == .pathTraversal)
        let absolute = try #require(entries.first { $0.entry.path.hasSuffix("/w/src/../other/abs.md") })
        #expect(absolute.entry.skipReason?.code == .absolutePath)
        #expect(entries.filter { !$0.entry.isSkipped }.count == 2)
    }

    @Test func deviceEntriesAreSkipped() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, io
            with tarfile.open('dev.tar', 'w') as t:
                info = tarfile.TarInfo('dev/null'); info.type = tarfile.CHRTYPE; info.devmajor = 1; info.devminor = 3
                t.addfile(info)
                info = tarfile.TarInfo('ok.txt'); info.size = 2
                t.addfile(info, io.BytesIO(b'ok'))
            """)
        let entries = try readEverything(try ArchiveReader(path: fixture.path("dev.tar")))
        #expect(entries[path: "dev/null"]?.entry.skipReason?.code == .specialFile)
        #expect(entries[path: "ok.txt"]?.text == "ok")
    }

    @Test func nestedArchivesAreReportedByNameOrMagicAndNotOpened() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, zipfile, gzip, io
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, 'w') as z:
                z.writestr('deep.md', 'deep')
            inner_tar = io.BytesIO()
            with tarfile.open(fileobj=inner_tar, mode='w') as t:
                info = tarfile.TarInfo('x.md'); info.size = 1; t.addfile(info, io.BytesIO(b'x'))
            members = [
                ('inner.zip', inner.getvalue()),
                ('data.bin', gzip.compress(b'hidden' * 1000)),
                ('inner-tar.dat', inner_tar.getvalue()),
                ('report.docx', inner.getvalue()),
                ('readme.md', b'read me'),
                ('notes.txt.gz', b'not really gzip'),
            ]
            with tarfile.open('nested.tar.gz', 'w:gz') as t:
                for name, data in members:
                    info = tarfile.TarInfo(name); info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
            """)
        let entries = try readEverything(try ArchiveReader(path: fixture.path("nested.tar.gz")))

        #expect(entries.count == 6)
        for name in ["inner.zip", "data.bin", "inner-tar.dat", "notes.txt.gz"] {
            let entry = try #require(entries[path: name]?.entry)
            #expect(entry.skipReason?.code == .nestedArchive, "\(name)")
        }
        #expect(entries[path: "data.bin"]?.entry.skipReason?.message.contains("gzip") == true)
        #expect(entries[path: "inner-tar.dat"]?.entry.skipReason?.message.contains("tar") == true)
        // A zip-based document is a document, not a nested archive.
        #expect(entries[path: "report.docx"]?.entry.isSkipped == false)
        #expect(entries[path: "report.docx"]?.bytes?.prefix(2) == [0x50, 0x4B])
        // The entry after a skipped one still reads correctly.
        #expect(entries[path: "readme.md"]?.text == "read me")
    }

    @Test func namesThatAreNotUTF8AreDecodedLossilyAndFlagged() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, zipfile, io, os
            os.mkdir('names')
            with open(b'names/caf\\xe9.txt', 'wb') as f:
                f.write(b'latin-1 name')
            with tarfile.open('pax.tar', 'w', format=tarfile.PAX_FORMAT) as t:
                info = tarfile.TarInfo('naïve/ünïcode.md'); info.size = 5
                t.addfile(info, io.BytesIO(b'utf-8'))
            with zipfile.ZipFile('utf8.zip', 'w') as z:
                z.writestr('résumé.md', 'flagged utf-8')
            """)
        try fixture.shell("cd names && LC_ALL=C tar -cf ../raw.tar *")

        let raw = try readEverything(try ArchiveReader(path: fixture.path("raw.tar")))
        let entry = try #require(raw.first)
        #expect(entry.entry.rawPath == Array("caf".utf8) + [0xE9] + Array(".txt".utf8))
        #expect(entry.entry.pathIsLossy)
        #expect(entry.entry.path == "caf\u{FFFD}.txt")
        #expect(entry.text == "latin-1 name")

        // libarchive drops UTF-8 names in the C locale unless the reader switches its thread to UTF-8.
        let pax = try readEverything(try ArchiveReader(path: fixture.path("pax.tar")))
        #expect(pax.first?.entry.path == "naïve/ünïcode.md")
        #expect(pax.first?.entry.pathIsLossy == false)
        #expect(pax.first?.entry.warning == nil)
        let zip = try readEverything(try ArchiveReader(path: fixture.path("utf8.zip")))
        #expect(zip.first?.entry.path == "résumé.md")
        #expect(zip.first?.text == "flagged utf-8")
    }

    @Test func encryptedZipEntriesAreSkippedWithoutReadingThem() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import zipfile
            with zipfile.ZipFile('enc.zip', 'w', zipfile.ZIP_STORED) as z:
                z.writestr('secret.md', 'pretend ciphertext')
                z.writestr('plain.md', 'plain text')
            """)
        // Set the "encrypted" flag of the first entry in its local header and its central directory record.
        try fixture.modify("enc.zip") { bytes in
            bytes[6] |= 1
            for index in 0..<(bytes.count - 4) where bytes[index..<(index + 4)].elementsEqual([0x50, 0x4B, 0x01, 0x02])
            {
                bytes[index + 8] |= 1
                break
            }
        }
        let entries = try readEverything(try ArchiveReader(path: fixture.path("enc.zip")))
        #expect(entries[path: "secret.md"]?.entry.skipReason?.code == .encrypted)
        #expect(entries[path: "plain.md"]?.text == "plain text")
    }

    @Test func compressedTarVariantsAreDetectedFromTheirBytes() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, io
            for mode, name in [('w:gz', 'a.tgz'), ('w:bz2', 'b.tar.bz2'), ('w:xz', 'c.tar.xz'), ('w', 'd.tar')]:
                with tarfile.open(name, mode) as t:
                    info = tarfile.TarInfo('doc.md'); info.size = 5
                    t.addfile(info, io.BytesIO(b'hello'))
            import shutil; shutil.copy('c.tar.xz', 'misnamed.zip')
            """)
        for name in ["a.tgz", "b.tar.bz2", "c.tar.xz", "d.tar", "misnamed.zip"] {
            let entries = try readEverything(try ArchiveReader(path: fixture.path(name)))
            #expect(entries.map(\.entry.path) == ["doc.md"], "\(name)")
            #expect(entries.first?.text == "hello", "\(name)")
        }
    }

    @Test func anUnreadEntryIsSkippedCleanlyByTheNextCall() throws {
        let fixture = try Fixture()
        try fixture.python(
            """
            import tarfile, io, os
            with tarfile.open('two.tar.gz', 'w:gz') as t:
                for name, size in [('big.bin', 3_000_000), ('small.md', 5)]:
                    info = tarfile.TarInfo(name); info.size = size
                    t.addfile(info, io.BytesIO(os.urandom(size) if size > 5 else b'small'))
            """)
        let reader = try ArchiveReader(path: fixture.path("two.tar.gz"))
        let big = try #require(try reader.nextEntry())
        #expect(big.size == 3_000_000)
        #expect(try reader.nextChunk()?.count == 64 << 10)
        let small = try #require(try reader.nextEntry())
        #expect(small.path == "small.md")
        #expect(String(decoding: try reader.readAll(), as: UTF8.self) == "small")
        #expect(try reader.nextEntry() == nil)
        #expect(try reader.nextEntry() == nil)
        #expect(reader.uncompressedBytes == 3_000_005)
    }
}
