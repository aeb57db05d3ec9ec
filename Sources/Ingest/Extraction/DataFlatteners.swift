import Foundation

/// Renders JSON as one `path: value` line per leaf, so its facts read as sentences.
struct JSONFlattener {
    func flatten(_ data: Data) throws -> String {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw ExtractionError(message: "The file is not valid JSON (\(error.localizedDescription)).")
        }
        var lines: [String] = []
        walk(value, path: "", into: &lines)
        return lines.joined(separator: "\n")
    }

    private func walk(_ value: Any, path: String, into lines: inout [String]) {
        switch value {
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                walk(object[key]!, path: path.isEmpty ? key : "\(path).\(key)", into: &lines)
            }
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                // A blank line between the records of a list keeps each record together.
                if index > 0, element is [String: Any] { lines.append("") }
                walk(element, path: "\(path)[\(index)]", into: &lines)
            }
        case is NSNull:
            lines.append("\(path): null")
        case let string as String:
            lines.append(path.isEmpty ? string : "\(path): \(string)")
        case let number as NSNumber:
            // Booleans arrive as NSNumber too; their class name tells them apart.
            let isBoolean = String(describing: type(of: number)).contains("Boolean")
            lines.append("\(path): \(isBoolean ? (number.boolValue ? "true" : "false") : "\(number)")")
        default:
            lines.append(path.isEmpty ? "\(value)" : "\(path): \(value)")
        }
    }
}

/// Renders CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) as one line per record,
/// `Header: value; Header: value.`
struct CSVFlattener {
    func flatten(_ text: String) throws -> String {
        let records = try parse(text)
        guard let header = records.first else { return "" }
        return records.dropFirst().filter { !$0.allSatisfy(\.isEmpty) }.map { record in
            zip(header, record).filter { !$0.1.isEmpty }.map { "\($0.0): \($0.1)" }.joined(separator: "; ") + "."
        }.joined(separator: "\n")
    }

    func parse(_ text: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if inQuotes {
                if scalar == "\"" {
                    if index < scalars.count, scalars[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty:
                inQuotes = true
            case ",":
                record.append(String(field).trimmingWhitespace())
                field = String.UnicodeScalarView()
            case "\r":
                continue
            case "\n":
                record.append(String(field).trimmingWhitespace())
                records.append(record)
                record = []
                field = String.UnicodeScalarView()
            default:
                field.append(scalar)
            }
        }
        if inQuotes {
            throw ExtractionError(message: "The CSV file ends inside a quoted field (a closing \" is missing).")
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(String(field).trimmingWhitespace())
            records.append(record)
        }
        return records
    }
}
