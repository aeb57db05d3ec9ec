import Foundation

/// What a summary says about one series in one window, in a form that merges: a day's statistics are its hours'
/// merged in time order, so a day is summarised without reading its rows again. Pure.
///
/// Readings that are NaN or infinite are counted and left out. Sums that would overflow (values near
/// `Double.greatestFiniteMagnitude`) leave the mean or the trend unknown rather than wrong.
public struct SeriesStatistics: Sendable, Equatable, Codable {
    /// A reading.
    public struct Point: Sendable, Equatable, Codable {
        public var at: Date
        public var value: Double
    }

    /// A move of the series from one side of a threshold to the other.
    public struct Crossing: Sendable, Equatable, Codable {
        /// Index into ``SeriesStatistics/thresholds``.
        public var threshold: Int
        /// `true` when the series moved to the bad side (a disk went over 80 %, a check failed).
        public var intoBad: Bool
        /// The first reading on the new side.
        public var at: Date
        public var value: Double
    }

    /// Least-squares fit of value against time (in days), kept as centred moments so that merging is exact and
    /// free of cancellation (Chan et al.'s pairwise update).
    public struct Trend: Sendable, Equatable, Codable {
        var count: Double
        var meanDay: Double
        var meanValue: Double
        var sumSquaresDay: Double
        var sumProducts: Double

        init(day: Double, value: Double) {
            count = 1
            meanDay = day
            meanValue = value
            sumSquaresDay = 0
            sumProducts = 0
        }

        /// Both sets of readings in one fit; `nil` when a moment overflows.
        func merged(with other: Trend) -> Trend? {
            let count = self.count + other.count
            let dDay = other.meanDay - meanDay
            let dValue = other.meanValue - meanValue
            let weight = self.count * other.count / count
            let merged = Trend(
                count: count, meanDay: meanDay + dDay * other.count / count,
                meanValue: meanValue + dValue * other.count / count,
                sumSquaresDay: sumSquaresDay + other.sumSquaresDay + dDay * dDay * weight,
                sumProducts: sumProducts + other.sumProducts + dDay * dValue * weight)
            let moments = [merged.meanDay, merged.meanValue, merged.sumSquaresDay, merged.sumProducts]
            return moments.allSatisfy(\.isFinite) ? merged : nil
        }

        private init(count: Double, meanDay: Double, meanValue: Double, sumSquaresDay: Double, sumProducts: Double) {
            self.count = count
            self.meanDay = meanDay
            self.meanValue = meanValue
            self.sumSquaresDay = sumSquaresDay
            self.sumProducts = sumProducts
        }

        /// Change per day; `nil` with readings at fewer than two distinct instants.
        var slopePerDay: Double? {
            // A span under a second has no trend worth stating.
            guard sumSquaresDay > 1e-12 else { return nil }
            let slope = sumProducts / sumSquaresDay
            return slope.isFinite ? slope : nil
        }
    }

    /// The finite readings' figures; `nil` when there were none.
    public struct Figures: Sendable, Equatable, Codable {
        public var count: Int
        public var minimum: Double
        public var maximum: Double
        public var first: Point
        public var last: Point
        /// `nil` once a moment overflowed.
        public var trend: Trend?
        /// Readings on the bad side of each threshold, by threshold.
        public var beyond: [Int]
        /// The first ``SeriesStatistics/maximumCrossingsKept`` crossings.
        public var crossings: [Crossing]
        /// Every crossing, kept or not (a flapping series crosses often).
        public var crossingCount: Int

        /// The mean, when it is known.
        public var mean: Double? { trend.map(\.meanValue) }
        /// The trend in units per day, when there is one.
        public var slopePerDay: Double? { trend?.slopePerDay }
    }

    /// Crossings kept per series and window; the rest are counted.
    public static let maximumCrossingsKept = 20

    public var key: MetricSeriesKey
    public var unit: String?
    public var kind: MetricKind
    public var thresholds: [Threshold]
    /// Readings that were NaN or infinite.
    public var nonFinite: Int
    public var figures: Figures?

    /// The statistics of one series' readings, which must be in time order.
    public init(key: MetricSeriesKey, unit: String?, readings: [(at: Date, value: Double)]) {
        let kind = MetricKind.classify(metric: key.metric, unit: unit)
        self.key = key
        self.unit = unit
        self.kind = kind
        self.thresholds = MetricKind.thresholds(kind: kind, unit: unit, metric: key.metric, labels: key.labels)
        self.nonFinite = 0
        self.figures = nil
        for reading in readings {
            guard reading.value.isFinite else {
                nonFinite += 1
                continue
            }
            append(Point(at: reading.at, value: reading.value))
        }
    }

    /// Adds one finite reading, later than those before it.
    private mutating func append(_ point: Point) {
        let single = Figures(
            count: 1, minimum: point.value, maximum: point.value, first: point, last: point,
            trend: Trend(day: point.at.timeIntervalSince1970 / 86_400, value: point.value),
            beyond: thresholds.map { $0.isBad(point.value) ? 1 : 0 }, crossings: [], crossingCount: 0)
        figures = figures.map { Self.merged($0, single, thresholds: thresholds) } ?? single
    }

    /// These statistics followed by `later`'s (the same series in the window after): one window's worth.
    public func merged(with later: SeriesStatistics) -> SeriesStatistics {
        var result = self
        result.nonFinite += later.nonFinite
        if result.unit == nil { result.unit = later.unit }
        switch (figures, later.figures) {
        case (let earlier?, let next?): result.figures = Self.merged(earlier, next, thresholds: thresholds)
        case (nil, let next?): result.figures = next
        default: break
        }
        return result
    }

    private static func merged(_ earlier: Figures, _ later: Figures, thresholds: [Threshold]) -> Figures {
        var crossings = earlier.crossings
        var crossingCount = earlier.crossingCount
        // Between the last reading of one part and the first of the next.
        for (index, threshold) in thresholds.enumerated()
        where threshold.isBad(earlier.last.value) != threshold.isBad(later.first.value) {
            crossingCount += 1
            if crossings.count < maximumCrossingsKept {
                crossings.append(
                    Crossing(
                        threshold: index, intoBad: threshold.isBad(later.first.value), at: later.first.at,
                        value: later.first.value))
            }
        }
        crossingCount += later.crossingCount
        crossings += later.crossings.prefix(max(0, maximumCrossingsKept - crossings.count))
        let trend: Trend? =
            if let first = earlier.trend, let second = later.trend { first.merged(with: second) } else { nil }
        return Figures(
            count: earlier.count + later.count, minimum: min(earlier.minimum, later.minimum),
            maximum: max(earlier.maximum, later.maximum), first: earlier.first, last: later.last, trend: trend,
            beyond: zip(earlier.beyond, later.beyond).map { $0 + $1 }, crossings: crossings,
            crossingCount: crossingCount)
    }

    /// Statistics of every series in `samples` (any order), sorted by series.
    public static func build(from samples: [MetricSample]) -> [SeriesStatistics] {
        var bySeries: [MetricSeriesKey: (unit: String?, readings: [(at: Date, value: Double)])] = [:]
        for sample in samples {
            let key = MetricSeriesKey(metric: sample.metric, labels: sample.labels)
            bySeries[key, default: (sample.unit, [])].readings.append((sample.collectedAt, sample.value))
            if bySeries[key]?.unit == nil { bySeries[key]?.unit = sample.unit }
        }
        return bySeries.map { key, series in
            // A stable sort: readings of one instant keep the table's order.
            let ordered = series.readings.enumerated().sorted {
                ($0.element.at, $0.offset) < ($1.element.at, $1.offset)
            }
            return SeriesStatistics(key: key, unit: series.unit, readings: ordered.map(\.element))
        }.sorted { $0.key < $1.key }
    }

    /// The windows' statistics merged series by series, windows taken in the order given (earliest first).
    public static func merge(_ windows: [[SeriesStatistics]]) -> [SeriesStatistics] {
        var merged: [MetricSeriesKey: SeriesStatistics] = [:]
        for window in windows {
            for series in window {
                merged[series.key] = merged[series.key].map { $0.merged(with: series) } ?? series
            }
        }
        return merged.values.sorted { $0.key < $1.key }
    }
}
