import Foundation

/// What a metric measures, read from its name and unit: the design document names the monitoring plugins
/// (disk-monitor, smart-monitor, zfs-btrfs-monitor, postgres-monitor, …) but not their metrics, so the summariser
/// goes by the words metrics are conventionally named with rather than a fixed list. Pure.
///
/// | kind | recognised by | summaries add |
/// | --- | --- | --- |
/// | filling | a percentage (`%`, `percent`, `pct`) or ratio whose name says used, usage, util, capacity, full, fill, occupied or allocated (`disk_used_percent`, `pool_capacity_pct`); bytes whose name says used, beside a series named with total, size, capacity, max or limit instead (`used_bytes` and `total_bytes`) | time until full at the day's trend; ranked by how fast they fill |
/// | draining | a percentage, ratio or bytes whose name says free, avail, available or remaining | time until exhausted; ranked by how fast they run out |
/// | check | a name with passed, pass, ok, healthy or health (1 passes) or with failed, failing or fail (0 passes), not a percentage | failures with their times; which hosts failed |
/// | gauge | anything else (`latency_p95`, `reallocated_sectors`) | min, mean, max, last, trend; ranked by maximum |
public enum MetricKind: Sendable, Equatable, Codable {
    /// Fills up to `capacity` (100 for a percentage, 1 for a ratio); `nil` when the capacity is another series of
    /// the same host (a `total_bytes` beside `used_bytes`).
    case filling(capacity: Double?)
    /// Runs out at 0.
    case draining
    /// A pass/fail check whose passing value is `passingValue` (1 or 0).
    case check(passingValue: Double)
    /// Anything else.
    case gauge

    static let fillWords: Set<String> = [
        "used", "usage", "use", "util", "utilization", "utilisation", "capacity", "full", "fill", "occupied",
        "allocated", "alloc",
    ]
    static let drainWords: Set<String> = ["free", "avail", "available", "remaining"]
    static let passWords: Set<String> = ["passed", "pass", "ok", "healthy", "health"]
    static let failWords: Set<String> = ["failed", "failing", "fail"]
    /// Words that name the capacity a `used` amount fills, in the order they are looked for.
    static let capacityWords = ["total", "size", "capacity", "max", "limit"]

    /// The kind of `metric` measured in `unit`.
    public static func classify(metric: String, unit: String?) -> MetricKind {
        let words = Set(nameWords(metric))
        let unitWord = (unit ?? "").lowercased().trimmingCharacters(in: .whitespaces)
        let isPercent = ["%", "percent", "pct"].contains(unitWord) || !words.isDisjoint(with: ["percent", "pct"])
        let isRatio = unitWord == "ratio" || !words.isDisjoint(with: ["ratio", "fraction"])
        let isBytes = isByteUnit(unit) || words.contains("bytes")
        if !isPercent && !isRatio {
            if !words.isDisjoint(with: passWords) { return .check(passingValue: 1) }
            if !words.isDisjoint(with: failWords) { return .check(passingValue: 0) }
        }
        let fills = !words.isDisjoint(with: fillWords)
        if fills && isPercent { return .filling(capacity: 100) }
        if fills && isRatio { return .filling(capacity: 1) }
        if !words.isDisjoint(with: drainWords) && (isPercent || isRatio || isBytes) { return .draining }
        if fills && isBytes { return .filling(capacity: nil) }
        return .gauge
    }

    /// The words of a metric name, lower-cased: `diskUsedPercent` and `disk.used-percent` read as
    /// `disk used percent`.
    static func nameWords(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLower = false
        for character in name {
            if character.isLetter || character.isNumber {
                if character.isUppercase && previousWasLower && !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(Character(character.lowercased()))
                previousWasLower = character.isLowercase || character.isNumber
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousWasLower = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Whether `unit` is bytes (`B`, `bytes`, `byte`).
    static func isByteUnit(_ unit: String?) -> Bool {
        ["b", "byte", "bytes"].contains((unit ?? "").lowercased().trimmingCharacters(in: .whitespaces))
    }

    /// Whether `unit` is a percentage.
    static func isPercentUnit(_ unit: String?) -> Bool {
        ["%", "percent", "pct"].contains((unit ?? "").lowercased().trimmingCharacters(in: .whitespaces))
    }

    /// The names the capacity of a filling `metric` may have (`used_bytes` → `total_bytes`, `size_bytes`, …), in
    /// the order they are preferred; empty when the name has no fill word to replace.
    static func capacityNames(for metric: String) -> [String] {
        let words = nameWords(metric)
        guard let position = words.firstIndex(where: { fillWords.contains($0) }) else { return [] }
        return capacityWords.map { replacement in
            var renamed = words
            renamed[position] = replacement
            return renamed.joined(separator: " ")
        }
    }

    /// The thresholds whose crossing a summary reports: `warning`/`warn`, `critical`/`crit` or `threshold` labels
    /// with a finite number, else the kind's defaults (80 % and 90 % of a percentage or ratio that fills; 20 % and
    /// 10 % of one that drains; the boundary between passing and failing of a check).
    static func thresholds(kind: MetricKind, unit: String?, metric: String, labels: [String: String]) -> [Threshold] {
        let aboveIsBad: Bool
        switch kind {
        case .draining: aboveIsBad = false
        case .check(let passing): return [Threshold(value: 0.5, aboveIsBad: passing < 0.5, name: "failing")]
        case .filling, .gauge: aboveIsBad = true
        }
        var fromLabels: [Threshold] = []
        for (names, name) in [
            (["warning", "warn"], "warning"), (["critical", "crit"], "critical"), (["threshold"], "threshold"),
        ] {
            for key in names {
                if let text = labels[key], let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite
                {
                    fromLabels.append(Threshold(value: value, aboveIsBad: aboveIsBad, name: name))
                    break
                }
            }
        }
        if !fromLabels.isEmpty { return fromLabels }
        let words = Set(nameWords(metric))
        let scale: Double? =
            isPercentUnit(unit) || !words.isDisjoint(with: ["percent", "pct"])
            ? 100 : (unit?.lowercased() == "ratio" || !words.isDisjoint(with: ["ratio", "fraction"])) ? 1 : nil
        guard let scale else { return [] }
        switch kind {
        case .filling:
            return [
                Threshold(value: 0.8 * scale, aboveIsBad: true, name: "warning"),
                Threshold(value: 0.9 * scale, aboveIsBad: true, name: "critical"),
            ]
        case .draining:
            return [
                Threshold(value: 0.2 * scale, aboveIsBad: false, name: "warning"),
                Threshold(value: 0.1 * scale, aboveIsBad: false, name: "critical"),
            ]
        case .check, .gauge:
            return []
        }
    }
}

/// A level whose crossing a summary reports.
public struct Threshold: Sendable, Equatable, Codable {
    public var value: Double
    /// Whether values above it are the bad side (a disk over 80 %) or values below it (free space under 10 %).
    public var aboveIsBad: Bool
    /// `warning`, `critical`, `threshold` or `failing`.
    public var name: String

    /// A threshold at `value`.
    public init(value: Double, aboveIsBad: Bool, name: String) {
        self.value = value
        self.aboveIsBad = aboveIsBad
        self.name = name
    }

    /// Whether `value` is on the bad side (the threshold itself counts as bad).
    public func isBad(_ value: Double) -> Bool { aboveIsBad ? value >= self.value : value <= self.value }
}
