import Foundation

/// Decodes upstream JSON into wire types. Failures become `malformedResponse` errors whose reasons name only what
/// was expected and our own field names, never values from the body (which could echo a key or the prompt).
enum WireDecoding {
    /// Decodes `data` as `type` with `decoder`; a failure throws `malformedResponse` with the reason `reason` gives
    /// for the decoding error.
    static func decode<Value: Decodable>(
        _ type: Value.Type, from data: Data, decoder: JSONDecoder, provider: String,
        reason: (any Error) -> String
    ) throws -> Value {
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw ProviderError.malformedResponse(provider: provider, reason: reason(error))
        }
    }

    /// Decodes `data` as `type` with `decoder`; a failure throws `malformedResponse` saying where `what` (e.g.
    /// "the chat completion") went wrong, as ``reason(for:decoding:)`` puts it.
    static func decode<Value: Decodable>(
        _ type: Value.Type, from data: Data, decoder: JSONDecoder, what: String, provider: String
    ) throws -> Value {
        try decode(type, from: data, decoder: decoder, provider: provider) { reason(for: $0, decoding: what) }
    }

    /// Why decoding `what` failed, naming only our own field names (never values from the body).
    static func reason(for error: any Error, decoding what: String) -> String {
        guard let error = error as? DecodingError else { return "\(what) is not valid JSON" }
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty
                ? "the top level"
                : "'"
                    + codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
                    .joined(separator: ".") + "'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(what) lacks '\(key.stringValue)' at \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(what) has an unexpected value at \(path(context.codingPath))"
        case .dataCorrupted:
            return "\(what) is not valid JSON"
        @unknown default:
            return "\(what) could not be decoded"
        }
    }
}
