import Foundation

/// Decides what a model cleanup removes, from a scanned models directory, the appliance's own usage records and a
/// ``CleanupPolicy``. Pure: no I/O, time is a parameter.
///
/// ## Rules
///
/// 1. **Never removed**: models a `keep` entry matches, models the routing file pins, and models Ollama has loaded.
///    Names are compared as Ollama compares them (`llama3.2` is `llama3.2:latest`; see ``OllamaModelName``).
/// 2. **Idle** (`max_idle_days`): a model whose last request (or, never requested, its manifest's modification time,
///    i.e. its pull) is more than `max_idle_days` × 24 hours before `now` is deleted, least recently used first.
/// 3. **Disk budget** (`disk_budget`): while the models' ``OllamaDiskUsage/totalBytes`` exceeds the budget, the least
///    recently used remaining model is deleted: models never requested first, then the oldest last request, ties in
///    name order. A deletion that frees nothing, and that no later deletion builds on (its blobs are shared with a
///    protected model), is left out of the plan: it would remove a model for no gain.
/// 4. **Orphans and partial downloads** are removed only when `remove_orphans` is on and they are older than
///    `orphan_grace`. The files of one download go together, aged by the newest of them, so that an active pull (whose
///    completed parts' progress files are no longer written) is never cut short. An invalid manifest whose references
///    cannot be read suspends orphan removal (see ``CleanupPlan/orphanRemovalSuspendedBy``).
///
/// Every deletion's bytes come from ``ReferenceGraph``, which deletes as Ollama does: the manifest, then the blobs no
/// remaining manifest references. Two models sharing a base blob: the first deletion frees its own layers, the second
/// also frees the base.
public struct CleanupPlanner: Sendable {
    /// The policy the plan follows.
    public var policy: CleanupPolicy

    /// A planner following `policy`.
    public init(policy: CleanupPolicy) {
        self.policy = policy
    }

    /// Plans a cleanup.
    ///
    /// - Parameters:
    ///   - snapshot: The models directory, from ``OllamaModelsDirectory/scan(path:)`` or built in memory.
    ///   - lastUsed: The last request the appliance routed to each model, keyed by the model name sent to Ollama
    ///     (`llama3.2`, `llama3.2:latest`), not by a routing alias: a model whose requests are recorded under another
    ///     name looks never used.
    ///   - loaded: The models Ollama has loaded now (`/api/ps`).
    ///   - pinned: For each model the routing file names, where it names it (`strategy 'fast'`, `embedding model`).
    ///   - now: The time idleness and grace periods are measured to.
    /// - Throws: ``CleanupPolicyError`` when the policy is invalid (``CleanupPolicy/validate()``).
    public func plan(
        snapshot: OllamaModelsDirectory.Snapshot, lastUsed: [String: Date] = [:], loaded: [String] = [],
        pinned: [String: [String]] = [:], now: Date
    ) throws -> CleanupPlan {
        try policy.validate()
        let manifests = snapshot.manifests
        let lastRequest = Self.byName(lastUsed) { max($0, $1) }
        let loadedNames = Set(loaded.compactMap { OllamaModelName(parsing: $0) })
        let pins = Self.byName(pinned) { $0 + $1 }

        // 1. Protected models.
        var kept: [CleanupPlan.KeptModel] = []
        var candidates: [Int] = []
        for (index, manifest) in manifests.enumerated() {
            var reasons: [CleanupPlan.KeepReason] = policy.keep.filter { $0.matches(manifest.name) }.map {
                .keep(pattern: $0.text)
            }
            if let pinReasons = pins[manifest.name] {
                reasons.append(.pinned(reasons: Array(Set(pinReasons)).sorted()))
            }
            if loadedNames.contains(manifest.name) { reasons.append(.loaded) }
            if reasons.isEmpty {
                candidates.append(index)
            } else {
                kept.append(CleanupPlan.KeptModel(name: manifest.name, reasons: reasons))
            }
        }

        // Least recently used first: never requested (in name order), then by last request, ties in name order.
        func leastRecentlyUsedFirst(_ lhs: Int, _ rhs: Int) -> Bool {
            let (left, right) = (manifests[lhs], manifests[rhs])
            switch (lastRequest[left.name], lastRequest[right.name]) {
            case (nil, nil): return (left.name, left.path) < (right.name, right.path)
            case (nil, _): return true
            case (_, nil): return false
            case (let leftDate?, let rightDate?):
                return leftDate != rightDate ? leftDate < rightDate : (left.name, left.path) < (right.name, right.path)
            }
        }

        var graph = ReferenceGraph(snapshot)
        let totalBefore = graph.referencedBytes
        var deletions: [(index: Int, reason: CleanupPlan.DeletionReason)] = []

        // 2. Idle.
        if let maxIdleDays = policy.maxIdleDays {
            let limit = TimeInterval(maxIdleDays) * 86_400
            let idle = candidates.filter { index in
                let lastActivity = lastRequest[manifests[index].name] ?? manifests[index].modified
                return now.timeIntervalSince(lastActivity) > limit
            }
            for index in idle.sorted(by: leastRecentlyUsedFirst) {
                graph.delete(index)
                deletions.append((index, .idle))
            }
        }

        // 3. Disk budget.
        if let budget = policy.diskBudget {
            var budgetDeletions: [(index: Int, bytes: Int64, freed: Set<OllamaDigest>)] = []
            let remaining = candidates.filter { !graph.deleted.contains($0) }.sorted(by: leastRecentlyUsedFirst)
            for index in remaining where graph.referencedBytes > budget {
                let (bytes, freed) = graph.delete(index)
                budgetDeletions.append((index, bytes, Set(freed)))
            }
            // Leave out deletions that free nothing themselves and enable no later deletion to free anything.
            for (position, deletion) in budgetDeletions.enumerated() {
                let later = budgetDeletions[(position + 1)...].reduce(into: Set<OllamaDigest>()) {
                    $0.formUnion($1.freed)
                }
                let useful =
                    deletion.bytes > 0 || !deletion.freed.isEmpty
                    || manifests[deletion.index].referencedDigests.contains { later.contains($0) }
                if useful { deletions.append((deletion.index, .diskBudget)) }
            }
        }

        // Replay the final list on a fresh graph, so that every figure is exactly what these deletions, in this
        // order, free.
        var replay = ReferenceGraph(snapshot)
        var actions: [CleanupPlan.Action] = deletions.map { deletion in
            let bytes = replay.delete(deletion.index).bytes
            return .deleteModel(model: manifests[deletion.index].name, reason: deletion.reason, bytesFreed: bytes)
        }
        let totalAfter = replay.referencedBytes

        // 4. Orphans and partial downloads.
        var suspendedBy: [String] = []
        var withinGrace: [String] = []
        if policy.removeOrphans {
            suspendedBy = snapshot.invalidManifests.filter(\.hidesReferences).map(\.path).sorted()
            let grace = policy.orphanGrace
            func pastGrace(_ modified: Date) -> Bool { Duration.seconds(now.timeIntervalSince(modified)) > grace }

            if suspendedBy.isEmpty {
                for orphan in OllamaModelStore(snapshot: snapshot).orphans(ReferenceGraph(snapshot)) {
                    if pastGrace(orphan.modified) {
                        actions.append(.removeOrphan(path: orphan.path, bytesFreed: orphan.bytes))
                    } else {
                        withinGrace.append(orphan.path)
                    }
                }
            }
            let downloads = Dictionary(grouping: snapshot.partials, by: \.digest)
            let ordered = downloads.values.map { files in
                (newest: files.map(\.modified).max() ?? .distantPast, files: files.sorted { $0.path < $1.path })
            }.sorted { ($0.newest, $0.files.first?.path ?? "") < ($1.newest, $1.files.first?.path ?? "") }
            for download in ordered {
                if pastGrace(download.newest) {
                    actions += download.files.map { .removePartial(path: $0.path, bytesFreed: $0.bytes) }
                } else {
                    withinGrace += download.files.map(\.path)
                }
            }
        }

        var shortfall: Int64?
        if let budget = policy.diskBudget, totalAfter > budget { shortfall = totalAfter - budget }
        return CleanupPlan(
            actions: actions, kept: kept.sorted { $0.name < $1.name }, totalBytesBefore: totalBefore,
            totalBytesAfter: totalAfter, diskBudgetShortfall: shortfall, orphanRemovalSuspendedBy: suspendedBy,
            withinGrace: withinGrace)
    }

    /// Values keyed by model name as callers wrote it, re-keyed by ``OllamaModelName`` (so `llama3.2` and
    /// `llama3.2:latest` are one key), merging values whose names coincide. Names Ollama would reject match no model
    /// and are dropped.
    static func byName<Value>(
        _ values: [String: Value], merge: (Value, Value) -> Value
    ) -> [OllamaModelName: Value] {
        var result: [OllamaModelName: Value] = [:]
        // Sorted keys make the merge order, and so the result, independent of dictionary order.
        for key in values.keys.sorted() {
            guard let name = OllamaModelName(parsing: key), let value = values[key] else { continue }
            result[name] = result[name].map { merge($0, value) } ?? value
        }
        return result
    }
}
