import Deadlines
import Foundation
import Hummingbird
import NIOCore

/// Reads and writes JSON bodies with errors a client can act on.
enum JSONBody {
    /// Decodes the request body as `T`, after checking its size; decoding problems become 400s naming the field.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limits: ServerConfiguration.Limits) async throws -> T {
        try decode(T.self, from: try await collect(request, limits: limits))
    }

    /// Decodes the request body twice: as `T` and as `U` (a request's own fields and the appliance's extensions).
    static func decode<T: Decodable, U: Decodable>(
        _ type: T.Type, _ other: U.Type, from request: Request, limits: ServerConfiguration.Limits
    ) async throws -> (T, U) {
        let data = try await collect(request, limits: limits)
        return (try decode(T.self, from: data), try decode(U.self, from: data))
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                if let (field, number) = misfitNumber(T.self, in: data) {
                    throw APIError.invalidRequest(
                        "The field '\(field)' cannot hold \(number): it takes a whole number in range.")
                }
                // Foundation reports a number it cannot hold as broken JSON; say what it really is.
                switch Result(catching: { try JSONSerialization.jsonObject(with: data) }) {
                case .success:
                    throw APIError.invalidRequest(
                        "The request body is JSON, but a number in it does not fit its field (out of range, or a "
                            + "fraction where a whole number is expected).")
                case .failure(let failure) where String(describing: failure).contains("not representable"):
                    throw APIError.invalidRequest("The request body holds a number out of range (beyond a double's).")
                case .failure:
                    break
                }
            }
            throw APIError.invalidRequest(describe(error))
        }
    }

    /// Foundation's decoder on Linux reports a number that does not fit its field (`1.5` for an integer, a value
    /// beyond `Int`) as "not valid JSON", without the field. When the body is valid JSON, the top-level number
    /// whose removal lets it decode is that field. At most 16 candidates are tried.
    static func misfitNumber<T: Decodable>(_ type: T.Type, in data: Data) -> (field: String, number: String)? {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        let candidates = object.compactMap { key, value -> (String, NSNumber)? in
            guard let number = value as? NSNumber, !(value is Bool) else { return nil }
            let double = number.doubleValue
            return double.rounded() != double || abs(double) >= 9.2e18 ? (key, number) : nil
        }
        for (key, number) in candidates.sorted(by: { $0.0 < $1.0 }).prefix(16) {
            var reduced = object
            reduced[key] = nil
            guard let reducedData = try? JSONSerialization.data(withJSONObject: reduced) else { continue }
            do {
                _ = try JSONDecoder().decode(T.self, from: reducedData)
                return (ErrorMiddleware<BasicRequestContext>.bounded(key, 80), "\(number)")
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                continue
            } catch {
                // Another problem remains (a required field this body lacks): this number was the first one.
                return (ErrorMiddleware<BasicRequestContext>.bounded(key, 80), "\(number)")
            }
        }
        return nil
    }

    /// The request body, after checking its size, sent within ``ServerConfiguration/Limits/bodyTimeout``.
    static func collect(_ request: Request, limits: ServerConfiguration.Limits) async throws -> Data {
        let limit = limits.maximumBodyBytes
        let timeout = limits.bodyTimeout
        let buffer: ByteBuffer
        do {
            buffer = try await Deadlines.withTimeout(timeout) {
                APIError.requestTimeout(
                    "The request body did not arrive within \(timeout.components.seconds) s; send it at once.")
            } _: {
                var request = request
                return try await request.collectBody(upTo: limit)
            }
        } catch is NIOTooManyBytesError {
            throw APIError(
                status: .contentTooLarge, code: "body_too_large",
                message: "The request body is over the \(limit)-byte limit.")
        }
        guard buffer.readableBytes > 0 else { throw APIError.invalidRequest("The request body is empty; send a JSON object.") }
        return Data(buffer.readableBytesView)
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "The field '\(field(context.codingPath + [key]))' is required."
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            if context.codingPath.isEmpty { return "The request body must be a JSON object." }
            return "The field '\(field(context.codingPath))' must be \(typeName(type))."
        case .dataCorrupted(let context):
            // A number that does not fit its field (1.5 for an integer, 1e400) is reported on the field, not as
            // broken JSON.
            if let number = outOfRangeNumber(context) {
                return context.codingPath.isEmpty
                    ? "The number \(number) does not fit its field."
                    : "The field '\(field(context.codingPath))' cannot hold \(number): it takes a number in range (a whole number where one is expected)."
            }
            if context.codingPath.isEmpty { return "The request body is not valid JSON." }
            return "The field '\(field(context.codingPath))' is invalid: \(ErrorMiddleware<BasicRequestContext>.bounded(context.debugDescription, 200))"
        @unknown default:
            return "The request body could not be read."
        }
    }

    /// Foundation's decoder reports a number that does not fit (`1.5` for an `Int`, `1e400`) as corrupted data
    /// whose description names the number; the number, if so (cut short).
    static func outOfRangeNumber(_ context: DecodingError.Context) -> String? {
        let text = context.debugDescription
        guard text.contains("Number") || text.contains("number"), text.contains("fit") || text.contains("representable")
        else { return nil }
        guard let open = text.firstIndex(of: "<"), let close = text[open...].firstIndex(of: ">") else { return "the value" }
        return ErrorMiddleware<BasicRequestContext>.bounded(text[text.index(after: open)..<close], 40)
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "of another type"
        }
    }

    /// A question or message the body's `field` holds, trimmed: not empty, at most
    /// ``ServerConfiguration/Limits/maximumQuestionCharacters`` Unicode scalars ("a" with 150,000 combining marks is
    /// one grapheme but 150,001 scalars), no NUL.
    static func question(_ text: String, field: String, limits: ServerConfiguration.Limits) throws -> String {
        let question = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw APIError.invalidRequest("The field '\(field)' must not be empty.") }
        let length = question.unicodeScalars.count
        guard length <= limits.maximumQuestionCharacters else {
            throw APIError.invalidRequest(
                "The \(field) is \(length) characters long; the limit is \(limits.maximumQuestionCharacters).")
        }
        guard !question.unicodeScalars.contains("\u{0}") else {
            throw APIError.invalidRequest("The field '\(field)' must not contain NUL (U+0000) characters.")
        }
        return question
    }

    /// The body's `top_k`, or the default; outside `1...maximumTopK` it is a 400.
    static func topK(_ value: Int?, limits: ServerConfiguration.Limits) throws -> Int {
        let topK = value ?? limits.defaultTopK
        guard (1...limits.maximumTopK).contains(topK) else {
            throw APIError.invalidRequest("The field 'top_k' must be between 1 and \(limits.maximumTopK).")
        }
        return topK
    }

    /// A JSON response; `dates` writes dates as RFC 3339 strings.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, dates: Bool = false) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if dates { encoder.dateEncodingStrategy = .iso8601 }
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
