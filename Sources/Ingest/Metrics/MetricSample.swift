import Foundation

/// One reading of a monitoring plugin (a row of `plugin_metrics`), as the summariser reads it.
public struct MetricSample: Sendable, Equatable {
    public var metric: String
    /// The row's labels (`mount`, `device`, `provider`, …), each value as text.
    public var labels: [String: String]
    public var unit: String?
    /// May be NaN or infinite: the summariser counts such readings and leaves them out.
    public var value: Double
    public var collectedAt: Date

    /// A reading.
    public init(metric: String, labels: [String: String] = [:], unit: String? = nil, value: Double, collectedAt: Date) {
        self.metric = metric
        self.labels = labels
        self.unit = unit
        self.value = value
        self.collectedAt = collectedAt
    }

    /// The labels of a `labels` JSON column: an object's values as text (strings as they are, anything else as
    /// JSON); anything but an object has no labels.
    public static func labels(fromJSON json: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]),
            let dictionary = object as? [String: Any]
        else { return [:] }
        var labels: [String: String] = [:]
        for (key, value) in dictionary {
            if let text = value as? String {
                labels[key] = text
            } else if JSONSerialization.isValidJSONObject([value]),
                let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]),
                let text = String(data: data, encoding: .utf8)
            {
                // Encoded inside an array (a scalar alone is not a JSON document to the encoder), brackets dropped.
                labels[key] = String(text.dropFirst().dropLast())
            }
        }
        return labels
    }
}

/// What identifies a series: a metric and its labels (one disk's `disk_used_percent`, say).
public struct MetricSeriesKey: Sendable, Hashable, Codable, Comparable {
    public var metric: String
    public var labels: [String: String]

    /// A series of `metric` with `labels`.
    public init(metric: String, labels: [String: String] = [:]) {
        self.metric = metric
        self.labels = labels
    }

    /// The labels as prose, sorted by name: `device /dev/sdb, mount /var`; empty without labels.
    public var labelText: String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The metric with its labels in parentheses: `disk_used_percent (mount /var)`.
    public var displayName: String { labels.isEmpty ? metric : "\(metric) (\(labelText))" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.metric, lhs.labelText) < (rhs.metric, rhs.labelText)
    }
}
