/// What a model cleanup may remove: the `lifecycle:` section of the configuration file.
///
/// Some models are never removed, whatever the policy says: those ``keep`` matches, those the routing file names
/// (the caller passes them to ``CleanupPlanner/plan(snapshot:lastUsed:loaded:pinned:now:)`` as pins), and those Ollama
/// has loaded. Models are deleted through Ollama's API; the appliance removes files itself only for orphaned blobs and
/// partial downloads, and only when ``removeOrphans`` is on.
///
/// ## Configuration keys
/// - `keep` (list of names or globs, default: none). See ``ModelNamePattern``.
/// - `max_idle_days` (whole days, 1-36500, default: none, so nothing is deleted for being idle).
/// - `disk_budget` (size such as `80GB` or `75GiB`, default: none). See ``parseByteSize(_:key:)``.
/// - `orphan_grace` (duration such as `24h`, default: `24h`). See ``parseDuration(_:key:)``.
/// - `remove_orphans` (boolean, default: `false`).
public struct CleanupPolicy: Sendable, Hashable {
    /// Models never removed, by name or glob. Defaults to none.
    public var keep: [ModelNamePattern] = []
    /// Days without a request after which a model is deleted; a model never requested counts from its pull. Defaults
    /// to nil: no model is deleted for being idle.
    public var maxIdleDays: Int?
    /// The bytes the models may occupy on disk, counted as ``OllamaDiskUsage/totalBytes`` (each blob once). Above it,
    /// least recently used models are deleted until the models fit. Defaults to nil: no budget.
    public var diskBudget: Int64?
    /// How long an orphaned blob or partial download is left alone before it may be removed. Defaults to 24 hours.
    ///
    /// The grace covers a pull in progress: its blobs arrive before its manifest, so for a while they look orphaned,
    /// and its partial files are written as it goes.
    public var orphanGrace: Duration = .seconds(86_400)
    /// Whether orphaned blobs and partial downloads past the grace are removed. Defaults to false: they are reported
    /// by `models usage` only.
    public var removeOrphans = false

    /// The most `max_idle_days` may be: 100 years.
    public static let maximumIdleDays = 36_500
    /// The longest `orphan_grace` may be: 100 years.
    public static let maximumGrace: Duration = .seconds(36_500 * 86_400)

    /// A policy that removes nothing.
    public init() {}

    /// A policy from the configuration file's values.
    ///
    /// - Parameters:
    ///   - keep: `keep` entries; see ``ModelNamePattern``.
    ///   - maxIdleDays: `max_idle_days`.
    ///   - diskBudget: `disk_budget`, such as `80GB`.
    ///   - orphanGrace: `orphan_grace`, such as `24h`; nil keeps the default.
    ///   - removeOrphans: `remove_orphans`.
    /// - Throws: ``CleanupPolicyError`` naming the key at fault.
    public init(
        keep: [String] = [], maxIdleDays: Int? = nil, diskBudget: String? = nil, orphanGrace: String? = nil,
        removeOrphans: Bool = false
    ) throws {
        self.keep = try keep.map(ModelNamePattern.init)
        self.maxIdleDays = maxIdleDays
        self.diskBudget = try diskBudget.map { try Self.parseByteSize($0) }
        if let orphanGrace { self.orphanGrace = try Self.parseDuration(orphanGrace) }
        self.removeOrphans = removeOrphans
        try validate()
    }

    /// Checks the values a caller may have set directly.
    ///
    /// - Throws: ``CleanupPolicyError`` for `max_idle_days` outside 1-36500, a negative `disk_budget`, or an
    ///   `orphan_grace` that is negative or longer than 100 years.
    public func validate() throws {
        if let maxIdleDays, !(1...Self.maximumIdleDays).contains(maxIdleDays) {
            throw CleanupPolicyError.outOfRange(
                key: "max_idle_days", value: Int64(maxIdleDays), range: 1...Int64(Self.maximumIdleDays),
                hint: "leave it out to delete nothing for being idle")
        }
        if let diskBudget, diskBudget < 0 {
            throw CleanupPolicyError.outOfRange(
                key: "disk_budget", value: diskBudget, range: 0...Int64.max, hint: "leave it out for no budget")
        }
        guard orphanGrace >= .zero, orphanGrace <= Self.maximumGrace else {
            throw CleanupPolicyError.outOfRange(
                key: "orphan_grace", value: orphanGrace.components.seconds,
                range: 0...Self.maximumGrace.components.seconds, hint: "the default is 24h")
        }
    }
}
