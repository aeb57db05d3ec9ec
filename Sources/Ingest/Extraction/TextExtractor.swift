import Foundation

/// Why a file's text could not be read.
public struct ExtractionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Turns a file's bytes into ``ExtractedText``: decodes UTF-8 (or UTF-16 with a byte-order mark), extracts the
/// readable text of HTML, JSON and CSV, and finds the headings of Markdown and reStructuredText.
public struct TextExtractor: Sendable {
    public init() {}

    /// Whether the bytes look binary: a NUL in the first 8 KiB.
    public static func looksBinary(_ data: Data) -> Bool {
        data.prefix(8192).contains(0)
    }

    /// Extracts the text of `data`. A PDF runs `pdftotext` with ``PDFTextExtractor``'s defaults and blocks until it
    /// ends: call it off Swift concurrency's threads.
    public func extract(_ data: Data, format: DocumentFormat, fileName: String) throws -> ExtractedText {
        if format == .pdf { return try PDFTextExtractor().extract(data, fileName: fileName) }
        guard !Self.looksBinary(data) || Self.hasUTF16ByteOrderMark(data) else {
            throw ExtractionError(message: "The file holds binary data (NUL bytes), not \(format.rawValue) text.")
        }
        let text = try decode(data)
        let fallbackTitle = Self.title(fromFileName: fileName)
        switch format {
        case .markdown:
            return structured(text, style: .markdown, fallbackTitle: fallbackTitle)
        case .restructuredText:
            return structured(text, style: .restructuredText, fallbackTitle: fallbackTitle)
        case .plainText:
            return structured(text, style: .none, fallbackTitle: fallbackTitle)
        case .sourceCode:
            var extracted = structured(text, style: .none, fallbackTitle: fileName)
            extracted.isLineOriented = true
            return extracted
        case .html:
            let (markdown, htmlTitle) = HTMLTextExtractor().extract(text)
            var extracted = structured(markdown, style: .markdown, fallbackTitle: fallbackTitle)
            if let htmlTitle, !htmlTitle.isEmpty { extracted.title = htmlTitle }
            return extracted
        case .json:
            let flattened = try JSONFlattener().flatten(data)
            return structured(flattened, style: .none, fallbackTitle: fallbackTitle)
        case .csv:
            var extracted = structured(try CSVFlattener().flatten(text), style: .none, fallbackTitle: fallbackTitle)
            extracted.isLineOriented = true
            return extracted
        case .pdf:
            return try PDFTextExtractor().extract(data, fileName: fileName)
        }
    }

    private func structured(_ text: String, style: HeadingParser.Style, fallbackTitle: String) -> ExtractedText {
        // A NUL can still arrive decoded (`&#0;` in HTML, `\u0000` in JSON, UTF-16 text): PostgreSQL's text refuses
        // it, so it becomes a space (one scalar for one: offsets stay true).
        let scalars = text.unicodeScalars.map { $0 == "\u{0}" ? " " : $0 }
        let (sections, title) = HeadingParser().sections(of: scalars, style: style)
        return ExtractedText(scalars: scalars, sections: sections, title: title ?? fallbackTitle)
    }

    private func decode(_ data: Data) throws -> String {
        if Self.hasUTF16ByteOrderMark(data) {
            let encoding: String.Encoding = data.first == 0xFF ? .utf16LittleEndian : .utf16BigEndian
            guard let text = String(data: data.dropFirst(2), encoding: encoding) else {
                throw ExtractionError(message: "The file starts with a UTF-16 byte-order mark but is not valid UTF-16.")
            }
            return text
        }
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ExtractionError(message: "The file is not valid UTF-8 text. Convert it to UTF-8 and ingest it again.")
        }
        // Windows line endings stay as they are: offsets count code points, so "\r\n" must stay two of them; the
        // chunker and the heading parser treat "\r" as whitespace.
        return text
    }

    static func hasUTF16ByteOrderMark(_ data: Data) -> Bool {
        data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF])
    }

    /// "backup-and-restore_policy.md" → "backup and restore policy".
    static func title(fromFileName fileName: String) -> String {
        var name = fileName
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return name.replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "_", with: " ")
    }
}
