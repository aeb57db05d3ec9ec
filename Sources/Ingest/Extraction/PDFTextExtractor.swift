import Foundation

/// Reads a PDF's text layer with `pdftotext` (poppler-utils), one section per page headed "Page N", so that a chunk
/// (which never spans two sections) knows its page and a citation can say "page 4".
///
/// `pdftotext` runs as a subprocess with a timeout: a hostile PDF can make a parser spin, and the appliance's own
/// process must not be the one that does. It blocks: call it off Swift concurrency's threads.
public struct PDFTextExtractor: Sendable {
    /// The program run, looked up on `PATH`. Defaults to `pdftotext`.
    public var executable = "pdftotext"
    /// How long one PDF may take before it is killed and reported. Defaults to 60 seconds.
    public var timeout: Duration = .seconds(60)

    public init() {}

    /// The text of `data`, a PDF, with one section per page that has text.
    public func extract(_ data: Data, fileName: String) throws -> ExtractedText {
        guard data.starts(with: Array("%PDF-".utf8)) else {
            throw ExtractionError(message: "The file is not a PDF (it does not start with '%PDF-').")
        }
        return try Self.text(ofPages: try pages(of: data), fileName: fileName)
    }

    /// Joins page texts into one text with a section per non-blank page. Pure.
    static func text(ofPages pages: [String], fileName: String) throws -> ExtractedText {
        var scalars: [Unicode.Scalar] = []
        var sections: [ExtractedText.Section] = []
        for (index, page) in pages.enumerated() {
            let trimmed = page.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { continue }
            if !scalars.isEmpty { scalars.append(contentsOf: "\n\n".unicodeScalars) }
            let start = scalars.count
            // PostgreSQL's text refuses NUL: one space for one scalar keeps offsets true.
            scalars.append(contentsOf: trimmed.unicodeScalars.map { $0 == "\u{0}" ? " " : $0 })
            sections.append(.init(headingPath: ["Page \(index + 1)"], range: start..<scalars.count))
        }
        guard !sections.isEmpty else {
            throw ExtractionError(
                message: "The PDF has no text layer: it needs OCR (its \(pages.count) page(s) hold only images or "
                    + "nothing). Run it through an OCR tool such as ocrmypdf and ingest the result.")
        }
        return ExtractedText(scalars: scalars, sections: sections, title: TextExtractor.title(fromFileName: fileName))
    }

    /// Each page's text: `pdftotext` ends every page with a form feed.
    func pages(of data: Data) throws -> [String] {
        // The PDF goes to pdftotext as a private temporary file rather than on its standard input: a child that
        // exits without reading its input would otherwise kill this process with SIGPIPE.
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("unity-ai-\(UUID().uuidString).pdf")
        guard FileManager.default.createFile(atPath: input.path, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw ExtractionError(message: "Cannot write a temporary copy of the PDF for pdftotext in \(input.path).")
        }
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable, "-enc", "UTF-8", "-eol", "unix", "-q", input.path, "-"]
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ExtractionError(
                message: "Cannot run pdftotext (\(error.localizedDescription)); install poppler-utils.")
        }
        let watchdog = Watchdog(process: process)
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { watchdog.stopIfRunning() }
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if watchdog.fired {
            throw ExtractionError(message: "pdftotext took longer than \(timeout) on this PDF and was stopped.")
        }
        switch process.terminationStatus {
        case 0: break
        case 127: throw ExtractionError(message: "pdftotext is not installed: install poppler-utils and ingest again.")
        case 1: throw ExtractionError(message: "The PDF is damaged or cannot be opened (pdftotext exit status 1).")
        case 3: throw ExtractionError(message: "The PDF does not permit copying its text (pdftotext exit status 3).")
        case let status: throw ExtractionError(message: "pdftotext failed on the PDF (exit status \(status)).")
        }
        var pages = String(decoding: text, as: UTF8.self).components(separatedBy: "\u{0C}")
        // The form feed ends each page, so the piece after the last one is empty.
        if pages.last?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true, pages.count > 1 {
            pages.removeLast()
        }
        return pages
    }
}

/// Stops a process that outlives its timeout and remembers that it did; the timer's thread and the waiting thread
/// share it, so its state is behind a lock (Process itself is thread-safe for `isRunning`).
private final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private let process: Process
    private var didFire = false

    init(process: Process) { self.process = process }

    func stopIfRunning() {
        lock.withLock {
            guard process.isRunning else { return }
            didFire = true
            // SIGKILL, not terminate()'s SIGTERM: a child can inherit a mask that blocks SIGTERM, and a wedged
            // parser gets no say.
            kill(process.processIdentifier, SIGKILL)
        }
    }

    var fired: Bool { lock.withLock { didFire } }
}
