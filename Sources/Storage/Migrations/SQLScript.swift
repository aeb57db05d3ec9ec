import Foundation
/// Splits an SQL script into statements at top-level semicolons: not inside quotes (`'…'`, `E'…'`, `"…"`),
/// dollar quotes (`$$…$$`, `$tag$…$tag$`) or comments (`-- …`, nested `/* … */`). PostgreSQL's extended protocol
/// runs one statement at a time, so migrations are sent statement by statement.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        let scalars = Array(script.unicodeScalars)
        var statements: [String] = []
        var start = 0
        var index = 0
        var hasCode = false  // whether the current statement holds anything but white space and comments

        func emit(upTo end: Int) {
            if hasCode {
                let text = String(String.UnicodeScalarView(scalars[start..<end]))
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { statements.append(text) }
            }
            hasCode = false
        }

        while index < scalars.count {
            let scalar = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case "-" where next == "-":
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
            case "/" where next == "*":
                var depth = 1
                index += 2
                while index < scalars.count, depth > 0 {
                    if scalars[index] == "/", index + 1 < scalars.count, scalars[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if scalars[index] == "*", index + 1 < scalars.count, scalars[index + 1] == "/" {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                }
            case "'", "\"":
                hasCode = true
                let backslashEscapes =
                    scalar == "'" && index > 0 && (scalars[index - 1] == "E" || scalars[index - 1] == "e")
                index += 1
                while index < scalars.count {
                    if backslashEscapes, scalars[index] == "\\" {
                        index += 2
                        continue
                    }
                    if scalars[index] == scalar {
                        if index + 1 < scalars.count, scalars[index + 1] == scalar {
                            index += 2  // doubled quote
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
            case "$":
                hasCode = true
                // A dollar-quote tag: $$ or $identifier$.
                var tagEnd = index + 1
                while tagEnd < scalars.count, scalars[tagEnd].properties.isAlphabetic || scalars[tagEnd] == "_"
                    || (tagEnd > index + 1 && scalars[tagEnd].properties.numericType != nil)
                {
                    tagEnd += 1
                }
                if tagEnd < scalars.count, scalars[tagEnd] == "$" {
                    let tag = Array(scalars[index...tagEnd])
                    var cursor = tagEnd + 1
                    var closed = false
                    while cursor + tag.count <= scalars.count {
                        if scalars[cursor] == "$", Array(scalars[cursor..<(cursor + tag.count)]) == tag {
                            cursor += tag.count
                            closed = true
                            break
                        }
                        cursor += 1
                    }
                    index = closed ? cursor : scalars.count
                } else {
                    index += 1  // a positional parameter such as $1
                }
            case ";":
                emit(upTo: index)
                index += 1
                start = index
            default:
                if !scalar.properties.isWhitespace { hasCode = true }
                index += 1
            }
        }
        emit(upTo: scalars.count)
        return statements
    }
}
