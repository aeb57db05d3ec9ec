import Testing

@testable import Archive

@Suite struct EntryPathTests {
    @Test(arguments: [
        ("guide/setup.md", "guide/setup.md"),
        ("./guide/./setup.md", "guide/setup.md"),
        ("guide//setup.md", "guide/setup.md"),
        ("guide/", "guide"),
        ("./", ""),
        ("..foo/bar..", "..foo/bar.."),
        ("ab:c.txt", "ab:c.txt"),
    ])
    func relativePathsAreNormalised(path: String, normalised: String) {
        #expect(EntryPath.check(path) == .relative(normalised))
    }

    @Test(arguments: ["..", "../x", "a/../../x", "a/..", #"..\x"#, #"a\..\..\x"#])
    func traversalIsDetected(path: String) {
        #expect(EntryPath.check(path) == .traversal)
    }

    @Test(arguments: ["/etc/passwd", "//server/share", #"\windows"#, "C:/x", #"c:\x"#, "C:", "a:b.txt"])
    func absolutePathsAreDetected(path: String) {
        #expect(EntryPath.check(path) == .absolute)
    }

    @Test func emptyPathIsDetected() {
        #expect(EntryPath.check("") == .empty)
    }
}

@Suite struct NestedArchiveTests {
    @Test(arguments: [
        ("bundle.zip", "zip"), ("Data.TAR.GZ", "tar.gz"), ("x.tgz", "tar.gz"), ("x.tar", "tar"),
        ("x.gz", "gzip"), ("x.7z", "7z"), ("x.jar", "zip"),
    ])
    func archiveNamesAreRecognised(path: String, format: String) {
        #expect(NestedArchive.format(ofPath: path) == format)
    }

    @Test(arguments: ["readme.md", "notes.txt", "zip", ".gz", "report.docx"])
    func otherNamesAreNot(path: String) {
        #expect(NestedArchive.format(ofPath: path) == nil)
    }

    @Test func magicNumbersAreRecognised() {
        #expect(NestedArchive.format(ofPrefix: [0x50, 0x4B, 0x03, 0x04, 0x14]) == "zip")
        #expect(NestedArchive.format(ofPrefix: [0x1F, 0x8B, 0x08, 0x00]) == "gzip")
        #expect(NestedArchive.format(ofPrefix: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0x00]) == "xz")
        #expect(NestedArchive.format(ofPrefix: Array("BZh91AY&SY".utf8)) == "bzip2")
        #expect(NestedArchive.format(ofPrefix: Array("Rar!\u{1A}\u{07}\u{00}".utf8)) == "rar")
        var tar = [UInt8](repeating: 0, count: 512)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        #expect(NestedArchive.format(ofPrefix: tar) == "tar")
    }

    @Test func textThatMerelyStartsLikeAMagicIsNot() {
        #expect(NestedArchive.format(ofPrefix: Array("BZh is how this note begins".utf8)) == nil)
        #expect(NestedArchive.format(ofPrefix: Array("PK is a column name".utf8)) == nil)
        #expect(NestedArchive.format(ofPrefix: []) == nil)
    }
}
