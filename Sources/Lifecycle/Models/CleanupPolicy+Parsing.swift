import Foundation

extension CleanupPolicy {
    /// Parses a size as `disk_budget` is written: `80GB` (powers of 1000), `75GiB` (powers of 1024), or plain bytes.
    ///
    /// The number may have a decimal fraction (`1.5TB`) as long as the result is a whole number of bytes, and a space
    /// may separate it from the unit. Units ignore case. `G`, `Gi` and `Gb` alone are rejected rather than guessed at:
    /// tools disagree on whether `G` means 10⁹ or 2³⁰, and a budget off by 7% is a cleanup that deletes a model too
    /// many.
    ///
    /// - Throws: ``CleanupPolicyError`` with code ``CleanupPolicyError/Code/invalidSize`` naming `key`.
    public static func parseByteSize(_ text: String, key: String = "disk_budget") throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw CleanupPolicyError.invalidSize(text, key: key, reason: "is empty") }
        let bytes = Array(trimmed.utf8)
        if bytes[0] == UInt8(ascii: "-") {
            throw CleanupPolicyError.invalidSize(text, key: key, reason: "is negative")
        }

        let (whole, fraction, unitStart) = try sizeNumber(bytes, text: text, key: key)
        var unitBytes = bytes[unitStart...].drop { $0 == UInt8(ascii: " ") }
        if unitBytes.last == UInt8(ascii: " ") { unitBytes = unitBytes.dropLast() }
        let unit = String(decoding: unitBytes, as: UTF8.self)
        guard let multiplier = sizeUnits[unit.lowercased()] else {
            let reason =
                ["k", "m", "g", "t", "p", "ki", "mi", "gi", "ti", "pi"].contains(unit.lowercased())
                ? "is ambiguous (is '\(unit)' a power of 1000 or of 1024?)"
                : "has an unknown unit '\(unit.prefix(16))'"
            throw CleanupPolicyError.invalidSize(text, key: key, reason: reason)
        }

        // whole × multiplier + fraction × multiplier / 10^digits, exactly, refusing overflow and partial bytes.
        let (wholeBytes, wholeOverflow) = whole.multipliedReportingOverflow(by: multiplier)
        let scale = power(10, fraction.digits)
        let (fractionScaled, fractionOverflow) = fraction.value.multipliedReportingOverflow(by: multiplier)
        guard !wholeOverflow, !fractionOverflow else {
            throw CleanupPolicyError.invalidSize(text, key: key, reason: "is too large")
        }
        guard fractionScaled % scale == 0 else {
            throw CleanupPolicyError.invalidSize(
                text, key: key, reason: "is not a whole number of bytes (use fewer decimals or a smaller unit)")
        }
        let (total, totalOverflow) = wholeBytes.addingReportingOverflow(fractionScaled / scale)
        guard !totalOverflow else { throw CleanupPolicyError.invalidSize(text, key: key, reason: "is too large") }
        return total
    }

    /// Parses a duration as `orphan_grace` is written: whole numbers with units `s`, `m`, `h`, `d` (24 hours) or
    /// `w` (7 days), alone or combined (`1h30m`). `0` alone is allowed; any other number needs a unit, since `24`
    /// could mean hours or seconds.
    ///
    /// - Throws: ``CleanupPolicyError`` with code ``CleanupPolicyError/Code/invalidDuration`` naming `key`, also for
    ///   durations longer than 100 years.
    public static func parseDuration(_ text: String, key: String = "orphan_grace") throws -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw CleanupPolicyError.invalidDuration(text, key: key, reason: "is empty") }
        if trimmed == "0" { return .zero }
        let bytes = Array(trimmed.utf8)
        if bytes[0] == UInt8(ascii: "-") {
            throw CleanupPolicyError.invalidDuration(text, key: key, reason: "is negative")
        }

        var seconds: Int64 = 0
        var index = 0
        while index < bytes.count {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > start else {
                throw CleanupPolicyError.invalidDuration(
                    text, key: key,
                    reason:
                        "has '\(String(decoding: bytes[index...].prefix(8), as: UTF8.self))' where a number should be")
            }
            guard index - start <= 12, let value = Int64(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw CleanupPolicyError.invalidDuration(text, key: key, reason: "is too long")
            }
            guard index < bytes.count else {
                throw CleanupPolicyError.invalidDuration(text, key: key, reason: "has a number without a unit")
            }
            let unit = Character(UnicodeScalar(bytes[index]))
            if unit == "." {
                throw CleanupPolicyError.invalidDuration(
                    text, key: key, reason: "has a fraction (write '90m' rather than '1.5h')")
            }
            guard let unitSeconds = durationUnits[unit] else {
                throw CleanupPolicyError.invalidDuration(text, key: key, reason: "has an unknown unit '\(unit)'")
            }
            index += 1
            let (scaled, overflow) = value.multipliedReportingOverflow(by: unitSeconds)
            let (sum, sumOverflow) = seconds.addingReportingOverflow(scaled)
            guard !overflow, !sumOverflow, sum <= maximumGrace.components.seconds else {
                throw CleanupPolicyError.invalidDuration(text, key: key, reason: "is longer than 100 years")
            }
            seconds = sum
        }
        return .seconds(seconds)
    }

    // MARK: Helpers

    private static let sizeUnits: [String: Int64] = [
        "": 1, "b": 1,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000, "pb": 1_000_000_000_000_000,
        "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
    ]

    private static let durationUnits: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    /// The leading number of a size: its whole part, its fraction as digits after the point, and where the unit
    /// starts. At most 9 decimals, so that the fraction's arithmetic stays within `Int64`.
    private static func sizeNumber(
        _ bytes: [UInt8], text: String, key: String
    ) throws -> (whole: Int64, fraction: (value: Int64, digits: Int), unitStart: Int) {
        func invalid(_ reason: String) -> CleanupPolicyError {
            CleanupPolicyError.invalidSize(text, key: key, reason: reason)
        }
        var index = 0
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let wholeEnd = index
        var fractionStart = index
        var fractionEnd = index
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            fractionEnd = index
            guard fractionEnd > fractionStart else { throw invalid("has a decimal point without decimals") }
        }
        guard wholeEnd > 0 else { throw invalid("does not start with a number") }
        guard fractionEnd - fractionStart <= 9 else { throw invalid("has more than 9 decimals") }
        guard let whole = Int64(String(decoding: bytes[0..<wholeEnd], as: UTF8.self)) else {
            throw invalid("is too large")
        }
        let fraction = Int64(String(decoding: bytes[fractionStart..<fractionEnd], as: UTF8.self)) ?? 0
        return (whole, (fraction, fractionEnd - fractionStart), index)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func power(_ base: Int64, _ exponent: Int) -> Int64 {
        (0..<exponent).reduce(1) { result, _ in result * base }
    }
}
