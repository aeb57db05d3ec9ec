import CArchive

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small helpers shared by the reader and the writer.
enum LibArchive {
    /// A UTF-8 `LC_CTYPE` locale, or `nil` when the system has none.
    ///
    /// libarchive converts entry names between the archive's charset and the *current* locale's. A Swift process
    /// runs in the "C" locale, where libarchive cannot convert UTF-8 names at all: a zip entry flagged UTF-8 comes
    /// back with no name, and a pax name only with a warning. Setting the process locale would change every other
    /// library's behaviour, so each call into libarchive switches only its own thread (``withUTF8Locale(_:)``).
    nonisolated(unsafe) private static let utf8Locale: locale_t? = {
        for name in ["C.UTF-8", "C.utf8", "en_US.UTF-8"] {
            if let locale = newlocale(LC_CTYPE_MASK, name, nil) { return locale }
        }
        return nil
    }()

    /// Runs `body` with this thread's locale set to UTF-8, restoring the previous one after.
    static func withUTF8Locale<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        guard let locale = utf8Locale, let previous = uselocale(locale) else { return try body() }
        defer { uselocale(previous) }
        return try body()
    }

    /// libarchive's last error message for `archive`, or `fallback`.
    static func errorString(_ archive: OpaquePointer, fallback: String) -> String {
        guard let cString = archive_error_string(archive) else { return fallback }
        return decodeLossily(cString).string
    }

    /// The bytes of a NUL-terminated C string, read up to its terminator.
    static func bytes(_ cString: UnsafePointer<CChar>) -> [UInt8] {
        let length = strlen(cString)
        return cString.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// A C string as text: exact when it is valid UTF-8, else with each bad sequence replaced by U+FFFD.
    static func decodeLossily(_ cString: UnsafePointer<CChar>) -> (string: String, isLossy: Bool) {
        decodeLossily(bytes(cString))
    }

    /// Bytes as text: exact when they are valid UTF-8, else with each bad sequence replaced by U+FFFD.
    static func decodeLossily(_ bytes: [UInt8]) -> (string: String, isLossy: Bool) {
        if let exact = String(validating: bytes, as: UTF8.self) { return (exact, false) }
        return (String(decoding: bytes, as: UTF8.self), true)
    }

    /// The message of a failed POSIX call, for errors.
    static func posixMessage(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return decodeLossily(message).string
    }
}
