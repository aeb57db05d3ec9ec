/// Splits Markdown (ATX `#` and setext headings) and reStructuredText (underlined and overlined titles) into
/// sections with heading paths. Fenced code blocks are never mistaken for headings.
struct HeadingParser {
    enum Style { case markdown, restructuredText, none }

    func sections(of scalars: [Unicode.Scalar], style: Style) -> (sections: [ExtractedText.Section], title: String?) {
        guard style != .none else {
            return (scalars.isEmpty ? [] : [.init(headingPath: [], range: 0..<scalars.count)], nil)
        }
        let lines = lineRanges(scalars)
        var headings: [(lineIndex: Int, start: Int, level: Int, text: String, bodyLineSkip: Int)] = []
        var inFence = false
        var fenceMarker: [Unicode.Scalar] = []
        var rstLevels: [String] = []  // punctuation styles in order of first use
        var index = 0
        while index < lines.count {
            let line = Array(scalars[lines[index]])
            let trimmed = trimmedScalars(line)
            if style == .markdown, trimmed.count >= 3, trimmed.prefix(3).allSatisfy({ $0 == "`" })
                || trimmed.prefix(3).allSatisfy({ $0 == "~" })
            {
                let marker = Array(trimmed.prefix(3))
                if !inFence {
                    inFence = true
                    fenceMarker = marker
                } else if marker == fenceMarker {
                    inFence = false
                }
                index += 1
                continue
            }
            if inFence {
                index += 1
                continue
            }
            if style == .markdown, let (level, text) = atxHeading(line) {
                headings.append((index, lines[index].lowerBound, level, text, 0))
                index += 1
                continue
            }
            // Setext (Markdown) and underlined titles (reStructuredText).
            if index + 1 < lines.count, !trimmed.isEmpty, !isAdornment(trimmed) {
                let next = trimmedScalars(Array(scalars[lines[index + 1]]))
                if isAdornment(next), next.count >= min(3, trimmed.count) {
                    let character = String(next[0])
                    var level: Int?
                    switch style {
                    case .markdown:
                        if next.count >= 3 && (character == "=" || character == "-") { level = character == "=" ? 1 : 2 }
                    case .restructuredText:
                        let overlined = index > 0 && isAdornment(trimmedScalars(Array(scalars[lines[index - 1]])))
                        let key = (overlined ? "over" : "") + character
                        if !rstLevels.contains(key) { rstLevels.append(key) }
                        level = rstLevels.firstIndex(of: key)! + 1
                    case .none:
                        break
                    }
                    if let level {
                        let overlined = style == .restructuredText && index > 0
                            && isAdornment(trimmedScalars(Array(scalars[lines[index - 1]])))
                        let start = overlined ? lines[index - 1].lowerBound : lines[index].lowerBound
                        headings.append((index, start, level, String(String.UnicodeScalarView(trimmed)), 1))
                        index += 2
                        continue
                    }
                }
            }
            index += 1
        }

        var sections: [ExtractedText.Section] = []
        if let first = headings.first, first.start > 0, hasContent(scalars[0..<first.start]) {
            sections.append(.init(headingPath: [], range: 0..<first.start))
        } else if headings.isEmpty, !scalars.isEmpty {
            sections.append(.init(headingPath: [], range: 0..<scalars.count))
        }
        var stack: [(level: Int, text: String)] = []
        for (position, heading) in headings.enumerated() {
            while let last = stack.last, last.level >= heading.level { stack.removeLast() }
            stack.append((heading.level, heading.text))
            let end = position + 1 < headings.count ? headings[position + 1].start : scalars.count
            sections.append(.init(headingPath: stack.map(\.text), range: heading.start..<end))
        }
        let title = headings.min(by: { $0.level < $1.level })?.text
        return (sections, title)
    }

    private func atxHeading(_ line: [Unicode.Scalar]) -> (Int, String)? {
        var index = 0
        while index < line.count, index < 3, line[index] == " " { index += 1 }
        var level = 0
        while index < line.count, line[index] == "#" {
            level += 1
            index += 1
        }
        guard (1...6).contains(level), index == line.count || line[index] == " " || line[index] == "\t" else {
            return nil
        }
        var text = trimmedScalars(Array(line[index...]))
        while text.last == "#" { text.removeLast() }
        let heading = String(String.UnicodeScalarView(trimmedScalars(text)))
        return heading.isEmpty ? nil : (level, heading)
    }

    private func isAdornment(_ line: [Unicode.Scalar]) -> Bool {
        guard let first = line.first, line.count >= 2 else { return false }
        return "=-~^\"'`#*+:.".unicodeScalars.contains(first) && line.allSatisfy { $0 == first }
    }

    private func hasContent(_ slice: ArraySlice<Unicode.Scalar>) -> Bool {
        slice.contains { !$0.properties.isWhitespace }
    }

    func lineRanges(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for (index, scalar) in scalars.enumerated() where scalar == "\n" {
            ranges.append(start..<index)
            start = index + 1
        }
        if start < scalars.count { ranges.append(start..<scalars.count) }
        return ranges
    }

    private func trimmedScalars(_ line: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var lower = 0
        var upper = line.count
        while lower < upper, line[lower].properties.isWhitespace { lower += 1 }
        while upper > lower, line[upper - 1].properties.isWhitespace { upper -= 1 }
        return Array(line[lower..<upper])
    }
}
