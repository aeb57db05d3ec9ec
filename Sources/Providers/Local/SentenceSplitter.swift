/// Finds sentence boundaries in prose: after `.`, `!`, `?` (and their CJK forms) followed by white space, and at
/// blank lines and line-oriented blocks (list items, table rows, headings). Abbreviations ("e.g.", "Dr.") and
/// numbers ("3.5") do not end a sentence.
public struct SentenceSplitter: Sendable {
    public init() {}

    /// The sentences of `scalars` as half-open ranges of scalar offsets, trimmed of surrounding white space.
    /// Every non-blank scalar lies in exactly one range.
    public func sentenceRanges(in scalars: ArraySlice<Unicode.Scalar>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = scalars.startIndex
        var index = scalars.startIndex
        let end = scalars.endIndex

        func emit(_ upperBound: Int) {
            var lower = start
            var upper = upperBound
            while lower < upper, scalars[lower].properties.isWhitespace { lower += 1 }
            while upper > lower, scalars[upper - 1].properties.isWhitespace { upper -= 1 }
            if lower < upper { ranges.append(lower..<upper) }
            start = upperBound
        }

        while index < end {
            let scalar = scalars[index]
            if scalar == "\n" {
                // A line break ends a sentence when the next line starts a new block.
                let next = index + 1
                if next >= end || startsBlock(scalars, at: next) || endsLineBlock(scalars, lineEnd: index, from: start) {
                    emit(next)
                }
                index = next
                continue
            }
            if Self.terminators.contains(scalar) {
                var after = index + 1
                // Closing quotes and brackets belong to the sentence they end.
                while after < end, Self.closers.contains(scalars[after]) { after += 1 }
                if Self.ideographicTerminators.contains(scalar) {
                    emit(after)
                    index = after
                    continue
                }
                if after >= end || scalars[after].properties.isWhitespace,
                    !isAbbreviation(scalars, dotAt: index, from: start)
                {
                    emit(after)
                    index = after
                    continue
                }
            }
            index += 1
        }
        emit(end)
        return ranges
    }

    /// A blank line, a list item, a heading or a table row begins a new block.
    private func startsBlock(_ scalars: ArraySlice<Unicode.Scalar>, at index: Int) -> Bool {
        var cursor = index
        while cursor < scalars.endIndex, scalars[cursor] == " " || scalars[cursor] == "\t" { cursor += 1 }
        guard cursor < scalars.endIndex else { return true }
        let first = scalars[cursor]
        if first == "\n" || first == "#" || first == "|" || first == ">" { return true }
        if first == "-" || first == "*" || first == "+" || first == "\u{2022}" {
            return cursor + 1 < scalars.endIndex && scalars[cursor + 1] == " "
        }
        // "1. item" or "1) item"
        var digits = cursor
        while digits < scalars.endIndex, scalars[digits].properties.numericType != nil, digits - cursor < 4 {
            digits += 1
        }
        if digits > cursor, digits + 1 < scalars.endIndex, scalars[digits] == "." || scalars[digits] == ")",
            scalars[digits + 1] == " "
        {
            return true
        }
        return false
    }

    /// A heading, list item or table row ends at its line break.
    private func endsLineBlock(_ scalars: ArraySlice<Unicode.Scalar>, lineEnd: Int, from sentenceStart: Int) -> Bool {
        var lineStart = lineEnd
        while lineStart > sentenceStart, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
        return lineStart == sentenceStart ? startsBlock(scalars, at: lineStart) : false
    }

    private func isAbbreviation(_ scalars: ArraySlice<Unicode.Scalar>, dotAt index: Int, from start: Int) -> Bool {
        guard scalars[index] == "." else { return false }
        var wordStart = index
        while wordStart > start, scalars[wordStart - 1].properties.isAlphabetic || scalars[wordStart - 1] == "." {
            wordStart -= 1
        }
        let word = String(String.UnicodeScalarView(scalars[wordStart..<index])).lowercased()
        if Self.abbreviations.contains(word) { return true }
        // Initials such as "J." and dotted forms such as "e.g" and "u.s".
        if word.count == 1, scalars[wordStart].properties.isUppercase { return true }
        if word.contains(".") { return true }
        // The next word starts in lower case: "approx. five" is one sentence.
        var next = index + 1
        while next < scalars.endIndex, scalars[next] == " " { next += 1 }
        if next < scalars.endIndex, scalars[next].properties.isLowercase { return true }
        return false
    }

    private static let terminators: Set<Unicode.Scalar> = [".", "!", "?", "\u{3002}", "\u{FF01}", "\u{FF1F}"]
    private static let ideographicTerminators: Set<Unicode.Scalar> = ["\u{3002}", "\u{FF01}", "\u{FF1F}"]
    private static let closers: Set<Unicode.Scalar> = ["\"", "'", ")", "]", "\u{201D}", "\u{2019}", "*", "_"]
    private static let abbreviations: Set<String> = [
        "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "no", "fig", "approx", "inc",
        "ltd", "co", "corp", "dept", "est", "min", "max", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec",
    ]
}
