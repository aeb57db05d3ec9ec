import Foundation
import Testing

@testable import Ingest

@Suite struct TextExtractorTests {
    let extractor = TextExtractor()

    func text(_ source: String, _ fileName: String) throws -> ExtractedText {
        try extractor.extract(Data(source.utf8), format: DocumentFormat.detect(fileName: fileName)!, fileName: fileName)
    }

    @Test func htmlDropsScriptsStylesAndTheHeadButKeepsHeadingsAndTitle() throws {
        let html = """
            <html><head><title>Security &amp; Access</title><style>.x{color:red} secretStyleWord</style></head>
            <body><script>var trackingPixelSecret = 1;</script>
            <h1>Passwords</h1><p>Change them every&nbsp;90 days.</p>
            <h2>MFA</h2><ul><li>Use an app</li><li>Never SMS</li></ul><!-- hidden comment -->
            </body></html>
            """
        let extracted = try text(html, "policy.html")
        let body = extracted.string(0..<extracted.scalars.count)
        #expect(!body.contains("trackingPixelSecret"))
        #expect(!body.contains("secretStyleWord"))
        #expect(!body.contains("hidden comment"))
        #expect(body.contains("Change them every 90 days."))
        #expect(body.contains("- Use an app\n- Never SMS"))
        #expect(extracted.title == "Security & Access")
        #expect(extracted.sections.map(\.headingPath) == [["Passwords"], ["Passwords", "MFA"]])
    }

    @Test func csvRowsBecomeHeaderValueSentences() throws {
        let csv = "Site,Manager,Notes\nRotterdam,Zoë Martínez,\"Cold store, 4 \"\"docks\"\"\"\nMontréal,Ana,\n"
        let extracted = try text(csv, "sites.csv")
        #expect(extracted.string(0..<extracted.scalars.count)
            == "Site: Rotterdam; Manager: Zoë Martínez; Notes: Cold store, 4 \"docks\".\nSite: Montréal; Manager: Ana.")
    }

    @Test func jsonLeavesBecomePathValueLines() throws {
        let extracted = try text(#"{"team": {"name": "Ops", "size": 6, "pager": true}}"#, "teams.json")
        #expect(extracted.string(0..<extracted.scalars.count) == "team.name: Ops\nteam.pager: true\nteam.size: 6")
    }

    @Test func restructuredTextTitlesBecomeHeadings() throws {
        let rst = "=====\nTitle\n=====\n\nIntro.\n\nSection\n-------\n\nBody text.\n"
        let extracted = try text(rst, "guide.rst")
        #expect(extracted.sections.map(\.headingPath) == [["Title"], ["Title", "Section"]])
    }

    @Test func invalidUTF8IsAnErrorNotGarbage() {
        #expect(throws: ExtractionError.self) {
            try extractor.extract(Data([0x48, 0x69, 0xC3, 0x28]), format: .plainText, fileName: "bad.txt")
        }
    }

    @Test func binaryContentIsAnError() {
        #expect(throws: ExtractionError.self) {
            try extractor.extract(Data([0x89, 0x50, 0x4E, 0x47, 0x00, 0x00]), format: .markdown, fileName: "x.md")
        }
    }

    @Test func invalidJSONAndUnterminatedCSVAreErrors() {
        #expect(throws: ExtractionError.self) { try text("{not json", "x.json") }
        #expect(throws: ExtractionError.self) { try text("a,b\n\"open,1\n", "x.csv") }
    }

    @Test func utf16WithByteOrderMarkIsDecoded() throws {
        var data = Data([0xFF, 0xFE])
        data.append("Hello".data(using: .utf16LittleEndian)!)
        let extracted = try extractor.extract(data, format: .plainText, fileName: "x.txt")
        #expect(extracted.string(0..<extracted.scalars.count) == "Hello")
    }

    @Test(arguments: [
        ("notes.md", DocumentFormat.markdown), ("a.TXT", .plainText), ("guide.rst", .restructuredText),
        ("page.htm", .html), ("data.json", .json), ("table.csv", .csv), ("main.swift", .sourceCode),
        ("Makefile", .plainText),
    ])
    func detectsFormatsByName(name: String, format: DocumentFormat) {
        #expect(DocumentFormat.detect(fileName: name) == format)
    }

    @Test func unknownKindsAreNotRead() {
        #expect(DocumentFormat.detect(fileName: "photo.png") == nil)
        #expect(DocumentFormat.detect(fileName: "archive.tar.gz") == nil)
    }
}

@Suite struct DocumentWalkerTests {
    @Test func walksRecursivelySkippingHiddenEntriesAndLinks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("walker-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = ["a.md", "sub/b.txt", "sub/deeper/c.json", ".hidden.md", ".git/config.md", "sub/.cache/d.md", "e.png"]
        for file in files {
            let path = root + "/" + file
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "x".write(toFile: path, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/link.md", withDestinationPath: "/etc/hostname")
        let listing = DocumentWalker().walk(root: root)
        #expect(listing.files.map(\.relativePath) == ["a.md", "sub/b.txt", "sub/deeper/c.json"])
        #expect(Set(listing.skipped.map { ($0 as NSString).lastPathComponent }) == ["e.png", "link.md"])
    }
}

@Suite struct DecodedNulTests {
    /// PostgreSQL's text type refuses NUL; a document must not fail to store for one.
    @Test(arguments: [
        (DocumentFormat.html, "<p>a&#0;b</p>"), (.json, #"{"k": "a\u0000b"}"#),
    ])
    func aDecodedNulBecomesASpace(_ format: DocumentFormat, _ source: String) throws {
        let extracted = try TextExtractor().extract(Data(source.utf8), format: format, fileName: "f")
        #expect(!extracted.scalars.contains("\u{0}"))
    }
}
