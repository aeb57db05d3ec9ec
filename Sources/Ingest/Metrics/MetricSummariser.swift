import Foundation

/// A summary document's title and text.
public struct MetricSummary: Sendable, Equatable {
    public var title: String
    /// Markdown: one paragraph per series, every sentence naming the host, so that a sentence quoted alone still
    /// says which host it is about.
    public var text: String
}

/// Turns series statistics into text: per plugin, host and window, and per plugin and day across hosts (rankings:
/// which host fills fastest, which checks failed where). Pure: no I/O, no clock.
public struct MetricSummariser: Sendable {
    /// Hosts and series a ranking lists at most; the rest are counted.
    public static let rankingLength = 20

    /// A summariser with default limits.
    public init() {}

    /// The summary of one host's series in one window; `readLimit` says that only that many of the window's
    /// readings were read.
    public func hostSummary(
        plugin: String, host: String, window: MetricWindow, series: [SeriesStatistics], readLimit: Int? = nil
    ) -> MetricSummary {
        let who = Self.hostName(host)
        let title = "\(plugin) on \(who): \(window.description)"
        let readings = series.reduce(0) { $0 + ($1.figures?.count ?? 0) }
        let nonFinite = series.reduce(0) { $0 + $1.nonFinite }
        var opening =
            "Plugin \(plugin) on \(who), \(window.description): \(readings) readings of \(series.count) series"
        if let last = series.compactMap({ $0.figures?.last.at }).max() {
            opening += ", the last at \(window.describe(last))"
        }
        opening += "."
        if nonFinite > 0 {
            opening += " \(nonFinite) readings were not finite numbers (NaN or infinite) and were left out."
        }
        if let readLimit {
            opening += " The hour had more than \(readLimit) readings: only the first \(readLimit) were read."
        }
        var paragraphs = [opening]
        for statistics in series {
            paragraphs.append(describe(statistics, host: who, window: window, siblings: series))
        }
        return MetricSummary(title: title, text: paragraphs.joined(separator: "\n\n") + "\n")
    }

    /// One series' paragraph.
    func describe(_ series: SeriesStatistics, host: String, window: MetricWindow, siblings: [SeriesStatistics])
        -> String
    {
        let name = series.key.displayName
        let unit = Self.displayUnit(of: series)
        guard let figures = series.figures else {
            return "On \(host), \(name) had no finite readings (\(series.nonFinite) NaN or infinite)."
        }
        var sentences: [String] = []
        if case .check(let passing) = series.kind {
            let failing = figures.beyond.first ?? 0
            if failing == 0 {
                sentences.append("On \(host), the check \(name) passed in all \(figures.count) readings.")
            } else {
                let state = Self.isPassing(figures.last.value, passing: passing) ? "passes" : "fails"
                sentences.append(
                    "On \(host), the check \(name) failed in \(failing) of \(figures.count) readings; its last reading "
                        + "\(state).")
            }
        } else {
            var sentence =
                "On \(host), \(name) ranged from \(Self.format(figures.minimum, unit: unit)) to "
                + "\(Self.format(figures.maximum, unit: unit)) ("
                + (figures.mean.map { "mean \(Self.format($0, unit: unit)), " } ?? "")
                + "last \(Self.format(figures.last.value, unit: unit)))"
            if let slope = figures.slopePerDay {
                sentence += ", \(Self.trendWords(slope, unit: unit))"
            }
            sentences.append(sentence + ".")
        }
        if !figures.crossings.isEmpty {
            let events = figures.crossings.map { crossing -> String in
                describe(crossing, of: series, unit: unit, window: window)
            }
            var sentence = "On \(host), \(name) " + Self.list(events)
            if figures.crossingCount > figures.crossings.count {
                sentence += " (\(figures.crossingCount) crossings in all)"
            }
            sentences.append(sentence + ".")
        }
        if let projection = projection(of: series, siblings: siblings) {
            sentences.append(projection.sentence(name: name, host: host, unit: unit, window: window))
        }
        return sentences.joined(separator: " ")
    }

    /// `went above 80 % (warning) at 10:05 UTC`, `failed at 14:05 UTC`.
    func describe(
        _ crossing: SeriesStatistics.Crossing, of series: SeriesStatistics, unit: String?, window: MetricWindow
    )
        -> String
    {
        let time = window.describe(crossing.at)
        guard series.thresholds.indices.contains(crossing.threshold) else { return "changed at \(time)" }
        let threshold = series.thresholds[crossing.threshold]
        if case .check = series.kind { return crossing.intoBad ? "failed at \(time)" : "passed again at \(time)" }
        let upwards = crossing.intoBad == threshold.aboveIsBad
        let level = "\(Self.format(threshold.value, unit: unit)) (\(threshold.name))"
        return (upwards ? "went above \(level)" : "fell below \(level)") + " at \(time)"
    }

    // MARK: Projection

    /// When a filling series will be full, or a draining one empty, at its trend.
    struct Projection: Equatable {
        enum Kind: Equatable { case full, exhausted }
        var kind: Kind
        /// Days from the last reading; 0 when it is already there.
        var days: Double
        var capacity: Double?
        var from: Date

        func sentence(name: String, host: String, unit: String?, window: MetricWindow) -> String {
            let target = kind == .full ? "full" : "exhausted"
            let capacityText = capacity.map { " (\(MetricSummariser.format($0, unit: unit)))" } ?? ""
            guard days > 0 else { return "On \(host), \(name) is \(target)\(capacityText)." }
            let when = MetricSummariser.durationWords(days: days)
            var sentence = "At that rate \(name) on \(host) is projected to be \(target)\(capacityText) in \(when)"
            if days <= 3_650 {
                // To the nearest minute: the estimate is no finer, and 05:47:59.9 should read 05:48.
                let minutes = (from.timeIntervalSince1970 + days * 86_400) / 60
                sentence += ", around \(window.describe(Date(timeIntervalSince1970: minutes.rounded() * 60)))"
            }
            return sentence + "."
        }
    }

    /// The projection of a filling or draining series, if its trend heads there.
    func projection(of series: SeriesStatistics, siblings: [SeriesStatistics]) -> Projection? {
        guard let figures = series.figures else { return nil }
        let last = figures.last.value
        switch series.kind {
        case .filling(let stated):
            guard let capacity = stated ?? capacity(of: series, among: siblings), capacity.isFinite, capacity > 0 else {
                return nil
            }
            if last >= capacity { return Projection(kind: .full, days: 0, capacity: capacity, from: figures.last.at) }
            guard let slope = figures.slopePerDay, slope > 0 else { return nil }
            let days = (capacity - last) / slope
            return days.isFinite ? Projection(kind: .full, days: days, capacity: capacity, from: figures.last.at) : nil
        case .draining:
            if last <= 0 { return Projection(kind: .exhausted, days: 0, capacity: nil, from: figures.last.at) }
            guard let slope = figures.slopePerDay, slope < 0 else { return nil }
            let days = last / -slope
            return days.isFinite ? Projection(kind: .exhausted, days: days, capacity: nil, from: figures.last.at) : nil
        case .check, .gauge:
            return nil
        }
    }

    /// The capacity of a `used` amount: the last reading of the same host's series with the same labels named
    /// with total, size, capacity, max or limit in its place.
    func capacity(of series: SeriesStatistics, among siblings: [SeriesStatistics]) -> Double? {
        for name in MetricKind.capacityNames(for: series.key.metric) {
            if let sibling = siblings.first(where: {
                $0.key.labels == series.key.labels && MetricKind.nameWords($0.key.metric).joined(separator: " ") == name
            }), let value = sibling.figures?.last.value {
                return value
            }
        }
        return nil
    }

    // MARK: Rankings

    /// The summary of one plugin's series across hosts in one window (a day): which hosts fill or run out
    /// fastest, which checks failed where, which hosts had the highest readings and crossed thresholds. `nil`
    /// when no host has readings.
    public func ranking(plugin: String, window: MetricWindow, hosts: [String: [SeriesStatistics]]) -> MetricSummary? {
        var byMetric: [String: [(host: String, series: SeriesStatistics)]] = [:]
        for (host, series) in hosts {
            for statistics in series where statistics.figures != nil {
                byMetric[statistics.key.metric, default: []].append((host, statistics))
            }
        }
        guard !byMetric.isEmpty else { return nil }
        let title = "\(plugin) across hosts: \(window.description)"
        var paragraphs = [
            "Plugin \(plugin), \(window.description): \(Set(byMetric.values.flatMap { $0.map(\.host) }).count) hosts "
                + "reported \(byMetric.count) metrics. Hosts are compared metric by metric."
        ]
        for metric in byMetric.keys.sorted() {
            guard let entries = byMetric[metric] else { continue }
            let sorted = entries.sorted { ($0.host, $0.series.key) < ($1.host, $1.series.key) }
            paragraphs.append(
                rankingParagraph(plugin: plugin, metric: metric, window: window, entries: sorted, hosts: hosts))
        }
        return MetricSummary(title: title, text: paragraphs.joined(separator: "\n\n") + "\n")
    }

    private func rankingParagraph(
        plugin: String, metric: String, window: MetricWindow, entries: [(host: String, series: SeriesStatistics)],
        hosts: [String: [SeriesStatistics]]
    ) -> String {
        let hostCount = Set(entries.map(\.host)).count
        let reporting =
            "Of the \(hostCount) \(hostCount == 1 ? "host" : "hosts") reporting \(plugin) \(metric) on \(window.label)"
        func who(_ entry: (host: String, series: SeriesStatistics)) -> String {
            let labels = entry.series.key.labelText
            return Self.hostName(entry.host) + (labels.isEmpty ? "" : " (\(labels))")
        }
        guard let kind = entries.first?.series.kind else { return "" }
        var sentences: [String] = []
        switch kind {
        case .filling, .draining:
            let filling = { if case .filling = kind { true } else { false } }()
            // Fastest towards full (or empty) first; series without a trend last.
            let ranked = entries.sorted { a, b in
                let slopeA = a.series.figures?.slopePerDay.map { filling ? $0 : -$0 } ?? -.infinity
                let slopeB = b.series.figures?.slopePerDay.map { filling ? $0 : -$0 } ?? -.infinity
                return slopeA > slopeB
            }
            if let leader = ranked.first, let slope = leader.series.figures?.slopePerDay,
                filling ? slope > 0 : slope < 0
            {
                let unit = Self.displayUnit(of: leader.series)
                var sentence =
                    "\(reporting), \(who(leader)) is \(filling ? "filling" : "running out") fastest, "
                    + Self.trendWords(slope, unit: unit)
                if let projection = projection(of: leader.series, siblings: hosts[leader.host] ?? []),
                    projection.days > 0
                {
                    sentence += ", \(filling ? "full" : "exhausted") in \(Self.durationWords(days: projection.days))"
                }
                sentences.append(sentence + ".")
            } else {
                sentences.append("\(reporting), none is \(filling ? "filling" : "running out").")
            }
            let listed = ranked.prefix(Self.rankingLength).map { entry -> String in
                let slope = entry.series.figures?.slopePerDay
                return who(entry) + " "
                    + (slope.map { Self.trendWords($0, unit: Self.displayUnit(of: entry.series)) } ?? "with no trend")
            }
            sentences.append("Ranked by trend: " + listed.joined(separator: "; ") + Self.moreSuffix(ranked.count) + ".")
            let projections = ranked.compactMap { entry in
                projection(of: entry.series, siblings: hosts[entry.host] ?? []).map { (entry, $0) }
            }.sorted { $0.1.days < $1.1.days }
            if let (entry, soonest) = projections.first {
                let target = filling ? "full" : "exhausted"
                sentences.append(
                    soonest.days > 0
                        ? "Soonest \(target): \(who(entry)), in \(Self.durationWords(days: soonest.days))."
                        : "Already \(target): \(who(entry)).")
            }
        case .check(let passing):
            let failed = entries.filter { ($0.series.figures?.beyond.first ?? 0) > 0 }
            if failed.isEmpty {
                sentences.append(
                    "\(plugin) check \(metric) passed on all \(hostCount) \(hostCount == 1 ? "host" : "hosts") on \(window.label)."
                )
            } else {
                let failedHosts = Set(failed.map(\.host)).count
                let listed = failed.prefix(Self.rankingLength).map { entry -> String in
                    let figures = entry.series.figures
                    let first =
                        figures?.crossings.first(where: \.intoBad).map { ", first at \(window.describe($0.at))" } ?? ""
                    let now =
                        figures.map {
                            Self.isPassing($0.last.value, passing: passing)
                                ? ", passing again at the end" : ", still failing at the end"
                        } ?? ""
                    return who(entry) + " in \(figures?.beyond.first ?? 0) of \(figures?.count ?? 0) readings" + first
                        + now
                }
                sentences.append(
                    "\(plugin) check \(metric) failed on \(failedHosts) of \(hostCount) hosts on \(window.label): "
                        + listed.joined(separator: "; ") + Self.moreSuffix(failed.count) + ".")
            }
        case .gauge:
            let ranked = entries.sorted {
                ($0.series.figures?.maximum ?? -.infinity) > ($1.series.figures?.maximum ?? -.infinity)
            }
            let listed = ranked.prefix(Self.rankingLength).map { entry in
                who(entry) + " at "
                    + Self.format(entry.series.figures?.maximum ?? 0, unit: Self.displayUnit(of: entry.series))
            }
            sentences.append(
                "\(reporting), highest first: " + listed.joined(separator: "; ") + Self.moreSuffix(ranked.count) + ".")
        }
        // Each series' most severe crossing into the bad side (thresholds go from warning to critical).
        let crossed = entries.compactMap { entry -> String? in
            if case .check = entry.series.kind { return nil }
            guard let worst = entry.series.figures?.crossings.filter(\.intoBad).max(by: { $0.threshold < $1.threshold })
            else { return nil }
            return who(entry) + " "
                + describe(worst, of: entry.series, unit: Self.displayUnit(of: entry.series), window: window)
        }
        if !crossed.isEmpty {
            sentences.append(
                "Threshold crossings: " + crossed.prefix(Self.rankingLength).joined(separator: "; ")
                    + Self.moreSuffix(crossed.count) + ".")
        }
        return sentences.joined(separator: " ")
    }

    // MARK: Words and numbers

    /// `host db-2`; a row without a host is `an unnamed host`.
    static func hostName(_ host: String) -> String { host.isEmpty ? "an unnamed host" : "host \(host)" }

    /// The unit to print a series' values with: its own, or `%` when the name says percent.
    static func displayUnit(of series: SeriesStatistics) -> String? {
        if let unit = series.unit, !unit.trimmingCharacters(in: .whitespaces).isEmpty { return unit }
        return Set(MetricKind.nameWords(series.key.metric)).isDisjoint(with: ["percent", "pct"]) ? nil : "%"
    }

    /// Whether a check's reading passes.
    static func isPassing(_ value: Double, passing: Double) -> Bool { abs(value - passing) < 0.5 }

    /// `rising 2.4 % per day`, `falling 1 GiB per day`, `flat`.
    static func trendWords(_ slope: Double, unit: String?) -> String {
        if slope == 0 { return "flat" }
        return (slope > 0 ? "rising " : "falling ") + format(abs(slope), unit: unit) + " per day"
    }

    /// `about 6 hours`, `about 12.9 days`, `more than 10 years`.
    static func durationWords(days: Double) -> String {
        if days < 1 { return "about \(plain((days * 24 * 10).rounded() / 10)) hours" }
        if days <= 3_650 { return "about \(plain((days * 10).rounded() / 10)) days" }
        return "more than 10 years"
    }

    /// A value with its unit: `93.8 %`, `1.5 GiB`, `12 ms`, `0` (counts go bare).
    static func format(_ value: Double, unit: String?) -> String {
        guard value.isFinite else { return "not a finite number" }
        let unitText = (unit ?? "").trimmingCharacters(in: .whitespaces)
        if MetricKind.isByteUnit(unit) { return bytes(value) }
        if MetricKind.isPercentUnit(unit) { return plain(value) + " %" }
        if unitText.isEmpty || unitText == "count" { return plain(value) }
        return plain(value) + " " + unitText
    }

    /// A number without a unit: two decimals at most, scientific when very large or very small.
    static func plain(_ value: Double) -> String {
        guard value.isFinite else { return "not a finite number" }
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude >= 1e9 || magnitude < 0.01) { return String(format: "%.3g", value) }
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// Bytes in binary units: `512 B`, `1.5 GiB`.
    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var scaled = value
        var index = 0
        while abs(scaled) >= 1024, index < units.count - 1 {
            scaled /= 1024
            index += 1
        }
        return plain((scaled * 10).rounded() / 10) + " " + units[index]
    }

    /// `a, b and c`.
    static func list(_ items: [String]) -> String {
        guard items.count > 1, let last = items.last else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + last
    }

    /// ` and 12 more` past the ranking length.
    private static func moreSuffix(_ count: Int) -> String {
        count > Self.rankingLength ? " and \(count - Self.rankingLength) more" : ""
    }
}
