import Foundation
import Ingest
import Testing

@testable import Ingest

@Suite struct PDFTextExtractorTests {
    @Test func eachPageWithTextIsASectionHeadedByItsNumber() throws {
        let text = try PDFTextExtractor.text(
            ofPages: ["First page.\n", "  \n", "Third page."], fileName: "depot-guide.pdf")
        #expect(text.sections.map(\.headingPath) == [["Page 1"], ["Page 3"]])
        #expect(text.sections.map { text.string($0.range) } == ["First page.", "Third page."])
        #expect(text.title == "depot guide")
        let chunks = Chunker().chunks(of: text)
        #expect(chunks.map(\.headingPath) == [["Page 1"], ["Page 3"]])
    }

    @Test func pagesWithoutTextAreReportedAsNeedingOCR() {
        #expect {
            try PDFTextExtractor.text(ofPages: ["", " \n "], fileName: "scan.pdf")
        } throws: { error in
            (error as? ExtractionError)?.message.contains("no text layer: it needs OCR") == true
        }
    }

    @Test func bytesThatAreNotAPDFAreRefusedWithoutRunningAnything() {
        #expect(throws: ExtractionError.self) { try PDFTextExtractor().extract(Data("hello".utf8), fileName: "a.pdf") }
    }

    @Test func aMissingPdftotextSaysWhatToInstall() {
        var extractor = PDFTextExtractor()
        extractor.executable = "pdftotext-that-does-not-exist"
        #expect {
            try extractor.extract(Data("%PDF-1.4\n".utf8), fileName: "a.pdf")
        } throws: { error in
            (error as? ExtractionError)?.message.contains("poppler-utils") == true
        }
    }

    @Test func aPdftotextThatHangsIsStoppedAtTheTimeout() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("hang-\(UUID().uuidString).sh")
        try Data("#!/bin/sh\nexec sleep 30\n".utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: script.path)
        defer { try? FileManager.default.removeItem(at: script) }
        var extractor = PDFTextExtractor()
        extractor.executable = script.path
        extractor.timeout = .milliseconds(300)
        let start = ContinuousClock.now
        #expect {
            try extractor.extract(Data("%PDF-1.4\n".utf8), fileName: "a.pdf")
        } throws: { error in
            (error as? ExtractionError)?.message.contains("took longer") == true
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test(arguments: [
        ("bundle.zip", true), ("docs.TAR", true), ("a.tar.gz", true), ("a.tgz", true), ("a.tar.bz2", true),
        ("a.tbz2", true), ("a.tar.xz", true), ("a.txz", true), ("notes.gz", false), (".zip", false), ("a.md", false),
    ])
    func archivesAreRecognisedByName(name: String, isArchive: Bool) {
        #expect(DocumentWalker.isArchive(fileName: name) == isArchive)
    }

    @Test func pdfIsAKnownFormat() {
        #expect(DocumentFormat.detect(fileName: "Manual.PDF") == .pdf)
    }
}
