import Foundation
import Testing

@testable import Ingest

/// Plugin metrics summarised over fixture series with known trends and crossings.
@Suite struct MetricSummariserTests {
    /// 2025-03-03T00:00:00Z, a Monday.
    static let day = Date(timeIntervalSince1970: 1_740_960_000)

    static func at(hours: Double) -> Date { day.addingTimeInterval(hours * 3_600) }

    /// A disk that fills by 24 percentage points a day from 70.2 %, read every 10 minutes for a day: it crosses
    /// 80 % at 09:48 (first reading above: 09:50) and 90 % at 19:48 (19:50), and ends at 94.03 %, about 6 hours
    /// from full.
    static func fillingDisk(host: String = "db-2", perDay: Double = 24, from start: Double = 70.2) -> [MetricSample] {
        (0..<144).map { step in
            let hours = Double(step) / 6
            return MetricSample(
                metric: "disk_used_percent", labels: ["mount": "/var"], unit: "%", value: start + perDay * hours / 24,
                collectedAt: at(hours: hours))
        }
    }

    /// A SMART check read hourly that fails at 14:00 and 15:00 and passes again from 16:00.
    static let smartCheck: [MetricSample] = (0..<24).map { hour in
        MetricSample(
            metric: "smart_passed", labels: ["device": "/dev/sdb"], value: (14...15).contains(hour) ? 0 : 1,
            collectedAt: at(hours: Double(hour)))
    }

    @Test(
        arguments: [
            ("disk_used_percent", "%", MetricKind.filling(capacity: 100)),
            ("pool_capacity", "percent", .filling(capacity: 100)),
            ("memoryUsageRatio", nil, .filling(capacity: 1)),
            ("used_bytes", "bytes", .filling(capacity: nil)),
            ("free_bytes", "B", .draining),
            ("inodes_free_percent", nil, .draining),
            ("smart_passed", nil, .check(passingValue: 1)),
            ("health_ok", "", .check(passingValue: 1)),
            ("smart_failed", nil, .check(passingValue: 0)),
            ("latency_p95", "ms", .gauge),
            ("error_rate", "ratio", .gauge),
            ("reallocated_sectors", "count", .gauge),
        ] as [(String, String?, MetricKind)])
    func metricsAreClassifiedByTheirNameAndUnit(_ metric: String, _ unit: String?, _ kind: MetricKind) {
        #expect(MetricKind.classify(metric: metric, unit: unit) == kind)
    }

    @Test func aFillingDiskHasItsFiguresTrendAndCrossings() throws {
        let series = try #require(SeriesStatistics.build(from: Self.fillingDisk()).first)
        let figures = try #require(series.figures)
        #expect(figures.count == 144)
        #expect(abs(figures.minimum - 70.2) < 1e-9)
        #expect(abs(figures.last.value - (70.2 + 24 * 143.0 / 144)) < 1e-9)
        #expect(abs((figures.slopePerDay ?? 0) - 24) < 1e-6)
        #expect(abs((figures.mean ?? 0) - (70.2 + 24 * 71.5 / 144)) < 1e-9)
        #expect(figures.crossings.map(\.at) == [Self.at(hours: 59.0 / 6), Self.at(hours: 119.0 / 6)])
        #expect(figures.crossings.allSatisfy { $0.intoBad })
        // 80 % and 90 %: readings at or above each.
        #expect(figures.beyond == [143 - 59 + 1, 143 - 119 + 1])

        let text = MetricSummariser().hostSummary(
            plugin: "disk-monitor", host: "db-2", window: MetricWindow(.day, containing: Self.day), series: [series]
        ).text
        #expect(
            text.contains(
                "On host db-2, disk_used_percent (mount /var) ranged from 70.2 % to 94.03 % (mean 82.12 %, last 94.03 %), rising 24 % per day."
            ), "\(text)")
        #expect(
            text.contains("went above 80 % (warning) at 09:50 UTC and went above 90 % (critical) at 19:50 UTC"),
            "\(text)")
        #expect(
            text.contains("is projected to be full (100 %) in about 6 hours, around 05:48 UTC") == false,
            "the day of a later instant is named")
        #expect(
            text.contains("is projected to be full (100 %) in about 6 hours, around 2025-03-04 05:48 UTC"), "\(text)")
    }

    @Test func aFailedCheckSaysWhenItFailedAndRecovered() throws {
        let series = try #require(SeriesStatistics.build(from: Self.smartCheck).first)
        #expect(series.kind == .check(passingValue: 1))
        #expect(series.figures?.beyond == [2])
        #expect(series.figures?.crossings.map(\.intoBad) == [true, false])
        let text = MetricSummariser().hostSummary(
            plugin: "smart-monitor", host: "db-2", window: MetricWindow(.day, containing: Self.day), series: [series]
        ).text
        #expect(
            text.contains(
                "On host db-2, the check smart_passed (device /dev/sdb) failed in 2 of 24 readings; its last reading passes."
            ))
        #expect(
            text.contains("smart_passed (device /dev/sdb) failed at 14:00 UTC and passed again at 16:00 UTC."),
            "\(text)")
    }

    @Test func hoursMergedMatchTheWholeDay() throws {
        let samples = Self.fillingDisk() + Self.smartCheck
        let whole = SeriesStatistics.build(from: samples)
        let hours = (0..<24).map { hour in
            SeriesStatistics.build(
                from: samples.filter {
                    MetricWindow(.hour, containing: $0.collectedAt).start == Self.at(hours: Double(hour))
                })
        }
        let merged = SeriesStatistics.merge(hours)
        #expect(merged.map(\.key) == whole.map(\.key))
        for (a, b) in zip(merged, whole) {
            let (x, y) = (try #require(a.figures), try #require(b.figures))
            #expect(x.count == y.count && x.minimum == y.minimum && x.maximum == y.maximum && x.last == y.last)
            #expect(x.crossings == y.crossings && x.beyond == y.beyond)
            #expect(abs((x.slopePerDay ?? 0) - (y.slopePerDay ?? 0)) < 1e-6)
            #expect(abs((x.mean ?? 0) - (y.mean ?? 0)) < 1e-9)
        }
    }

    @Test func nonFiniteAndHugeReadingsAreCountedNotFatal() throws {
        var samples = Self.fillingDisk()
        samples.insert(
            MetricSample(
                metric: "disk_used_percent", labels: ["mount": "/var"], unit: "%", value: .nan,
                collectedAt: Self.at(hours: 3)), at: 20)
        samples.append(
            MetricSample(
                metric: "disk_used_percent", labels: ["mount": "/var"], unit: "%", value: .infinity,
                collectedAt: Self.at(hours: 23.9)))
        let disk = try #require(SeriesStatistics.build(from: samples).first)
        #expect(disk.nonFinite == 2 && disk.figures?.count == 144)
        #expect(abs((disk.figures?.slopePerDay ?? 0) - 24) < 1e-6)

        let huge = [Double.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .greatestFiniteMagnitude, 1e300, -.nan]
            .enumerated().map { index, value in
                MetricSample(metric: "weird_gauge", value: value, collectedAt: Self.at(hours: Double(index)))
            }
        let weird = try #require(SeriesStatistics.build(from: huge).first)
        #expect(weird.nonFinite == 1 && weird.figures?.count == 4)
        #expect(weird.figures?.maximum == .greatestFiniteMagnitude)
        // The moments overflow: no mean or trend is claimed rather than a wrong one.
        #expect(weird.figures?.mean == nil && weird.figures?.slopePerDay == nil)
        let window = MetricWindow(.day, containing: Self.day)
        let text = MetricSummariser().hostSummary(plugin: "odd", host: "h", window: window, series: [weird]).text
        #expect(text.contains("ranged from -1.8e+308 to 1.8e+308 (last 1e+300)"), "\(text)")
        #expect(text.contains("1 readings were not finite numbers"))
        // The statistics are stored as JSON and read back the same.
        let json = try PluginMetricsSync.encode([weird, disk])
        let decoded = try JSONDecoder().decode([SeriesStatistics].self, from: Data(json.utf8))
        #expect(decoded == [weird, disk])
    }

    @Test func aUsedAmountIsProjectedAgainstItsTotal() throws {
        let samples = (0..<48).flatMap { step -> [MetricSample] in
            let hours = Double(step) / 2
            return [
                MetricSample(
                    metric: "used_bytes", labels: ["pool": "tank"], unit: "bytes", value: 600e9 + 100e9 * hours / 24,
                    collectedAt: Self.at(hours: hours)),
                MetricSample(
                    metric: "total_bytes", labels: ["pool": "tank"], unit: "bytes", value: 1000e9,
                    collectedAt: Self.at(hours: hours)),
            ]
        }
        let series = SeriesStatistics.build(from: samples)
        let text = MetricSummariser().hostSummary(
            plugin: "zfs-btrfs-monitor", host: "nas-1", window: MetricWindow(.day, containing: Self.day), series: series
        ).text
        // 600 GB + 100 GB a day, at 697.9 GB at 23:30: full (1000 GB = 931.3 GiB) in about 3 days.
        #expect(
            text.contains("used_bytes (pool tank) on host nas-1 is projected to be full (931.3 GiB) in about 3 days"),
            "\(text)")
    }

    @Test func theRankingNamesTheHostFillingFastest() throws {
        let hosts: [String: [SeriesStatistics]] = [
            "web-1": SeriesStatistics.build(from: Self.fillingDisk(host: "web-1", perDay: 3, from: 40)),
            "db-2": SeriesStatistics.build(from: Self.fillingDisk()),
            "cache-3": SeriesStatistics.build(from: Self.fillingDisk(host: "cache-3", perDay: -0.5, from: 55)),
        ]
        let ranking = try #require(
            MetricSummariser().ranking(
                plugin: "disk-monitor", window: MetricWindow(.day, containing: Self.day), hosts: hosts))
        #expect(ranking.title == "disk-monitor across hosts: 2025-03-03 (UTC day)")
        #expect(
            ranking.text.contains(
                "Of the 3 hosts reporting disk-monitor disk_used_percent on 2025-03-03, host db-2 (mount /var) is filling fastest, rising 24 % per day, full in about 6 hours."
            ),
            "\(ranking.text)")
        #expect(
            ranking.text.contains(
                "Ranked by trend: host db-2 (mount /var) rising 24 % per day; host web-1 (mount /var) rising 3 % per day; host cache-3 (mount /var) falling 0.5 % per day."
            ),
            "\(ranking.text)")
        #expect(
            ranking.text.contains(
                "Threshold crossings: host db-2 (mount /var) went above 90 % (critical) at 19:50 UTC."),
            "\(ranking.text)")
    }

    @Test func theRankingSaysWhichChecksFailedWhere() throws {
        let passing = Self.smartCheck.map { sample in
            var sample = sample
            sample.value = 1
            return sample
        }
        let window = MetricWindow(.day, containing: Self.day)
        let hosts = [
            "db-2": SeriesStatistics.build(from: Self.smartCheck), "web-1": SeriesStatistics.build(from: passing),
        ]
        let ranking = try #require(MetricSummariser().ranking(plugin: "smart-monitor", window: window, hosts: hosts))
        #expect(
            ranking.text.contains(
                "smart-monitor check smart_passed failed on 1 of 2 hosts on 2025-03-03: host db-2 (device /dev/sdb) in 2 of 24 readings, first at 14:00 UTC, passing again at the end."
            ),
            "\(ranking.text)")
        let allPassing = try #require(
            MetricSummariser().ranking(
                plugin: "smart-monitor", window: window, hosts: ["web-1": SeriesStatistics.build(from: passing)]))
        #expect(allPassing.text.contains("smart-monitor check smart_passed passed on all 1 host on 2025-03-03."))
    }

    @Test func windowsAndSourcesAreNamedInUTC() {
        let window = MetricWindow(.hour, containing: Self.at(hours: 13.5))
        #expect(window.label == "2025-03-03T13:00Z" && window.description == "2025-03-03 13:00-14:00 UTC")
        #expect(MetricWindow(.day, containing: Self.at(hours: 23.99)).label == "2025-03-03")
        #expect(
            PluginMetricsSync.sourceURI(plugin: "disk-monitor", host: "db-2", window: window)
                == "plugin_metrics/disk-monitor/db-2/2025-03-03T13:00Z")
        #expect(
            PluginMetricsSync.sourceURI(plugin: "disk-monitor", host: nil, window: window)
                == "plugin_metrics/disk-monitor/*/2025-03-03T13:00Z")
        #expect(
            PluginMetricsSync.sourceURI(plugin: "a/b", host: "", window: window)
                == "plugin_metrics/a%2Fb/-/2025-03-03T13:00Z")
        #expect(MetricWindow.iso(Self.at(hours: 13.5)) == "2025-03-03T13:30:00Z")
    }

    @Test func labelsComeFromAnyJSONObject() {
        #expect(
            MetricSample.labels(fromJSON: #"{"mount": "/var", "warning": 85, "nested": {"a": [1]}}"#) == [
                "mount": "/var", "warning": "85", "nested": #"{"a":[1]}"#,
            ])
        #expect(MetricSample.labels(fromJSON: "[1, 2]").isEmpty && MetricSample.labels(fromJSON: "not json").isEmpty)
    }

    @Test func labelThresholdsReplaceTheDefaults() throws {
        let samples = (0..<10).map { step in
            MetricSample(
                metric: "disk_used_percent", labels: ["mount": "/", "warning": "85"], unit: "%",
                value: 80 + Double(step),
                collectedAt: Self.at(hours: Double(step)))
        }
        let series = try #require(SeriesStatistics.build(from: samples).first)
        #expect(series.thresholds == [Threshold(value: 85, aboveIsBad: true, name: "warning")])
        #expect(series.figures?.crossings.map(\.at) == [Self.at(hours: 5)])
    }
}
