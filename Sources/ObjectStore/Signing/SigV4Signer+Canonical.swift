import Foundation

// The canonical request is built as UTF-8 bytes in buffers on the stack, copying runs of bytes rather than single ones,
// and copied out once: signing sits on every S3 call, and intermediate arrays and Strings would cost more than the
// SHA-256 passes do. Every buffer is sized for its worst case before anything is written into it.

extension SigV4Signer {
    /// A name and a value as offsets into a scratch buffer.
    fileprivate typealias Entry = (name: Range<Int>, value: Range<Int>)

    /// A canonical request and the wire forms of its path and query, which must match it byte for byte.
    struct CanonicalRequest {
        var bytes: [UInt8]
        /// The percent-encoded path, as sent.
        var path: String
        /// The sorted, percent-encoded query, as sent; empty when there is none.
        var query: String
        /// Where the signed-headers line is in `bytes`: the `Authorization` header repeats it.
        var signedHeaders: Range<Int>
    }

    /// Builds the canonical request: method, canonical URI, canonical query, canonical headers, signed headers and
    /// payload hash, one per line.
    static func canonicalRequest(
        method: String, path: String, normalizingPath: Bool, query: [(String, String)], headers: CanonicalHeaders,
        payloadHash: String
    ) throws -> CanonicalRequest {
        guard isToken(method) else { throw SigningError.invalidMethod(method) }
        // Hex digests and the named payloads (`UNSIGNED-PAYLOAD`, …) are tokens. Anything else, a line break above
        // all, would only make a request that the server rejects with a puzzling signature mismatch.
        guard isToken(payloadHash) else { throw SigningError.invalidPayloadHash }
        // Room for the worst case, every path and query byte percent-encoded, a `/` added at either end of the path,
        // and the six line breaks.
        let queryBytes = query.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 2 }
        let capacity =
            8 + method.utf8.count + 3 * path.utf8.count + 2 + 3 * queryBytes + headers.byteCount
            + payloadHash.utf8.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var out = ByteWriter(buffer)
            withUTF8(of: method) { out.write($0) }
            out.write(newline)

            let pathStart = out.count
            writeCanonicalPath(path, normalizing: normalizingPath, to: &out)
            let pathEnd = out.count
            out.write(newline)

            let queryStart = out.count
            writeCanonicalQuery(query, to: &out)
            let queryEnd = out.count
            out.write(newline)

            headers.writeLines(to: &out)
            out.write(newline)
            let signedStart = out.count
            headers.writeSignedHeaders(to: &out)
            let signedEnd = out.count
            out.write(newline)
            withUTF8(of: payloadHash) { out.write($0) }

            let written = UnsafeBufferPointer(rebasing: buffer[..<out.count])
            return CanonicalRequest(
                bytes: Array(written),
                path: String(decoding: UnsafeBufferPointer(rebasing: written[pathStart..<pathEnd]), as: UTF8.self),
                query: String(decoding: UnsafeBufferPointer(rebasing: written[queryStart..<queryEnd]), as: UTF8.self),
                signedHeaders: signedStart..<signedEnd)
        }
    }

    // MARK: Headers

    /// Headers in canonical form: names lowercased, values folded, sorted by name, and the `SignedHeaders` list. It
    /// lives in buffers on the stack, for the duration of ``with(_:adding:dropping:_:)``.
    struct CanonicalHeaders {
        /// Names and values, back to back; `entries` point into it.
        private let scratch: UnsafeBufferPointer<UInt8>
        /// Sorted by name; equal names keep the order they were given in.
        private let entries: UnsafeBufferPointer<Entry>

        private init(scratch: UnsafeBufferPointer<UInt8>, entries: UnsafeBufferPointer<Entry>) {
            self.scratch = scratch
            self.entries = entries
        }

        /// At least the size of the header lines and the signed-headers line, to reserve room for them.
        var byteCount: Int { 2 * scratch.count + 3 * entries.count }

        /// `host;x-amz-date;…`: the distinct names, sorted.
        var signedHeaders: String {
            String(unsafeUninitializedCapacity: scratch.count + entries.count) { buffer in
                var out = ByteWriter(buffer)
                writeSignedHeaders(to: &out)
                return out.count
            }
        }

        /// Runs `body` over the canonical form of the headers.
        ///
        /// - Parameters:
        ///   - headers: The caller's headers, all signed except those named in `dropping`.
        ///   - added: Headers the signer sets; names must be lowercase tokens.
        ///   - dropping: Lowercase names of caller headers left out, because the signer sets them or adds them later.
        static func with<Result>(
            _ headers: [(String, String)], adding added: [(name: String, value: String)], dropping: [String],
            _ body: (CanonicalHeaders) throws -> Result
        ) throws -> Result {
            // Canonical names are as long as the names given, and canonical values never longer than the values.
            let capacity =
                headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
                + added.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
            return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
                try withUnsafeTemporaryAllocation(of: Entry.self, capacity: headers.count + added.count) { space in
                    var out = ByteWriter(scratch)
                    var count = 0
                    var hasHost = false
                    for (name, value) in headers {
                        let nameStart = out.count
                        try withUTF8(of: name) { bytes in
                            for byte in bytes {
                                guard isTokenCharacter(byte) else { throw SigningError.invalidHeaderName(name) }
                                out.write(byte | (isUppercaseLetter(byte) ? 0x20 : 0))
                            }
                        }
                        let nameRange = nameStart..<out.count
                        guard !nameRange.isEmpty else { throw SigningError.invalidHeaderName(name) }
                        let nameBytes = UnsafeBufferPointer(rebasing: scratch[nameRange])
                        if dropping.contains(where: { isName($0, nameBytes) }) {
                            out.rewind(to: nameStart)
                            continue
                        }
                        if !hasHost, isName("host", nameBytes) { hasHost = true }
                        let valueStart = out.count
                        writeCanonicalValue(value, to: &out)
                        space.initializeElement(at: count, to: (nameRange, valueStart..<out.count))
                        count += 1
                    }
                    guard hasHost else { throw SigningError.missingHost }
                    for (name, value) in added {
                        let nameStart = out.count
                        withUTF8(of: name) { out.write($0) }
                        let valueStart = out.count
                        writeCanonicalValue(value, to: &out)
                        space.initializeElement(at: count, to: (nameStart..<valueStart, valueStart..<out.count))
                        count += 1
                    }

                    // Offsets grow with input order, so the name's offset breaks ties: repeated headers keep their
                    // order.
                    let bytes = UnsafeBufferPointer(rebasing: scratch[..<out.count])
                    var entries = UnsafeMutableBufferPointer(rebasing: space[..<count])
                    entries.sort { left, right in
                        let order = compareBytes(bytes[left.name], bytes[right.name])
                        return order != 0 ? order < 0 : left.name.lowerBound < right.name.lowerBound
                    }
                    return try body(CanonicalHeaders(scratch: bytes, entries: UnsafeBufferPointer(entries)))
                }
            }
        }

        /// Writes `host;x-amz-date;…`: the distinct names, sorted, joined with `;`.
        func writeSignedHeaders(to out: inout ByteWriter) {
            for (index, entry) in entries.enumerated() where index == 0 || !sameName(entries[index - 1], entry) {
                if index > 0 { out.write(UInt8(ascii: ";")) }
                out.write(UnsafeBufferPointer(rebasing: scratch[entry.name]))
            }
        }

        /// Writes `name:value\n` per distinct name, joining repeated names' values with commas.
        func writeLines(to out: inout ByteWriter) {
            for (index, entry) in entries.enumerated() {
                if index > 0, sameName(entries[index - 1], entry) {
                    out.write(UInt8(ascii: ","))
                } else {
                    if index > 0 { out.write(newline) }
                    out.write(UnsafeBufferPointer(rebasing: scratch[entry.name]))
                    out.write(UInt8(ascii: ":"))
                }
                out.write(UnsafeBufferPointer(rebasing: scratch[entry.value]))
            }
            if !entries.isEmpty { out.write(newline) }
        }

        private func sameName(_ left: Entry, _ right: Entry) -> Bool {
            compareBytes(scratch[left.name], scratch[right.name]) == 0
        }

        private static func isName(_ name: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            name.utf8.count == bytes.count && name.utf8.elementsEqual(bytes)
        }
    }

    /// Trims a header value and squeezes runs of spaces and tabs to one space. Line breaks (an obs-folded
    /// multi-line value) separate values, which are joined with commas like repeated headers: a raw line break
    /// would otherwise let a value forge lines of the canonical request. Never writes more bytes than the value has.
    static func writeCanonicalValue(_ value: String, to out: inout ByteWriter) {
        withUTF8(of: value) { bytes in
            if isCanonicalValue(bytes) {
                out.write(bytes)
                return
            }
            var lineHasContent = false
            var pendingSpace = false
            var pendingComma = false
            for byte in bytes {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    pendingSpace = lineHasContent
                case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                    if lineHasContent { pendingComma = true }
                    lineHasContent = false
                    pendingSpace = false
                default:
                    if pendingComma {
                        out.write(UInt8(ascii: ","))
                    } else if pendingSpace {
                        out.write(UInt8(ascii: " "))
                    }
                    pendingComma = false
                    pendingSpace = false
                    lineHasContent = true
                    out.write(byte)
                }
            }
        }
    }

    /// Whether a value is already canonical (the usual case): no tabs or line breaks, no space at either end or
    /// next to another.
    private static func isCanonicalValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.last else { return true }
        if first == UInt8(ascii: " ") || last == UInt8(ascii: " ") { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): return false
            case UInt8(ascii: " ") where previous == UInt8(ascii: " "): return false
            default: previous = byte
            }
        }
        return true
    }

    // MARK: Path and query

    /// Writes the canonical URI: the path percent-encoded once, `/` kept, and always starting with `/`. At most three
    /// bytes per byte of the path, and two more.
    ///
    /// S3 keys are taken as they are (`a//b/../c` is a valid key). Other services first drop empty, `.` and `..`
    /// segments, as their servers do before checking the signature.
    static func writeCanonicalPath(_ path: String, normalizing: Bool, to out: inout ByteWriter) {
        withUTF8(of: path) { bytes in
            guard normalizing else {
                if bytes.first != UInt8(ascii: "/") { out.write(UInt8(ascii: "/")) }
                writePercentEncoded(bytes, keepingSlash: true, to: &out)
                return
            }
            var segments: [Slice<UnsafeBufferPointer<UInt8>>] = []
            var lastIsDot = false
            for segment in bytes.split(separator: UInt8(ascii: "/")) {
                if segment.elementsEqual(".".utf8) {
                    lastIsDot = true
                } else if segment.elementsEqual("..".utf8) {
                    _ = segments.popLast()
                    lastIsDot = true
                } else {
                    segments.append(segment)
                    lastIsDot = false
                }
            }
            // `/a/b/..` is the directory `/a/`, as is `/a/`.
            let endsInDirectory = lastIsDot || bytes.last == UInt8(ascii: "/")
            out.write(UInt8(ascii: "/"))
            for (index, segment) in segments.enumerated() {
                if index > 0 { out.write(UInt8(ascii: "/")) }
                writePercentEncoded(UnsafeBufferPointer(rebasing: segment), keepingSlash: false, to: &out)
            }
            if endsInDirectory, !segments.isEmpty { out.write(UInt8(ascii: "/")) }
        }
    }

    /// Writes the canonical query: names and values percent-encoded (`/` too), sorted by name then value as bytes,
    /// joined with `&`; a name without a value becomes `name=`. Encodes and sorts in buffers on the stack.
    static func writeCanonicalQuery(_ items: [(String, String)], to out: inout ByteWriter) {
        guard !items.isEmpty else { return }
        let capacity = 3 * items.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
            withUnsafeTemporaryAllocation(of: Entry.self, capacity: items.count) { entries in
                var writer = ByteWriter(scratch)
                for (index, (name, value)) in items.enumerated() {
                    let nameStart = writer.count
                    withUTF8(of: name) { writePercentEncoded($0, keepingSlash: false, to: &writer) }
                    let valueStart = writer.count
                    withUTF8(of: value) { writePercentEncoded($0, keepingSlash: false, to: &writer) }
                    entries.initializeElement(at: index, to: (nameStart..<valueStart, valueStart..<writer.count))
                }
                let bytes = UnsafeBufferPointer(rebasing: scratch[..<writer.count])
                var entries = entries
                entries.sort { left, right in
                    let order = compareBytes(bytes[left.name], bytes[right.name])
                    return order != 0 ? order < 0 : compareBytes(bytes[left.value], bytes[right.value]) < 0
                }
                for (index, entry) in entries.enumerated() {
                    if index > 0 { out.write(UInt8(ascii: "&")) }
                    out.write(UnsafeBufferPointer(rebasing: bytes[entry.name]))
                    out.write(UInt8(ascii: "="))
                    out.write(UnsafeBufferPointer(rebasing: bytes[entry.value]))
                }
            }
        }
    }

    /// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`), and `/` when asked: at most three
    /// bytes per byte. Total: any byte has an encoding, so any String (whose UTF-8 is always valid) can be signed.
    static func writePercentEncoded(_ bytes: UnsafeBufferPointer<UInt8>, keepingSlash: Bool, to out: inout ByteWriter) {
        var runStart = 0
        for index in bytes.indices {
            let byte = bytes[index]
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) { continue }
            out.write(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            out.write(UInt8(ascii: "%"))
            out.write(upperHexDigit(byte >> 4))
            out.write(upperHexDigit(byte & 0x0F))
            runStart = index + 1
        }
        out.write(UnsafeBufferPointer(rebasing: bytes[runStart...]))
    }

    /// A value percent-encoded for a query (`/` included), as a String.
    static func percentEncoded(_ text: String) -> String {
        String(unsafeUninitializedCapacity: 3 * text.utf8.count) { buffer in
            var out = ByteWriter(buffer)
            withUTF8(of: text) { writePercentEncoded($0, keepingSlash: false, to: &out) }
            return out.count
        }
    }

    // MARK: Bytes

    static let newline = UInt8(ascii: "\n")

    /// Runs `body` over a string's UTF-8 bytes, without a copy for native strings.
    static func withUTF8<Result>(
        of text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        var text = text
        return try text.withUTF8(body)
    }

    /// Whether a text is a non-empty RFC 9110 token (``isTokenCharacter(_:)``): a method, or a payload hash.
    static func isToken(_ text: String) -> Bool {
        withUTF8(of: text) { !$0.isEmpty && $0.allSatisfy(isTokenCharacter) }
    }

    /// Lowercase hex, as SigV4 writes hashes and signatures.
    static func hex(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: raw.count * 2) { out in
                var writer = ByteWriter(out)
                writer.writeHex(raw)
                return writer.count
            }
        }
    }

    /// The uppercase hex digit of a value below 16, as percent-encoding writes it.
    @inline(__always)
    static func upperHexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") - 10 + value
    }

    /// The lowercase hex digit of a value below 16.
    @inline(__always)
    static func lowerHexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// RFC 9110 `tchar`: what a method or header name may be made of.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func isUppercaseLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }

    /// Compares byte strings lexicographically: negative, zero or positive.
    fileprivate static func compareBytes(
        _ left: Slice<UnsafeBufferPointer<UInt8>>, _ right: Slice<UnsafeBufferPointer<UInt8>>
    ) -> Int {
        let common = min(left.count, right.count)
        if common > 0, let leftBase = left.base.baseAddress, let rightBase = right.base.baseAddress {
            let order = memcmp(leftBase + left.startIndex, rightBase + right.startIndex, common)
            if order != 0 { return Int(order) }
        }
        return left.count - right.count
    }
}

// MARK: Dates

/// A signing time as SigV4 writes it (`20130524T000000Z`), formatted by arithmetic: Foundation's formatters cost more
/// than the signature itself.
struct AMZDate: Sendable {
    /// Days since 1970-01-01: the signing key changes with it.
    let day: Int
    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    let timestamp: String

    /// `yyyyMMdd`: the first part of the credential scope.
    var dateStamp: String { String(decoding: timestamp.utf8.prefix(8), as: UTF8.self) }

    /// The whole second since 1970 a date falls in, the date's signing identity. Throws for dates that have no
    /// four-digit-year form (and so could not be signed), NaN included.
    static func second(of date: Date) throws -> Int {
        let interval = date.timeIntervalSince1970
        // 0001-01-01T00:00:00Z up to, not including, 10000-01-01T00:00:00Z.
        guard interval.isFinite, interval >= -62_135_596_800, interval < 253_402_300_800 else {
            throw SigningError.invalidDate
        }
        return Int(interval.rounded(.down))
    }

    /// Throws as ``second(of:)`` does.
    init(_ date: Date) throws {
        let seconds = try Self.second(of: date)
        let day = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - day * 86_400
        // Howard Hinnant's civil_from_days: proleptic Gregorian calendar, days since 1970-01-01.
        let shifted = day + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        self.day = day
        self.timestamp = String(unsafeUninitializedCapacity: 16) { out in
            func put(_ value: Int, digits: Int, at offset: Int) {
                var rest = value
                for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                    out[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
            }
            put(year, digits: 4, at: 0)
            put(month, digits: 2, at: 4)
            put(dayOfMonth, digits: 2, at: 6)
            out[8] = UInt8(ascii: "T")
            put(secondOfDay / 3600, digits: 2, at: 9)
            put(secondOfDay / 60 % 60, digits: 2, at: 11)
            put(secondOfDay % 60, digits: 2, at: 13)
            out[15] = UInt8(ascii: "Z")
            return 16
        }
    }
}
