import Foundation
import Ingest
import PostgresNIO
import Storage

/// Minimal PDFs written byte by byte, with their cross-reference offsets computed, so the tests need no PDF tool
/// other than the `pdftotext` under test.
enum TestPDF {
    /// A PDF with one page per string, each line drawn in Helvetica; an empty string is a page with no text at all
    /// (as a scanned page without OCR has none). ASCII text only.
    static func make(pages: [String]) -> Data {
        let pageIDs = pages.indices.map { 4 + 2 * $0 }
        var objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [\(pageIDs.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        for (index, text) in pages.enumerated() {
            let lines = text.split(separator: "\n")
            let stream =
                lines.isEmpty
                ? ""
                : "BT /F1 12 Tf 72 720 Td 14 TL " + lines.map { "(\(escape($0))) Tj T*" }.joined(separator: " ") + " ET"
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                    + "/Contents \(pageIDs[index] + 1) 0 R >>")
            objects.append("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
        }
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(pdf.utf8)
    }

    private static func escape(_ line: Substring) -> String {
        line.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(")
            .replacingOccurrences(of: ")", with: "\\)")
    }
}

extension TemporaryDirectory {
    /// Runs a Python 3 script (zipfile, tarfile) in the directory to build fixture archives with entries no
    /// well-behaved tool writes; fails with its output if it exits non-zero.
    func python(_ script: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: path)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(
                description: "python3 exited \(process.terminationStatus): \(text) (the ingest tests need python3)")
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

extension Appliance {
    /// Ingests with a configuration of the test's own (archive limits).
    func ingest(_ paths: [String], configuration: Ingestor.Configuration) async throws -> IngestSummary {
        try await Ingestor(configuration: configuration, store: store, embedder: embedder, logger: TestDatabase.logger)
            .ingest(paths: paths, tenant: "default")
    }

    /// The chunk texts of documents whose source URI ends with `suffix`.
    func chunkTexts(sourceEndingWith suffix: String) async throws -> [String] {
        let rows = try await client.query(
            """
            SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE d.source_uri LIKE '%' || \(suffix) ORDER BY c.ordinal
            """, logger: TestDatabase.logger)
        return try rows.decode(String.self).map { $0 }
    }
}
