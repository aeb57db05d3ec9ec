import Foundation
import Ingest
import Testing

@Suite struct ArchiveListingTests {
    @Test func archivesAreListedForReadingNotSkipped() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("walker-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for file in ["a.md", "bundle.zip", "sub/docs.tar.gz", "sub/notes.gz", ".hidden.zip", "photo.png"] {
            let path = root + "/" + file
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "x".write(toFile: path, atomically: true, encoding: .utf8)
        }
        // A directory with an archive's name is walked as a directory.
        try FileManager.default.createDirectory(atPath: root + "/folder.zip", withIntermediateDirectories: true)
        try "x".write(toFile: root + "/folder.zip/inner.md", atomically: true, encoding: .utf8)

        let listing = DocumentWalker().walk(root: root)
        #expect(listing.archives.map(\.relativePath) == ["bundle.zip", "sub/docs.tar.gz"])
        #expect(listing.files.map(\.relativePath) == ["a.md", "folder.zip/inner.md"])
        #expect(Set(listing.skipped.map { ($0 as NSString).lastPathComponent }) == ["notes.gz", "photo.png"])

        let single = DocumentWalker().walk(root: root + "/bundle.zip")
        #expect(single.archives.map(\.relativePath) == ["bundle.zip"] && single.files.isEmpty)
    }
}
