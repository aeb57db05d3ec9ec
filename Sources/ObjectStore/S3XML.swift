/// The little XML S3 speaks: a tolerant parser into a tree of elements, and the escaping for the bodies we send.
///
/// Hand-written rather than Foundation's `XMLParser`, which on Linux lives in FoundationXML and links libxml2: S3's
/// documents are small, flat and namespace-free in practice, and a hundred lines read them without a system library.
/// Attributes and namespace prefixes are ignored; comments, processing instructions, DOCTYPEs and CDATA are handled;
/// entities (`&amp;`, `&#34;`, `&#x22;`) are decoded.
struct S3XML: Sendable, Equatable {
    /// The element's local name, without any namespace prefix.
    var name: String
    /// The element's own text, entities decoded, not trimmed (keys may end in spaces).
    var text: String
    var children: [S3XML]

    /// The first child element named `name`.
    subscript(_ name: String) -> S3XML? { children.first { $0.name == name } }

    /// Every child element named `name`, in document order.
    func all(_ name: String) -> [S3XML] { children.filter { $0.name == name } }

    /// The text of the first child element named `name`.
    func text(_ name: String) -> String? { self[name]?.text }

    /// Why a document could not be read.
    struct ParseError: Error, Sendable, CustomStringConvertible {
        var reason: String
        var offset: Int
        var description: String { "malformed XML at byte \(offset): \(reason)" }
    }

    /// Documents nest no deeper than this; a deeper one is refused rather than followed.
    static let maximumDepth = 32

    /// Parses a document and returns its root element.
    static func parse(_ bytes: some Collection<UInt8>) throws -> S3XML {
        var parser = Parser(bytes: Array(bytes))
        return try parser.document()
    }

    // MARK: Writing

    /// Escapes text for element content: `&`, `<`, `>`, quotes, and control characters as character references.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "&#x" + String(scalar.value, radix: 16, uppercase: true) + ";"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: Parsing

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws -> S3XML {
            // Prolog: the declaration, comments, processing instructions, a DOCTYPE, whitespace.
            while true {
                skipWhitespace()
                guard index < bytes.count else { throw error("no root element") }
                guard bytes[index] == UInt8(ascii: "<") else { throw error("text before the root element") }
                if try skipMarkup() { continue }
                return try element(depth: 0)
            }
        }

        /// Skips a comment, processing instruction or declaration at `index` (which is at `<`); false if the markup
        /// there is an element tag.
        private mutating func skipMarkup() throws -> Bool {
            if starts(with: "<?") {
                try skip(past: "?>")
                return true
            }
            if starts(with: "<!--") {
                try skip(past: "-->")
                return true
            }
            if starts(with: "<!") && !starts(with: "<![CDATA[") {
                try skip(past: ">")
                return true
            }
            return false
        }

        /// Parses the element whose start tag begins at `index`.
        private mutating func element(depth: Int) throws -> S3XML {
            guard depth < S3XML.maximumDepth else { throw error("nested deeper than \(S3XML.maximumDepth)") }
            index += 1  // <
            let name = readName()
            guard !name.isEmpty else { throw error("an element without a name") }
            // Attributes are skipped, quoted values included (a `>` may sit inside one).
            var selfClosing = false
            while true {
                guard index < bytes.count else { throw error("an unterminated start tag") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    index += 1
                    while index < bytes.count, bytes[index] != byte { index += 1 }
                    index += 1
                } else if byte == UInt8(ascii: "/") {
                    selfClosing = true
                    index += 1
                } else if byte == UInt8(ascii: ">") {
                    index += 1
                    break
                } else {
                    selfClosing = false
                    index += 1
                }
            }
            var node = S3XML(name: Self.localName(name), text: "", children: [])
            if selfClosing { return node }
            var text: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("<\(name)> is not closed") }
                if bytes[index] != UInt8(ascii: "<") {
                    try appendText(to: &text)
                    continue
                }
                if starts(with: "<![CDATA[") {
                    index += 9
                    guard let end = find("]]>") else { throw error("an unterminated CDATA section") }
                    text.append(contentsOf: bytes[index..<end])
                    index = end + 3
                } else if starts(with: "</") {
                    index += 2
                    let closing = readName()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else {
                        throw error("a malformed end tag")
                    }
                    index += 1
                    guard closing == name else { throw error("</\(closing)> closes <\(name)>") }
                    node.text = String(decoding: text, as: UTF8.self)
                    return node
                } else if try skipMarkup() {
                    continue
                } else {
                    node.children.append(try element(depth: depth + 1))
                }
            }
        }

        /// Appends text up to the next `<`, decoding entities.
        private mutating func appendText(to text: inout [UInt8]) throws {
            while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
                if bytes[index] == UInt8(ascii: "&") {
                    try appendEntity(to: &text)
                } else {
                    text.append(bytes[index])
                    index += 1
                }
            }
        }

        private mutating func appendEntity(to text: inout [UInt8]) throws {
            guard let end = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                // A bare `&`: tolerated as itself.
                text.append(bytes[index])
                index += 1
                return
            }
            let entity = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
            let scalar: Unicode.Scalar?
            switch entity {
            case "amp": scalar = "&"
            case "lt": scalar = "<"
            case "gt": scalar = ">"
            case "quot": scalar = "\""
            case "apos": scalar = "'"
            default:
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                } else {
                    scalar = nil
                }
            }
            guard let scalar else { throw error("an unknown entity &\(entity);") }
            text.append(contentsOf: String(Character(scalar)).utf8)
            index = end + 1
        }

        private mutating func readName() -> String {
            let start = index
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"),
                    UInt8(ascii: ">"), UInt8(ascii: "/"):
                    return String(decoding: bytes[start..<index], as: UTF8.self)
                default: index += 1
                }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        private static func localName(_ name: String) -> String {
            guard let colon = name.lastIndex(of: ":") else { return name }
            return String(name[name.index(after: colon)...])
        }

        private mutating func skipWhitespace() {
            while index < bytes.count,
                [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(bytes[index])
            {
                index += 1
            }
        }

        private func starts(with prefix: String) -> Bool {
            bytes[index...].starts(with: prefix.utf8)
        }

        /// The index where `terminator` next starts, from `index` on.
        private func find(_ terminator: String) -> Int? {
            let pattern = Array(terminator.utf8)
            guard bytes.count >= pattern.count else { return nil }
            var position = index
            while position + pattern.count <= bytes.count {
                if bytes[position] == pattern[0], bytes[position..<(position + pattern.count)].elementsEqual(pattern) {
                    return position
                }
                position += 1
            }
            return nil
        }

        private mutating func skip(past terminator: String) throws {
            guard let end = find(terminator) else { throw error("unterminated markup") }
            index = end + terminator.utf8.count
        }

        private func error(_ reason: String) -> ParseError { ParseError(reason: reason, offset: index) }
    }
}
