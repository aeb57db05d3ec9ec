import Foundation
import Hummingbird
import NIOCore

/// Reads and writes JSON bodies with errors a client can act on.
enum JSONBody {
    /// Decodes the request body as `T`, after checking its size; decoding problems become 400s naming the field.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try decode(T.self, from: try await collect(request, limit: limit))
    }

    /// Decodes the request body twice: as `T` and as `U` (a request's own fields and the appliance's extensions).
    static func decode<T: Decodable, U: Decodable>(_ type: T.Type, _ other: U.Type, from request: Request, limit: Int)
        async throws -> (T, U)
    {
        let data = try await collect(request, limit: limit)
        return (try decode(T.self, from: data), try decode(U.self, from: data))
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.invalidRequest(describe(error))
        }
    }

    /// The request body, after checking its size.
    static func collect(_ request: Request, limit: Int) async throws -> Data {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
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
            if context.codingPath.isEmpty { return "The request body is not valid JSON." }
            return "The field '\(field(context.codingPath))' is invalid: \(context.debugDescription)"
        @unknown default:
            return "The request body could not be read."
        }
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

    /// A JSON response.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
