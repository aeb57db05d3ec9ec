/// Extracts the readable text of an HTML page as light Markdown: headings become `#` lines, list items `- `
/// lines, block elements paragraphs. Scripts, styles, comments and the head (but its title) are dropped.
struct HTMLTextExtractor {
    func extract(_ html: String) -> (text: String, title: String?) {
        let input = Array(html.unicodeScalars)
        var output = String.UnicodeScalarView()
        var title: String?
        var index = 0
        var preformatted = 0
        var pendingSpace = false

        func append(_ string: String) {
            output.append(contentsOf: string.unicodeScalars)
            pendingSpace = false
        }
        func appendText(_ scalar: Unicode.Scalar) {
            if preformatted == 0, scalar.properties.isWhitespace {
                pendingSpace = true
                return
            }
            if pendingSpace, let last = output.last, last != "\n", last != " " { output.append(" ") }
            pendingSpace = false
            output.append(scalar)
        }
        func newline(_ count: Int) {
            while output.last == " " { output.removeLast() }
            var trailing = 0
            for scalar in output.reversed() {
                guard scalar == "\n" else { break }
                trailing += 1
            }
            if !output.isEmpty, trailing < count {
                for _ in trailing..<count { output.append("\n") }
            }
            pendingSpace = false
        }

        while index < input.count {
            let scalar = input[index]
            if scalar == "<" {
                if matches(input, at: index, "<!--") {
                    index = find(input, "-->", from: index + 4).map { $0 + 3 } ?? input.count
                    continue
                }
                guard let close = input[index...].firstIndex(of: ">") else { break }
                let tag = String(String.UnicodeScalarView(input[(index + 1)..<close])).lowercased()
                let name = String(tag.prefix { $0.isLetter || $0.isNumber || $0 == "/" || $0 == "!" })
                index = close + 1
                switch name {
                case "script", "style", "noscript", "template", "svg", "head":
                    // Drop everything up to the closing tag; keep the head's title.
                    let end = find(input, "</\(name)", from: index, caseInsensitive: true) ?? input.count
                    if name == "head", let titleText = innerText(input[index..<end], tag: "title") {
                        title = titleText
                    }
                    index = end < input.count ? (input[end...].firstIndex(of: ">").map { $0 + 1 } ?? input.count) : end
                case "title":
                    let end = find(input, "</title", from: index, caseInsensitive: true) ?? input.count
                    title = decodeEntities(String(String.UnicodeScalarView(input[index..<end]))).trimmingWhitespace()
                    index = end < input.count ? (input[end...].firstIndex(of: ">").map { $0 + 1 } ?? input.count) : end
                case "h1", "h2", "h3", "h4", "h5", "h6":
                    newline(2)
                    append(String(repeating: "#", count: Int(String(name.dropFirst()))!) + " ")
                case "/h1", "/h2", "/h3", "/h4", "/h5", "/h6":
                    newline(2)
                case "li":
                    newline(1)
                    append("- ")
                case "br":
                    newline(1)
                case "pre":
                    newline(2)
                    preformatted += 1
                case "/pre":
                    preformatted = max(0, preformatted - 1)
                    newline(2)
                case "tr", "/tr", "dt", "dd":
                    newline(1)
                case "td", "th":
                    appendText(" ")
                case "p", "/p", "div", "/div", "section", "/section", "article", "/article", "ul", "/ul", "ol", "/ol",
                    "table", "/table", "blockquote", "/blockquote", "header", "/header", "footer", "/footer", "nav",
                    "/nav", "main", "/main", "aside", "/aside", "hr", "figure", "/figure", "dl", "/dl", "form", "/form":
                    newline(2)
                default:
                    break
                }
                continue
            }
            if scalar == "&", let semicolon = input[index...].prefix(12).firstIndex(of: ";") {
                let entity = String(String.UnicodeScalarView(input[index...semicolon]))
                let decoded = decodeEntities(entity)
                if decoded != entity {
                    for character in decoded.unicodeScalars { appendText(character) }
                    index = semicolon + 1
                    continue
                }
            }
            appendText(scalar)
            index += 1
        }
        return (String(output).trimmingWhitespace(), title)
    }

    private func innerText(_ slice: ArraySlice<Unicode.Scalar>, tag: String) -> String? {
        let scalars = Array(slice)
        guard let open = find(scalars, "<\(tag)", from: 0, caseInsensitive: true),
            let openEnd = scalars[open...].firstIndex(of: ">"),
            let close = find(scalars, "</\(tag)", from: openEnd, caseInsensitive: true)
        else { return nil }
        return decodeEntities(String(String.UnicodeScalarView(scalars[(openEnd + 1)..<close]))).trimmingWhitespace()
    }

    private func matches(_ input: [Unicode.Scalar], at index: Int, _ literal: String) -> Bool {
        let pattern = Array(literal.unicodeScalars)
        guard index + pattern.count <= input.count else { return false }
        return Array(input[index..<(index + pattern.count)]) == pattern
    }

    private func find(_ input: [Unicode.Scalar], _ literal: String, from start: Int, caseInsensitive: Bool = false)
        -> Int?
    {
        let pattern = Array((caseInsensitive ? literal.lowercased() : literal).unicodeScalars)
        guard !pattern.isEmpty, input.count >= pattern.count, start <= input.count - pattern.count else { return nil }
        var index = start
        while index <= input.count - pattern.count {
            var matched = true
            for offset in 0..<pattern.count {
                var scalar = input[index + offset]
                if caseInsensitive, ("A"..."Z").contains(scalar) { scalar = Unicode.Scalar(scalar.value + 32)! }
                if scalar != pattern[offset] {
                    matched = false
                    break
                }
            }
            if matched { return index }
            index += 1
        }
        return nil
    }

    func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var remainder = Substring(text)
        while let ampersand = remainder.firstIndex(of: "&") {
            result += remainder[..<ampersand]
            let rest = remainder[ampersand...]
            if let semicolon = rest.prefix(12).firstIndex(of: ";") {
                let name = String(rest[rest.index(after: ampersand)..<semicolon])
                if let decoded = decodeEntity(name) {
                    result += decoded
                    remainder = rest[rest.index(after: semicolon)...]
                    continue
                }
            }
            result += "&"
            remainder = rest.dropFirst()
        }
        return result + remainder
    }

    private func decodeEntity(_ name: String) -> String? {
        if name.hasPrefix("#x") || name.hasPrefix("#X") {
            return UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
        }
        if name.hasPrefix("#") {
            return UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
        }
        return Self.namedEntities[name]
    }

    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ndash": "\u{2013}",
        "mdash": "\u{2014}", "hellip": "\u{2026}", "copy": "\u{00A9}", "reg": "\u{00AE}", "euro": "\u{20AC}",
        "pound": "\u{00A3}", "laquo": "\u{00AB}", "raquo": "\u{00BB}", "rsquo": "\u{2019}", "lsquo": "\u{2018}",
        "rdquo": "\u{201D}", "ldquo": "\u{201C}", "middot": "\u{00B7}", "bull": "\u{2022}", "times": "\u{00D7}",
        "deg": "\u{00B0}",
    ]
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
