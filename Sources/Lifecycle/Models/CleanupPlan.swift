/// What a model cleanup will do, in order, with the reason for each action and the bytes it frees.
///
/// The bytes are dedup-aware and order-aware: a model deletion frees exactly the blobs that no manifest still present
/// after it (and after the actions before it) references, so ``bytesFreedTotal`` is what the disk gains when the plan
/// is carried out in order. A dry run shows the plan; a real run executes ``actions`` one by one.
public struct CleanupPlan: Sendable, Hashable {
    /// Why an action is in the plan; the `reason` of the cleanup JSON.
    public enum Reason: String, Sendable, Hashable {
        /// Not requested for longer than `max_idle_days`.
        case idle
        /// Least recently used while the models exceed `disk_budget`.
        case diskBudget = "disk_budget"
        /// A blob no manifest references, past `orphan_grace`.
        case orphan
        /// A file of an unfinished pull, past `orphan_grace`.
        case partial
    }

    /// Why a model is deleted.
    public enum DeletionReason: String, Sendable, Hashable {
        case idle
        case diskBudget = "disk_budget"
    }

    /// One step of the plan.
    public enum Action: Sendable, Hashable {
        /// Delete a model through Ollama's `DELETE /api/delete`.
        case deleteModel(model: OllamaModelName, reason: DeletionReason, bytesFreed: Int64)
        /// Remove an orphaned blob (a path relative to the models directory).
        case removeOrphan(path: String, bytesFreed: Int64)
        /// Remove a file of an unfinished pull (a path relative to the models directory).
        case removePartial(path: String, bytesFreed: Int64)

        /// The `action` of the cleanup JSON: `delete_model`, `remove_orphan` or `remove_partial`.
        public var name: String {
            switch self {
            case .deleteModel: "delete_model"
            case .removeOrphan: "remove_orphan"
            case .removePartial: "remove_partial"
            }
        }

        /// The `reason` of the cleanup JSON.
        public var reason: Reason {
            switch self {
            case .deleteModel(_, .idle, _): .idle
            case .deleteModel(_, .diskBudget, _): .diskBudget
            case .removeOrphan: .orphan
            case .removePartial: .partial
            }
        }

        /// The bytes this action frees, given the actions before it.
        public var bytesFreed: Int64 {
            switch self {
            case .deleteModel(_, _, let bytes), .removeOrphan(_, let bytes), .removePartial(_, let bytes): bytes
            }
        }

        /// The model a deletion names; nil for file removals.
        public var model: OllamaModelName? {
            if case .deleteModel(let model, _, _) = self { return model }
            return nil
        }

        /// The file a removal names, relative to the models directory; nil for model deletions.
        public var path: String? {
            switch self {
            case .deleteModel: nil
            case .removeOrphan(let path, _), .removePartial(let path, _): path
            }
        }
    }

    /// Why a model is never removed.
    public enum KeepReason: Sendable, Hashable, CustomStringConvertible {
        /// A `keep` entry matches it.
        case keep(pattern: String)
        /// The routing file names it; the reasons say where (`fallback chain 'default'`, `embedding model`, …).
        case pinned(reasons: [String])
        /// Ollama has it loaded now.
        case loaded

        public var description: String {
            switch self {
            case .keep(let pattern): "keep '\(pattern)'"
            case .pinned(let reasons): "pinned by " + reasons.joined(separator: ", ")
            case .loaded: "loaded"
            }
        }
    }

    /// A model the plan never touches, and why.
    public struct KeptModel: Sendable, Hashable {
        /// The protected model.
        public var name: OllamaModelName
        /// Every reason that protects it, in the order keep, pinned, loaded.
        public var reasons: [KeepReason]
    }

    /// The actions in the order they must run: idle deletions, disk-budget deletions, orphans, partials.
    public var actions: [Action]
    /// The protected models, sorted by name.
    public var kept: [KeptModel]
    /// ``OllamaDiskUsage/totalBytes`` before the plan.
    public var totalBytesBefore: Int64
    /// ``OllamaDiskUsage/totalBytes`` after the plan's model deletions.
    public var totalBytesAfter: Int64
    /// How far the models stay over `disk_budget` after the plan, because only protected models are left; nil when
    /// there is no budget or the plan meets it.
    public var diskBudgetShortfall: Int64?
    /// Invalid manifests whose references cannot be read, which suspend orphan removal (any blob could be theirs).
    /// Empty when orphan removal is off or nothing suspends it.
    public var orphanRemovalSuspendedBy: [String]
    /// Orphans and partial downloads left alone for now because they are younger than `orphan_grace`.
    public var withinGrace: [String]

    /// The sum of every action's bytes: what the disk gains.
    public var bytesFreedTotal: Int64 { actions.reduce(0) { $0 + $1.bytesFreed } }
}
