import Archive
import Foundation
import Ingest
import PostgresNIO
import Retrieval
import Storage
import Testing

/// Archives are read entry by entry, never unpacked: good entries become documents named `bundle.zip!/path`, unsafe
/// ones are reported, a bomb or a damaged archive stores (and removes) nothing.
@Suite struct ArchiveIngestTests {
    static let setup = "# Setup\n\nPlug the forklift charger into socket 7 before the night shift.\n"
    static let notes = "Night shift notes: the loading dock closes at 23:00.\n"

    @Test func goodEntriesAreIngestedAndUnsafeOnesReportedWithTheirReason() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "docs/backups.md")
        try directory.python(
            #"""
            import zipfile, stat, io
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, 'w') as z:
                z.writestr('hidden.md', 'inside a nested archive')
            with zipfile.ZipFile('docs/bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('guide/setup.md', '''# Setup\n\nPlug the forklift charger into socket 7 before the night shift.\n''')
                z.writestr('notes.txt', 'Night shift notes: the loading dock closes at 23:00.\n')
                z.writestr('../evil.md', 'escaped')
                z.writestr('/etc/absolute.md', 'absolute')
                link = zipfile.ZipInfo('link-out.md')
                link.create_system = 3
                link.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(link, '../../../etc/passwd')
                z.writestr('inner.zip', inner.getvalue())
                z.writestr('photo.png', b'\x89PNG\r\n')
            """#)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path + "/docs"])
            #expect(summary.added == 3 && summary.failed == 0 && summary.removed == 0)
            let skipped = Dictionary(
                summary.skippedEntries.map { (($0.path as NSString).lastPathComponent, $0.reason) },
                uniquingKeysWith: { a, _ in a })
            #expect(skipped["evil.md"]?.hasPrefix("pathTraversal") == true)
            #expect(skipped["absolute.md"]?.hasPrefix("absolutePath") == true)
            #expect(skipped["link-out.md"]?.hasPrefix("link") == true)
            #expect(skipped["link-out.md"]?.contains("../../../etc/passwd") == true)
            #expect(skipped["inner.zip"]?.hasPrefix("nestedArchive") == true)
            #expect(summary.skippedEntries.allSatisfy { $0.path.contains("/docs/bundle.zip!/") })
            #expect(summary.skipped == 5)  // four defences and the picture
            // Nothing escaped, nothing of the nested archive was read.
            #expect(
                try await appliance.count(
                    "SELECT count(*)::bigint FROM chunks WHERE text LIKE '%escaped%' OR text LIKE '%absolute%' OR text LIKE '%nested%'"
                ) == 0)
            #expect(
                try await appliance.count(
                    "SELECT count(*)::bigint FROM documents WHERE source_uri = 'file://\(directory.path)/docs/bundle.zip!/guide/setup.md' AND metadata->>'display_path' = 'docs/bundle.zip!/guide/setup.md'"
                )
                    == 1)

            let answer = try await appliance.askService.ask(
                question: "Which socket does the forklift charger use?", tenant: "default", topK: 5)
            #expect(answer.citations.first?.source == "docs/bundle.zip!/guide/setup.md")

            // Unchanged: one hash of the archive and it is not opened (so its skipped entries are not read again).
            let again = try await appliance.ingest([directory.path + "/docs"])
            #expect(again.unchanged == 3 && again.chunksEmbedded == 0 && again.skippedEntries.isEmpty)
        }
    }

    @Test func anArchiveGivenAsARootIsNamedByItsOwnName() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.python(
            """
            import zipfile
            with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('guide/setup.md', '# Setup\\n\\nSocket 7.\\n')
            """)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path + "/bundle.zip"])
            #expect(summary.added == 1 && summary.failed == 0)
            #expect(
                try await appliance.count(
                    "SELECT count(*)::bigint FROM documents WHERE metadata->>'display_path' = 'bundle.zip!/guide/setup.md'"
                ) == 1)
            // Removing the archive and syncing the folder that held it removes its entries.
            try directory.remove("bundle.zip")
            let synced = try await appliance.ingest([directory.path])
            #expect(synced.removed == 1)
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 0)
        }
    }

    @Test(arguments: ["zip", "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz"])
    func everyArchiveFormatIsRead(format: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let mode = ["tar": "w", "tar.gz": "w:gz", "tgz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"][format] ?? ""
        try directory.python(
            format == "zip"
                ? """
                import zipfile
                with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                    z.writestr('a/setup.md', '# Setup\\n\\nSocket 7.\\n')
                    z.writestr('b/notes.txt', 'Dock closes at 23:00.')
                """
                : """
                import tarfile, io
                with tarfile.open('bundle.\(format)', '\(mode)') as t:
                    for name, text in [('a/setup.md', b'# Setup\\n\\nSocket 7.\\n'), ('b/notes.txt', b'Dock closes at 23:00.')]:
                        info = tarfile.TarInfo(name); info.size = len(text)
                        t.addfile(info, io.BytesIO(text))
                """)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.added == 2 && summary.failed == 0, "\(summary.failures)")
            #expect(
                try await appliance.chunkTexts(sourceEndingWith: "bundle.\(format)!/b/notes.txt") == [
                    "Dock closes at 23:00."
                ])
        }
    }

    @Test func aChangedArchiveReingestsOnlyWhatChangedAndAnUnchangedOneEmbedsNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        @Sendable func writeArchive(_ entries: [String: String]) throws {
            let literal = entries.map { "('\($0.key)', '''\($0.value)''')" }.joined(separator: ", ")
            try directory.python(
                """
                import tarfile, io
                with tarfile.open('bundle.tar.gz', 'w:gz') as t:
                    for name, text in [\(literal)]:
                        data = text.encode(); info = tarfile.TarInfo(name); info.size = len(data)
                        t.addfile(info, io.BytesIO(data))
                """)
        }
        try writeArchive([
            "a.md": Self.setup, "b.md": IngestIntegrationTests.backups, "c.md": IngestIntegrationTests.oncall,
        ])
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let first = try await appliance.ingest([directory.path])
            #expect(first.added == 3 && first.chunksEmbedded == 3)

            let unchanged = try await appliance.ingest([directory.path])
            #expect(unchanged.unchanged == 3 && unchanged.chunksEmbedded == 0)
            #expect(unchanged.added == 0 && unchanged.updated == 0 && unchanged.removed == 0)

            // Rewritten: a.md the same bytes (the archive's hash differs anyway), b.md changed, c.md gone.
            try writeArchive(["a.md": Self.setup, "b.md": "# Backups\n\nBackups are now kept for 90 days.\n"])
            let changed = try await appliance.ingest([directory.path])
            #expect(changed.added == 0 && changed.updated == 1 && changed.removed == 1 && changed.unchanged == 1)
            #expect(changed.chunksEmbedded == 1)
            #expect(
                try await appliance.chunkTexts(sourceEndingWith: "bundle.tar.gz!/b.md").joined().contains("90 days"))
            #expect(try await appliance.chunkTexts(sourceEndingWith: "bundle.tar.gz!/c.md").isEmpty)

            // The new hash was recorded for every entry, the unchanged one included: the next run opens nothing.
            let again = try await appliance.ingest([directory.path])
            #expect(again.unchanged == 2 && again.chunksEmbedded == 0 && again.updated == 0)
        }
    }

    @Test func aBombByRatioIsRejectedByNameAndNothingOfItIsStoredOrRemoved() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.python(
            """
            import zipfile
            with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('readme.md', '# Readme\\n\\nThe first version.\\n')
            """)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            #expect(try await appliance.ingest([directory.path]).added == 1)
            // The same archive, now with a changed readme first and 16 MiB of zeros (about 1,000:1) after it.
            try directory.python(
                """
                import zipfile
                with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
                    z.writestr('readme.md', '# Readme\\n\\nThe second version.\\n')
                    z.writestr('new.md', '# New\\n\\nA new entry.\\n')
                    z.writestr('zeros.txt', bytes(16 << 20))
                """)
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.failed == 1 && summary.added == 0 && summary.updated == 0 && summary.removed == 0)
            let reason = try #require(summary.failures.first?.reason)
            #expect(reason.contains("compressionRatio limit") && reason.contains("compression ratio"))
            #expect(reason.contains("nothing of it was stored"))
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 1)
            #expect(
                try await appliance.chunkTexts(sourceEndingWith: "bundle.zip!/readme.md").joined().contains(
                    "first version"))
        }
    }

    @Test func aBombBySizeIsRejectedByNameAndNothingOfItIsStored() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        // Uncompressed tar, so only the size limits can catch it: a 300 KB entry after a good one.
        try directory.python(
            """
            import tarfile, io, random
            random.seed(7)
            big = ''.join(random.choice('abcdefghij \\n') for _ in range(300_000)).encode()
            with tarfile.open('big.tar', 'w') as t:
                for name, data in [('good.md', b'# Good\\n\\nA good entry.\\n'), ('big.txt', big)]:
                    info = tarfile.TarInfo(name); info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
            """)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            var configuration = Ingestor.Configuration()
            configuration.archiveLimits.maximumEntrySize = 256 << 10
            let byEntry = try await appliance.ingest([directory.path], configuration: configuration)
            #expect(byEntry.failed == 1 && byEntry.added == 0)
            #expect(byEntry.failures.first?.reason.contains("per-entry size limit") == true)
            #expect(byEntry.failures.first?.reason.contains("entryTooLarge limit") == true)

            configuration = Ingestor.Configuration()
            configuration.archiveLimits.maximumTotalSize = 200_000
            let byTotal = try await appliance.ingest([directory.path], configuration: configuration)
            #expect(byTotal.failed == 1 && byTotal.added == 0)
            #expect(byTotal.failures.first?.reason.contains("total uncompressed size limit") == true)
            #expect(try await appliance.count("SELECT count(*)::bigint FROM documents") == 0)
        }
    }

    @Test func aCorruptArchiveIsAReportedFailureAndKeepsWhatWasStored() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(IngestIntegrationTests.backups, to: "backups.md")
        try directory.write(Data("PK\u{03}\u{04} this is not really a zip archive at all".utf8), to: "garbage.zip")
        try directory.python(
            """
            import tarfile, io
            with tarfile.open('good.tar.gz', 'w:gz') as t:
                data = b'# Setup\\n\\nSocket 7.\\n'; info = tarfile.TarInfo('setup.md'); info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            """)
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let first = try await appliance.ingest([directory.path])
            #expect(first.added == 2 && first.failed == 1)
            #expect(first.failures.first?.path.hasSuffix("garbage.zip") == true)
            #expect(first.failures.first?.reason.contains("cannot be read") == true)

            // The good archive, truncated: a failure, and its stored entry is kept.
            let url = URL(fileURLWithPath: directory.path + "/good.tar.gz")
            let bytes = try Data(contentsOf: url)
            try bytes.prefix(bytes.count / 2).write(to: url)
            let second = try await appliance.ingest([directory.path])
            #expect(second.failed == 2 && second.removed == 0)
            #expect(second.failures.contains { $0.path.hasSuffix("good.tar.gz") })
            #expect(
                try await appliance.chunkTexts(sourceEndingWith: "good.tar.gz!/setup.md").joined().contains("Socket 7"))
        }
    }

    @Test func aPDFInsideAnArchiveIsReadPageByPage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(TestPDF.make(pages: ["Cover page", "The charger uses socket 7."]), to: "manual.pdf")
        try directory.python("import zipfile\nwith zipfile.ZipFile('bundle.zip', 'w') as z: z.write('manual.pdf')")
        try directory.remove("manual.pdf")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.added == 1 && summary.failed == 0, "\(summary.failures)")
            let rows = try await client.query(
                "SELECT heading_path FROM chunks WHERE text LIKE '%socket 7%'", logger: TestDatabase.logger)
            #expect(try rows.decode([String].self).map { $0 } == [["Page 2"]])
        }
    }
}
