import Foundation
import NIOHTTP1

/// What HeadObject and GetObject say about an object.
public struct ObjectInfo: Sendable, Hashable {
    /// The object's key.
    public var key: String
    /// The whole object's size in bytes, also for a ranged read.
    public var size: Int
    /// The ETag without quotes: the MD5 in hex for a plain upload, `<hex>-<parts>` for a multipart one.
    public var etag: String
    /// When the object was last written.
    public var lastModified: Date?
    /// The `Content-Type` it was stored with.
    public var contentType: String?
    /// User metadata (`x-amz-meta-*`), names lowercased and without the prefix.
    public var metadata: [String: String]
    /// The SHA-256 checksum the server stored, base64; `<base64>-<parts>` for a multipart upload's composite one.
    /// `nil` when the object was stored without one.
    public var checksumSHA256: String?
    /// For a ranged read, the bytes this answer carries, both ends included.
    public var range: ClosedRange<Int>?

    /// Object information, for callers that build it themselves (fakes in tests).
    public init(
        key: String, size: Int, etag: String, lastModified: Date? = nil, contentType: String? = nil,
        metadata: [String: String] = [:], checksumSHA256: String? = nil, range: ClosedRange<Int>? = nil
    ) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
        self.metadata = metadata
        self.checksumSHA256 = checksumSHA256
        self.range = range
    }

    /// Reads the response headers of a HEAD or GET.
    init(key: String, headers: HTTPHeaders, status: Int) {
        var metadata: [String: String] = [:]
        for header in headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
            metadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
        }
        let length = headers.first(name: "content-length").flatMap(Int.init) ?? 0
        // `Content-Range: bytes 0-4/1100`: the range and the whole size.
        var range: ClosedRange<Int>?
        var size = length
        if status == 206, let contentRange = headers.first(name: "content-range"),
            let spec = contentRange.split(separator: " ").last
        {
            let parts = spec.split(separator: "/")
            let bounds = parts.first?.split(separator: "-").compactMap { Int($0) } ?? []
            if bounds.count == 2, bounds[0] <= bounds[1] { range = bounds[0]...bounds[1] }
            if parts.count == 2, let total = Int(parts[1]) { size = total }
        }
        self.init(
            key: key, size: size, etag: S3Client.unquoted(headers.first(name: "etag") ?? ""),
            lastModified: headers.first(name: "last-modified").flatMap(S3Date.parseHTTP),
            contentType: headers.first(name: "content-type"), metadata: metadata,
            checksumSHA256: headers.first(name: "x-amz-checksum-sha256"), range: range)
    }
}

/// An object stored by ``S3Client/put(_:at:contentType:metadata:)`` or ``S3Client/upload(from:to:contentType:metadata:sizeHint:)``.
public struct UploadedObject: Sendable, Hashable {
    /// The key it was stored under.
    public var key: String
    /// The ETag the server gave it, without quotes.
    public var etag: String
    /// Bytes stored.
    public var size: Int
    /// The SHA-256 checksum the server verified, base64: of the whole body for a single PutObject, S3's composite
    /// `<base64>-<parts>` (the SHA-256 of the parts' SHA-256s) for a multipart upload. `nil` when uploaded with
    /// ``S3Client/Configuration/Checksum/contentMD5``.
    public var checksumSHA256: String?
    /// The number of parts, `nil` for a single PutObject.
    public var partCount: Int?
    /// The SHA-256 of the whole body in hex, when the client hashed it whole
    /// (``S3Client/uploadFile(at:to:contentType:metadata:expectingSHA256:)``); `nil` otherwise.
    public var contentSHA256: String? = nil
}

/// Dates as S3 writes them: ISO 8601 in XML (`2026-11-29T22:43:35.000Z`), RFC 1123 in headers
/// (`Sun, 29 Nov 2026 22:43:41 GMT`). Parsed by hand: both are fixed formats, and Foundation's formatters are slow
/// and not thread-safe to share.
enum S3Date {
    /// `yyyy-MM-ddTHH:mm:ss[.fff]Z`.
    static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes.last == UInt8(ascii: "Z"),
            let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10]),
            let hour = number(bytes[11..<13]), let minute = number(bytes[14..<16]),
            let second = number(bytes[17..<19])
        else { return nil }
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = bytes[20..<(bytes.count - 1)]
            guard !digits.isEmpty, let value = number(digits) else { return nil }
            fraction = Double(value) / pow(10, Double(digits.count))
        } else if bytes.count != 20 {
            return nil
        }
        return date(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }

    /// `EEE, dd MMM yyyy HH:mm:ss GMT`.
    static func parseHTTP(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]), let year = Int(fields[3]),
            let month = months.firstIndex(of: String(fields[2])).map({ $0 + 1 })
        else { return nil }
        let time = fields[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        return date(year: year, month: month, day: day, hour: time[0], minute: time[1], second: time[2], fraction: 0)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard digits.count <= 18 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Howard Hinnant's days_from_civil: the proleptic Gregorian calendar, in UTC.
    private static func date(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: Double
    ) -> Date? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
