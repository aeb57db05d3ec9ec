import Foundation
import Logging
import Providers
import Routing
import Storage

/// Brings the monitoring plugins' `plugin_metrics` rows into the knowledge base as text summaries, so that a
/// question such as "which host's disk is filling fastest?" retrieves them and the answer names the host.
///
/// Documents, all in one configured tenant:
/// - `plugin_metrics/<plugin>/<host>/<hour>` (`…/2025-01-07T13:00Z`) and `…/<day>` (`…/2025-01-07`): per series,
///   min, mean, max, last, the trend per day, threshold crossings and, for capacity metrics, the projected time to
///   full (see ``MetricKind`` and ``MetricSummariser``);
/// - `plugin_metrics/<plugin>/*/<day>`: the plugin's hosts compared (fastest filling first, failed checks, highest
///   readings, crossings).
///
/// Incremental by window: triggers (`migrations/0006_plugin_metric_windows.sql`) mark each hour and plugin-day that
/// rows are written to. A sync claims marked plugin-days, reads only the marked hours' rows, keeps each hour's
/// statistics (``SeriesStatistics``, which merge) in `plugin_metric_hours`, and builds the day from its hours
/// without reading their rows again. A closed hour gets no new rows, so it is summarised once; the open hour and
/// day are summarised again whenever rows arrive in them. Hourly documents older than
/// ``Configuration/hourlyRetentionDays`` are removed (and not written); daily ones stay.
public struct PluginMetricsSync: Sendable {
    public struct Configuration: Sendable {
        /// The tenant whose knowledge base holds the summaries; created if absent. Defaults to `default`.
        public var tenant = "default"
        /// Days for which hourly summaries are kept; older hours are summarised in their day only. Defaults to 14.
        public var hourlyRetentionDays = 14
        /// Plugin-days claimed at a time (16 by default), the lease and this instance's name.
        public var claims = QueueClaims(batchSize: 16)
        /// Rows read from one plugin, host and hour at most; the rest are left out and the summary says so. Defaults
        /// to 200,000.
        public var maximumRowsPerHour = 200_000
        public init() {}
    }

    /// Source URIs of summaries start with this.
    public static let sourcePrefix = "plugin_metrics/"

    public let configuration: Configuration
    let ingestor: Ingestor
    let windows: PluginMetricWindows
    let summariser = MetricSummariser()
    let logger: Logger

    /// A sync that stores summaries through `ingestor` (its store, embedder and chunker).
    public init(configuration: Configuration = .init(), ingestor: Ingestor, logger: Logger) {
        self.configuration = configuration
        self.ingestor = ingestor
        self.windows = PluginMetricWindows(client: ingestor.store.client, logger: logger)
        self.logger = logger
    }

    /// Summarises the plugin-days marked when it starts; `now` decides which hours are recent enough for hourly
    /// documents. A plugin-day whose documents cannot all be stored is reported and stays marked.
    public func sync(now: Date = Date(), progress: (@Sendable (IngestProgress) -> Void)? = nil) async throws
        -> IngestSummary
    {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = IngestSummary()
        let tenantID = try await ingestor.store.ensureTenant(named: configuration.tenant, logger: logger)
        let modelID = try await ingestor.prepareEmbeddingSpace()
        let hourlyCutoff = now.addingTimeInterval(-Double(max(0, configuration.hourlyRetentionDays)) * 86_400)
        let through = try await windows.latestDayChange()
        var after: Int64 = 0
        while true {
            let claims = try await windows.claimDays(
                limit: configuration.claims.batchSize, after: after, through: through,
                instance: configuration.claims.instance,
                lease: configuration.claims.lease)
            guard let last = claims.last else { break }
            after = last.changeSeq
            var retry: [PluginMetricWindows.DayClaim] = []
            do {
                for claim in claims {
                    let day = try await syncDay(
                        claim, tenantID: tenantID, modelID: modelID, hourlyCutoff: hourlyCutoff, start: start,
                        progress: progress)
                    summary.merge(day)
                    if day.failed > 0 { retry.append(claim) }
                }
            } catch {
                // Released outside this task, so that a sync cancelled at shutdown still releases its claims.
                let (windows, instance) = (windows, configuration.claims.instance)
                try? await Task { try await windows.finish(claims, retry: claims, instance: instance) }.value
                throw error
            }
            try await windows.finish(claims, retry: retry, instance: configuration.claims.instance)
        }
        summary.removed += try await ingestor.store.deleteDocuments(
            tenantID: tenantID, under: Self.sourcePrefix, whereMetadata: "hour_window_end",
            isBefore: MetricWindow.iso(hourlyCutoff), logger: logger)
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    /// Summarises one claimed plugin-day: its changed hours, its hosts' days and its ranking.
    private func syncDay(
        _ claim: PluginMetricWindows.DayClaim, tenantID: Int64, modelID: Int, hourlyCutoff: Date,
        start: ContinuousClock.Instant, progress: (@Sendable (IngestProgress) -> Void)?
    ) async throws -> IngestSummary {
        let plugin = claim.plugin
        let dayWindow = MetricWindow(.day, containing: claim.day)
        var hours = decodeStoredHours(try await windows.storedHours(plugin: plugin, day: claim.day))
        var pending: [Ingestor.TextDocument] = []
        var computed: [PluginMetricWindows.HourStatistics] = []
        var changedHosts: Set<String> = []
        var summary = IngestSummary()
        for stale in try await windows.staleHours(plugin: plugin, day: claim.day) {
            let limit = max(1, configuration.maximumRowsPerHour)
            let rows = try await windows.rows(plugin: plugin, host: stale.host, hour: stale.hour, limit: limit + 1)
            let truncated = rows.count > limit
            let samples = rows.prefix(limit).map { row in
                MetricSample(
                    metric: row.metric, labels: MetricSample.labels(fromJSON: row.labelsJSON), unit: row.unit,
                    value: row.value, collectedAt: row.collectedAt)
            }
            let series = SeriesStatistics.build(from: samples)
            hours[stale.host, default: [:]][stale.hour] = series
            changedHosts.insert(stale.host)
            computed.append(
                .init(
                    host: stale.host, hour: stale.hour, changeSeq: stale.changeSeq, seriesJSON: try Self.encode(series))
            )
            if truncated {
                logger.warning(
                    "A plugin's hour has more rows than are read",
                    metadata: [
                        "ingest.plugin": "\(plugin)", "ingest.host": "\(stale.host)", "ingest.limit": "\(limit)",
                    ])
            }
            let window = MetricWindow(.hour, containing: stale.hour)
            guard window.end > hourlyCutoff, !series.isEmpty else { continue }
            pending.append(
                document(
                    summariser.hostSummary(
                        plugin: plugin, host: stale.host, window: window, series: series,
                        readLimit: truncated ? limit : nil),
                    plugin: plugin, host: stale.host, window: window))
        }
        // The day of every host whose hours changed, from all its hours; then the hosts compared.
        var days: [String: [SeriesStatistics]] = [:]
        for (host, byHour) in hours {
            days[host] = SeriesStatistics.merge(byHour.sorted { $0.key < $1.key }.map(\.value))
        }
        for host in changedHosts.sorted() {
            guard let series = days[host], !series.isEmpty else { continue }
            pending.append(
                document(
                    summariser.hostSummary(plugin: plugin, host: host, window: dayWindow, series: series),
                    plugin: plugin, host: host, window: dayWindow))
        }
        if !changedHosts.isEmpty, let ranking = summariser.ranking(plugin: plugin, window: dayWindow, hosts: days) {
            pending.append(document(ranking, plugin: plugin, host: nil, window: dayWindow))
        }

        let documents = pending
        let stored = try await ingestor.store.documentStates(
            sourceURIs: documents.map(\.sourceURI), modelID: modelID, logger: logger)
        let outcomes = await ingestor.runBounded(count: documents.count, start: start, progress: progress) { index in
            let document = documents[index]
            return await ingestor.ingestText(
                document, state: stored[document.sourceURI]?[tenantID],
                existed: stored[document.sourceURI]?[tenantID] != nil,
                tenantID: tenantID, modelID: modelID)
        }
        for (document, outcome) in zip(documents, outcomes) { summary.record(outcome, path: document.sourceURI) }
        // The hours' statistics are stored once their documents are: a failure leaves them to be summarised again.
        if summary.failed == 0 { try await windows.saveHours(plugin: plugin, computed) }
        return summary
    }

    /// The document of a summary: a host's window, or the plugin's ranking across hosts (`host` nil).
    func document(_ summary: MetricSummary, plugin: String, host: String?, window: MetricWindow)
        -> Ingestor.TextDocument
    {
        var metadata = [
            "source": "plugin_metrics", "plugin": plugin, "granularity": window.granularity.rawValue,
            "window_start": MetricWindow.iso(window.start), "window_end": MetricWindow.iso(window.end),
        ]
        if let host { metadata["host"] = host }
        // Only hourly documents carry this key: retention removes documents by it and leaves daily ones alone.
        if window.granularity == .hour { metadata["hour_window_end"] = MetricWindow.iso(window.end) }
        return Ingestor.TextDocument(
            sourceURI: Self.sourceURI(plugin: plugin, host: host, window: window), title: summary.title,
            text: summary.text,
            keywords: [plugin] + (host.map { [$0] } ?? []), metadata: metadata)
    }

    /// `plugin_metrics/<plugin>/<host>/<window>`, the host `*` for the plugin's ranking across hosts, `-` for rows
    /// without a host. Plugin and host are percent-encoded beyond letters, digits, `.`, `_` and `-`, so a `/` in
    /// either cannot change the path's shape.
    public static func sourceURI(plugin: String, host: String?, window: MetricWindow) -> String {
        let hostPart = host.map { $0.isEmpty ? "-" : escape($0) } ?? "*"
        return sourcePrefix + escape(plugin) + "/" + hostPart + "/" + window.label
    }

    static func escape(_ part: String) -> String {
        var escaped = ""
        for byte in part.utf8 {
            let scalar = Unicode.Scalar(byte)
            if ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || "._-".unicodeScalars.contains(scalar)
            {
                escaped.unicodeScalars.append(scalar)
            } else {
                escaped += String(format: "%%%02X", byte)
            }
        }
        return escaped.isEmpty ? "-" : escaped
    }

    /// Hour statistics as stored (JSON, non-finite numbers as strings should any slip through).
    static func encode(_ series: [SeriesStatistics]) throws -> String {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(series), as: UTF8.self)
    }

    /// Stored hour statistics by host and hour; an hour whose JSON no longer decodes (written by another version)
    /// is left out, and summarised again only when its rows change.
    func decodeStoredHours(_ stored: [String: [Date: String]]) -> [String: [Date: [SeriesStatistics]]] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var hours: [String: [Date: [SeriesStatistics]]] = [:]
        for (host, byHour) in stored {
            for (hour, json) in byHour {
                do {
                    hours[host, default: [:]][hour] = try decoder.decode([SeriesStatistics].self, from: Data(json.utf8))
                } catch {
                    logger.warning(
                        "Stored hour statistics do not decode; the hour is left out of its day",
                        metadata: ["ingest.host": "\(host)", "ingest.hour": "\(hour)", "error": "\(error)"])
                }
            }
        }
        return hours
    }
}
