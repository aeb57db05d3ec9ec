import Foundation

/// The JSON of Ollama's model-management API (`/api/tags`, `/api/ps`, `/api/show`, `/api/delete`, `/api/pull`), as
/// ``OllamaAdminClient`` writes and reads it. Field names follow the wire (Ollama's `api/types.go`).
///
/// Reading is as lenient as Ollama's own Go types, where a missing field is its zero value: a missing or mistyped
/// field decodes to `nil` (or empty), never to an error, and a list entry that is not a model is dropped rather than
/// failing the whole list. Numbers are clamped into `0...Int64.max`, so `-1`, `1e300` or `3.5` from a broken or
/// hostile upstream cannot trap.
enum OllamaAdminWire {
    /// The body of `POST /api/show` and `DELETE /api/delete`: `{"model": "llama3.2"}`.
    struct ModelRequest: Encodable {
        var model: String
    }

    /// The body of `POST /api/pull`, as ollama-python sends it: `{"model", "insecure", "stream"}`.
    struct PullRequest: Encodable {
        var model: String
        var insecure: Bool
        var stream: Bool
    }

    /// `details` of a model in `/api/tags`, `/api/ps` and `/api/show` (Ollama's `api.ModelDetails`).
    struct Details: Decodable {
        var parentModel: String?
        var format: String?
        var family: String?
        var families: [String]
        var parameterSize: String?
        var quantizationLevel: String?

        private enum CodingKeys: String, CodingKey {
            case parentModel = "parent_model"
            case format, family, families
            case parameterSize = "parameter_size"
            case quantizationLevel = "quantization_level"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            parentModel = container.text(.parentModel)
            format = container.text(.format)
            family = container.text(.family)
            families = container.texts(.families)
            parameterSize = container.text(.parameterSize)
            quantizationLevel = container.text(.quantizationLevel)
        }

        init() {
            families = []
        }

        var attributes: OllamaModelAttributes {
            OllamaModelAttributes(
                format: format, family: family, families: families, parameterSize: parameterSize,
                quantizationLevel: quantizationLevel, parentModel: parentModel)
        }
    }

    /// One model of `/api/tags` (`api.ListModelResponse`) or `/api/ps` (`api.ProcessModelResponse`); the fields of
    /// the other endpoint stay `nil`.
    struct ListedModel: Decodable {
        var name: String
        var model: String
        var digest: String
        var size: Int64
        var modifiedAt: Date?
        var details: Details
        var sizeVRAM: Int64?
        var expiresAt: Date?
        var contextLength: Int?

        private enum CodingKeys: String, CodingKey {
            case name, model, digest, size, details
            case modifiedAt = "modified_at"
            case sizeVRAM = "size_vram"
            case expiresAt = "expires_at"
            case contextLength = "context_length"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // A model without a name cannot be addressed; the list drops it.
            guard let name = container.text(.name) ?? container.text(.model) else {
                throw DecodingError.keyNotFound(
                    CodingKeys.name, .init(codingPath: container.codingPath, debugDescription: "no name"))
            }
            self.name = name
            model = container.text(.model) ?? name
            digest = container.text(.digest) ?? ""
            size = container.count(.size) ?? 0
            modifiedAt = container.date(.modifiedAt)
            details = (try? container.decodeIfPresent(Details.self, forKey: .details)) ?? Details()
            sizeVRAM = container.count(.sizeVRAM)
            expiresAt = container.date(.expiresAt)
            contextLength = container.count(.contextLength).flatMap { $0 > 0 ? Int(clamping: $0) : nil }
        }
    }

    /// `{"models": [...]}` from `/api/tags` or `/api/ps`. `null` (Go's nil slice) is an empty list.
    struct ModelList: Decodable {
        var models: [ListedModel]

        private enum CodingKeys: String, CodingKey { case models }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let entries = try container.decodeIfPresent([Lossy<ListedModel>].self, forKey: .models) ?? []
            models = entries.compactMap(\.value)
        }
    }

    /// The answer of `POST /api/show`, with the fields the client reads. `model_info` keys keep their dots
    /// (`llama.context_length`), so no key strategy may be applied to this type.
    struct ShowResponse: Decodable {
        var details: Details
        var modelInfo: [String: OllamaWire.InfoValue]
        var capabilities: [String]
        var modifiedAt: Date?

        private enum CodingKeys: String, CodingKey {
            case details, capabilities
            case modelInfo = "model_info"
            case modifiedAt = "modified_at"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            details = (try? container.decodeIfPresent(Details.self, forKey: .details)) ?? Details()
            modelInfo = (try? container.decodeIfPresent([String: OllamaWire.InfoValue].self, forKey: .modelInfo)) ?? [:]
            capabilities = container.texts(.capabilities)
            modifiedAt = container.date(.modifiedAt)
        }

        /// The integer `model_info["<architecture>.<suffix>"]`: the declared architecture's key first
        /// (`general.architecture`), else the first key with that suffix in sorted order. Only positive values count.
        func architectureValue(_ suffix: String) -> Int64? {
            func positive(_ value: OllamaWire.InfoValue?) -> Int64? {
                value?.integer.flatMap { $0 > 0 ? Int64($0) : nil }
            }
            if let architecture = modelInfo["general.architecture"]?.string,
                let exact = positive(modelInfo["\(architecture).\(suffix)"])
            {
                return exact
            }
            return modelInfo.keys.sorted().lazy.filter { $0.hasSuffix(".\(suffix)") }.compactMap {
                positive(modelInfo[$0])
            }.first
        }
    }

    /// One line of `POST /api/pull`'s NDJSON (`api.ProgressResponse`), or `{"error": "…"}` when the pull failed after
    /// the 200 was sent.
    struct PullLine: Decodable {
        var status: String?
        var digest: String?
        var total: Int64?
        var completed: Int64?
        var error: String?

        private enum CodingKeys: String, CodingKey { case status, digest, total, completed, error }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            status = container.text(.status)
            digest = container.text(.digest)
            total = container.count(.total)
            completed = container.count(.completed)
            error = container.text(.error)
        }
    }

    /// A list element that may fail to decode; the list keeps the others.
    struct Lossy<Value: Decodable>: Decodable {
        var value: Value?

        init(from decoder: any Decoder) throws {
            value = try? Value(from: decoder)
        }
    }

    // MARK: Values

    /// The longest string kept from a field: 1 KiB. Names, digests and statuses are far shorter.
    static let maximumFieldLength = 1024

    /// `value` clamped into `0...Int64.max`: Ollama's sizes and counts are never negative, and a number beyond
    /// `Int64` (or a fraction) from a broken upstream must not trap.
    static func clampedCount(_ value: Double) -> Int64 {
        guard value.isFinite, value > 0 else { return 0 }
        // 2^63 as a Double; every Double below it converts exactly into Int64's range.
        if value >= 9_223_372_036_854_775_808.0 { return .max }
        return Int64(value)
    }

    /// Parses Ollama's RFC 3339 times (`2025-05-04T17:37:44.706015396-07:00`, up to nanoseconds, any offset). Go's
    /// zero time (`0001-01-01T00:00:00Z`, sent for "never") and anything unparsable are `nil`.
    static func date(_ text: String) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        var base = Substring(text)
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let digitsStart = text.index(after: dot)
            let digitsEnd = text[digitsStart...].firstIndex { !("0"..."9").contains($0) } ?? text.endIndex
            let digits = text[digitsStart..<digitsEnd]
            guard !digits.isEmpty, let value = Double("0." + digits) else { return nil }
            fraction = value
            base = text[..<dot] + text[digitsEnd...]
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: String(base)) else { return nil }
        let result = date.addingTimeInterval(fraction)
        return result.timeIntervalSince1970 > 0 ? result : nil
    }
}

extension KeyedDecodingContainer {
    /// A non-empty string (at most ``OllamaAdminWire/maximumFieldLength`` characters), or `nil` when the field is
    /// missing, empty or not a string.
    fileprivate func text(_ key: Key) -> String? {
        guard let value = (try? decodeIfPresent(String.self, forKey: key)) ?? nil, !value.isEmpty else { return nil }
        return String(value.prefix(OllamaAdminWire.maximumFieldLength))
    }

    /// The non-empty strings of an array field (at most 256); empty when the field is missing or not an array.
    fileprivate func texts(_ key: Key) -> [String] {
        let values = (try? decodeIfPresent([OllamaAdminWire.Lossy<String>].self, forKey: key)) ?? nil
        return (values ?? []).lazy.compactMap(\.value).filter { !$0.isEmpty }.prefix(256).map {
            String($0.prefix(OllamaAdminWire.maximumFieldLength))
        }
    }

    /// Any JSON number clamped into `0...Int64.max`; `nil` when the field is missing or not a number.
    fileprivate func count(_ key: Key) -> Int64? {
        if let value = (try? decodeIfPresent(Int64.self, forKey: key)) ?? nil { return max(0, value) }
        if let value = (try? decodeIfPresent(Double.self, forKey: key)) ?? nil {
            return OllamaAdminWire.clampedCount(value)
        }
        return nil
    }

    /// An RFC 3339 time; `nil` when missing, unparsable or Go's zero time.
    fileprivate func date(_ key: Key) -> Date? {
        text(key).flatMap(OllamaAdminWire.date)
    }
}
