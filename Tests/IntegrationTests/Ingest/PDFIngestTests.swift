import Foundation
import Ingest
import PostgresNIO
import Retrieval
import Storage
import Testing

/// PDFs are read with pdftotext, page by page: a chunk's heading is its page, so a citation can say "page 4".
@Suite struct PDFIngestTests {
    @Test func chunksKnowTheirPageAndACitationNamesIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        let pdf = TestPDF.make(pages: [
            "Depot handbook\nWelcome to the depot.",
            "Loading dock\nThe loading dock closes at 23:00.",
            "",
            "Forklifts\nForklift chargers are in bay 7 and charge overnight.",
        ])
        try directory.write(pdf, to: "handbook.pdf")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.added == 1 && summary.failed == 0, "\(summary.failures)")
            let rows = try await client.query(
                "SELECT text, heading_path FROM chunks ORDER BY ordinal", logger: TestDatabase.logger)
            let chunks = try rows.decode((String, [String]).self).map { $0 }
            #expect(chunks.map(\.1) == [["Page 1"], ["Page 2"], ["Page 4"]])
            #expect(chunks.last?.0.contains("bay 7") == true)

            let answer = try await appliance.askService.ask(
                question: "Where are the forklift chargers?", tenant: "default", topK: 5)
            let root = (directory.path as NSString).lastPathComponent
            #expect(answer.citations.first?.source == "\(root)/handbook.pdf")
            #expect(answer.citations.first?.heading.hasSuffix("Page 4") == true)

            let again = try await appliance.ingest([directory.path])
            #expect(again.unchanged == 1 && again.chunksEmbedded == 0)
        }
    }

    @Test func aPDFWithoutATextLayerIsReportedAsNeedingOCR() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(TestPDF.make(pages: ["", ""]), to: "scan.pdf")
        try directory.write(Data("%PDF-1.4\nthis is not a complete PDF".utf8), to: "broken.pdf")
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let summary = try await appliance.ingest([directory.path])
            #expect(summary.failed == 2 && summary.added == 0)
            let scan = try #require(summary.failures.first { $0.path.hasSuffix("scan.pdf") })
            #expect(scan.reason.contains("no text layer: it needs OCR"))
            let broken = try #require(summary.failures.first { $0.path.hasSuffix("broken.pdf") })
            #expect(broken.reason.contains("damaged"))
        }
    }
}
