import Foundation
import Testing

@testable import Lifecycle

@Suite struct CleanupPlannerTests {
    let now = OllamaModelsFixture.now
    static let llama = "llama3.2:latest"
    static let mario = "jdoe/mario:latest"
    static let qwen = "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"

    func daysAgo(_ days: Double) -> Date { OllamaModelsFixture.daysAgo(days) }

    func policy(
        keep: [String] = [], maxIdleDays: Int? = nil, diskBudget: Int64? = nil, orphanGrace: String? = nil,
        removeOrphans: Bool = false
    ) throws -> CleanupPolicy {
        var policy = try CleanupPolicy(
            keep: keep, maxIdleDays: maxIdleDays, orphanGrace: orphanGrace, removeOrphans: removeOrphans)
        policy.diskBudget = diskBudget
        return policy
    }

    func plan(
        _ standard: OllamaModelsFixture.Standard, _ policy: CleanupPolicy, lastUsed: [String: Date] = [:],
        loaded: [String] = [], pinned: [String: [String]] = [:]
    ) throws -> CleanupPlan {
        try CleanupPlanner(policy: policy).plan(
            snapshot: try OllamaModelsDirectory.scan(path: standard.fixture.root), lastUsed: lastUsed, loaded: loaded,
            pinned: pinned, now: now)
    }

    /// The model deletions as (name, reason, bytes).
    func deletions(_ plan: CleanupPlan) -> [String] {
        plan.actions.compactMap { action in
            action.model.map { "\($0.displayName) \(action.reason.rawValue) \(action.bytesFreed)" }
        }
    }

    // MARK: Idle

    @Test func deletesModelsIdleForLongerThanMaxIdleDays() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(maxIdleDays: 30),
            lastUsed: ["llama3.2": daysAgo(31), Self.mario: daysAgo(29)])
        // qwen was never requested but was pulled 5 days ago: not idle.
        #expect(deletions(plan) == ["llama3.2:latest idle \(standard.llamaOwnBytes)"])
        #expect(plan.bytesFreedTotal == standard.llamaOwnBytes)
        #expect(plan.totalBytesBefore - plan.totalBytesAfter == plan.bytesFreedTotal)
    }

    @Test func countsExactlyMaxIdleDaysAsNotYetIdle() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(maxIdleDays: 30), lastUsed: ["llama3.2": daysAgo(30), Self.mario: daysAgo(1)])
        #expect(plan.actions.isEmpty)
    }

    @Test func countsANeverRequestedModelFromItsPull() throws {
        let standard = try OllamaModelsFixture.standard()
        // mario was pulled 20 days ago and never requested; qwen 5 days ago.
        let plan = try plan(standard, try policy(maxIdleDays: 10), lastUsed: ["llama3.2": daysAgo(1)])
        #expect(deletions(plan) == ["jdoe/mario:latest idle \(standard.marioOwnBytes)"])
    }

    @Test func takesTheLatestUseAcrossSpellingsOfOneName() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(maxIdleDays: 30),
            lastUsed: [
                "llama3.2": daysAgo(90), "registry.ollama.ai/library/llama3.2:latest": daysAgo(2),
                Self.mario: daysAgo(1),
            ])
        #expect(plan.actions.isEmpty)
    }

    // MARK: Disk budget

    @Test func evictsNeverUsedModelsFirstThenTheLeastRecentlyUsed() throws {
        let standard = try OllamaModelsFixture.standard()
        let lastUsed = ["llama3.2": daysAgo(1), Self.mario: daysAgo(10)]
        let total: Int64 = 91_107

        let one = try plan(standard, try policy(diskBudget: total - 1), lastUsed: lastUsed)
        #expect(deletions(one) == ["\(Self.qwen) disk_budget \(standard.qwenBytes)"])

        let two = try plan(standard, try policy(diskBudget: total - standard.qwenBytes - 1), lastUsed: lastUsed)
        #expect(
            deletions(two) == [
                "\(Self.qwen) disk_budget \(standard.qwenBytes)",
                "jdoe/mario:latest disk_budget \(standard.marioOwnBytes)",
            ])
        #expect(two.totalBytesAfter == standard.sharedBytes + standard.llamaOwnBytes)

        // Deleting everything: the last deletion also frees the blobs llama3.2 shared with mario.
        let all = try plan(standard, try policy(diskBudget: 0), lastUsed: lastUsed)
        #expect(
            deletions(all) == [
                "\(Self.qwen) disk_budget \(standard.qwenBytes)",
                "jdoe/mario:latest disk_budget \(standard.marioOwnBytes)",
                "llama3.2:latest disk_budget \(standard.llamaOwnBytes + standard.sharedBytes)",
            ])
        #expect(all.bytesFreedTotal == total)
        #expect(all.totalBytesAfter == 0)
        #expect(all.diskBudgetShortfall == nil)
    }

    @Test func breaksTiesInLastUseByName() throws {
        let standard = try OllamaModelsFixture.standard()
        let sameDay = daysAgo(3)
        let plan = try plan(
            standard, try policy(diskBudget: 91_107 - standard.qwenBytes - 1),
            lastUsed: ["llama3.2": sameDay, Self.mario: sameDay, Self.qwen: daysAgo(1)])
        // "jdoe/mario:latest" sorts before "llama3.2:latest".
        #expect(
            deletions(plan) == [
                "jdoe/mario:latest disk_budget \(standard.marioOwnBytes)",
                "llama3.2:latest disk_budget \(standard.llamaOwnBytes + standard.sharedBytes)",
            ])
    }

    @Test func runsIdleDeletionsBeforeTheBudgetAndCountsThemTowardsIt() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(maxIdleDays: 30, diskBudget: 40_000),
            lastUsed: ["llama3.2": daysAgo(35), Self.mario: daysAgo(2), Self.qwen: daysAgo(1)])
        // llama3.2 is idle and frees only its own blobs; mario is then the least recently used, and as the last holder
        // of the shared weights, template and license it frees them too.
        #expect(
            deletions(plan) == [
                "llama3.2:latest idle \(standard.llamaOwnBytes)",
                "jdoe/mario:latest disk_budget \(standard.marioOwnBytes + standard.sharedBytes)",
            ])
        #expect(plan.totalBytesAfter == standard.qwenBytes)
    }

    // MARK: Protection

    @Test func neverRemovesKeptPinnedOrLoadedModels() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(keep: ["llama3*"], maxIdleDays: 1, diskBudget: 0),
            loaded: [Self.qwen], pinned: ["jdoe/mario": ["fallback chain 'default'", "tenant 'acme' default"]])
        #expect(plan.actions.isEmpty)
        #expect(
            plan.kept == [
                CleanupPlan.KeptModel(
                    name: try #require(OllamaModelName(parsing: Self.qwen)), reasons: [.loaded]),
                CleanupPlan.KeptModel(
                    name: try #require(OllamaModelName(parsing: Self.mario)),
                    reasons: [.pinned(reasons: ["fallback chain 'default'", "tenant 'acme' default"])]),
                CleanupPlan.KeptModel(
                    name: try #require(OllamaModelName(parsing: Self.llama)), reasons: [.keep(pattern: "llama3*")]),
            ])
        #expect(plan.diskBudgetShortfall == 91_107)
    }

    @Test func lowersTheBudgetOnlyWithUnprotectedModels() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(
            standard, try policy(diskBudget: 0), lastUsed: [Self.mario: daysAgo(1)],
            pinned: ["llama3.2:latest": ["embedding model"]])
        // qwen goes; mario goes but frees only its own blobs, since the pinned llama3.2 still holds the shared ones.
        #expect(
            deletions(plan) == [
                "\(Self.qwen) disk_budget \(standard.qwenBytes)",
                "jdoe/mario:latest disk_budget \(standard.marioOwnBytes)",
            ])
        #expect(plan.diskBudgetShortfall == standard.sharedBytes + standard.llamaOwnBytes)
    }

    // MARK: Dedup-aware bytes, checked on disk

    @Test func freesOnDiskExactlyWhatThePlanAnnounces() throws {
        let standard = try OllamaModelsFixture.standard()
        let fixture = standard.fixture
        let policy = try policy(maxIdleDays: 30, diskBudget: 40_000, orphanGrace: "24h", removeOrphans: true)
        let plan = try plan(
            standard, policy, lastUsed: ["llama3.2": daysAgo(35), Self.mario: daysAgo(2), Self.qwen: daysAgo(1)])
        #expect(
            plan.actions.map(\.name) == [
                "delete_model", "delete_model", "remove_orphan", "remove_partial", "remove_partial",
            ])

        let paths = [Self.llama: standard.llamaManifest, Self.mario: standard.marioManifest]
        let before = try fixture.blobsDirectoryBytes()
        for action in plan.actions {
            let ahead = try fixture.blobsDirectoryBytes()
            if let model = action.model {
                try fixture.simulateOllamaDelete(try #require(paths[model.displayName]))
            } else {
                let removed = try OllamaModelsDirectory.removeOrphanOrPartial(
                    path: try #require(action.path), root: fixture.root,
                    modifiedBefore: now.addingTimeInterval(-86_400))
                #expect(removed == action.bytesFreed)
            }
            #expect(ahead - (try fixture.blobsDirectoryBytes()) == action.bytesFreed, "\(action)")
        }
        #expect(before - (try fixture.blobsDirectoryBytes()) == plan.bytesFreedTotal)
        #expect(try fixture.blobsDirectoryBytes() == standard.qwenBytes)
    }

    @Test(arguments: [[Self.llama, Self.mario], [Self.mario, Self.llama]])
    func aSharedBlobIsFreedByWhicheverDeletionComesLast(order: [String]) throws {
        let standard = try OllamaModelsFixture.standard()
        let lastUsed = [order[0]: daysAgo(9), order[1]: daysAgo(8), Self.qwen: daysAgo(1)]
        let plan = try plan(standard, try policy(diskBudget: standard.qwenBytes), lastUsed: lastUsed)
        #expect(plan.actions.compactMap(\.model?.displayName) == order)
        #expect(plan.actions[0].bytesFreed < standard.sharedBytes)
        #expect(plan.actions[1].bytesFreed > standard.sharedBytes)

        let paths = [Self.llama: standard.llamaManifest, Self.mario: standard.marioManifest]
        var gained: Int64 = 0
        for name in order { gained += try standard.fixture.simulateOllamaDelete(try #require(paths[name])) }
        #expect(gained == plan.bytesFreedTotal)
    }

    // MARK: Orphans and partial downloads

    @Test func leavesOrphansAloneUnlessRemovalIsOn() throws {
        let standard = try OllamaModelsFixture.standard()
        let plan = try plan(standard, try policy(orphanGrace: "1h"))
        #expect(plan.actions.isEmpty)
        #expect(plan.withinGrace.isEmpty)
    }

    @Test func removesOrphansAndPartialsOnlyPastTheGrace() throws {
        let standard = try OllamaModelsFixture.standard()
        // The orphan is 3 days old, the interrupted download 2 days.
        let young = try plan(standard, try policy(orphanGrace: "4d", removeOrphans: true))
        #expect(young.actions.isEmpty)
        #expect(Set(young.withinGrace) == Set(["blobs/sha256-" + standard.orphan.hex] + standard.partialPaths))

        let between = try plan(standard, try policy(orphanGrace: "60h", removeOrphans: true))
        #expect(between.actions == [.removeOrphan(path: "blobs/sha256-" + standard.orphan.hex, bytesFreed: 12_000)])
        #expect(between.withinGrace == standard.partialPaths)

        let old = try plan(standard, try policy(orphanGrace: "24h", removeOrphans: true))
        #expect(
            old.actions == [
                .removeOrphan(path: "blobs/sha256-" + standard.orphan.hex, bytesFreed: 12_000),
                .removePartial(path: standard.partialPaths[0], bytesFreed: 8_192),
                .removePartial(path: standard.partialPaths[1], bytesFreed: Int64(standard.partialProgress.count)),
            ])
        #expect(old.bytesFreedTotal == 12_000 + 8_192 + Int64(standard.partialProgress.count))
    }

    @Test func keepsADownloadWhileAnyOfItsFilesIsRecent() throws {
        let standard = try OllamaModelsFixture.standard()
        // Ollama rewrites the data file as bytes arrive; finished parts' progress files keep their old time.
        try standard.fixture.setModified(
            standard.fixture.root + "/" + standard.partialPaths[0], now.addingTimeInterval(-60))
        let plan = try plan(standard, try policy(orphanGrace: "24h", removeOrphans: true))
        #expect(plan.actions.map(\.reason) == [.orphan])
        #expect(plan.withinGrace == standard.partialPaths)
    }

    @Test func suspendsOrphanRemovalWhileAManifestCannotBeRead() throws {
        let standard = try OllamaModelsFixture.standard()
        try standard.fixture.manifest("registry.ollama.ai", "library", "broken", "latest", text: "{ truncated")
        let plan = try plan(standard, try policy(orphanGrace: "24h", removeOrphans: true))
        #expect(plan.orphanRemovalSuspendedBy == ["manifests/registry.ollama.ai/library/broken/latest"])
        // Partial downloads are never referenced, so they still go.
        #expect(plan.actions.map(\.reason) == [.partial, .partial])
    }

    // MARK: In memory

    func digest(_ number: Int) throws -> OllamaDigest {
        let hex = String(number, radix: 16)
        return try #require(OllamaDigest(hex: String(repeating: "0", count: 64 - hex.count) + hex))
    }

    func manifest(_ name: String, digest: Int, layers: [Int], modified: Date) throws -> OllamaModelsDirectory.Manifest {
        let parsed = try #require(OllamaModelName(parsing: name))
        return OllamaModelsDirectory.Manifest(
            name: parsed, path: "manifests/\(parsed.host)/\(parsed.namespace)/\(parsed.model)/\(parsed.tag)",
            digest: try self.digest(digest), modified: modified, config: nil,
            layers: try layers.map { .init(digest: try self.digest($0), size: Int64($0), mediaType: "m") })
    }

    func blobs(_ sizes: [Int]) throws -> [OllamaModelsDirectory.Blob] {
        try sizes.map { .init(digest: try digest($0), bytes: Int64($0), modified: daysAgo(30)) }
    }

    @Test func leavesOutDeletionsThatCouldFreeNothing() throws {
        // "alias" shares every blob with the pinned "base"; deleting it would free nothing.
        let snapshot = OllamaModelsDirectory.Snapshot(
            root: "/models",
            manifests: [
                try manifest("base", digest: 1, layers: [1_000, 10], modified: daysAgo(50)),
                try manifest("alias", digest: 2, layers: [1_000, 10], modified: daysAgo(50)),
                try manifest("other", digest: 3, layers: [500], modified: daysAgo(50)),
            ],
            blobs: try blobs([1_000, 10, 500]))
        let plan = try CleanupPlanner(policy: try policy(diskBudget: 0)).plan(
            snapshot: snapshot, lastUsed: ["other": daysAgo(1)], pinned: ["base": ["answer model"]], now: now)
        #expect(deletions(plan) == ["other:latest disk_budget 500"])
        #expect(plan.diskBudgetShortfall == 1_010)
    }

    @Test func deletesBothTagsOfOneModelWhenOnlyTheSecondFreesTheBlobs() throws {
        // `ollama cp` makes a second tag with the same manifest: the first deletion frees nothing, the second all.
        let snapshot = OllamaModelsDirectory.Snapshot(
            root: "/models",
            manifests: [
                try manifest("model:a", digest: 1, layers: [2_000, 20], modified: daysAgo(50)),
                try manifest("model:b", digest: 1, layers: [2_000, 20], modified: daysAgo(50)),
                try manifest("recent", digest: 3, layers: [300], modified: daysAgo(50)),
            ],
            blobs: try blobs([2_000, 20, 300]))
        let plan = try CleanupPlanner(policy: try policy(diskBudget: 300)).plan(
            snapshot: snapshot, lastUsed: ["recent": daysAgo(1)], now: now)
        #expect(deletions(plan) == ["model:a disk_budget 0", "model:b disk_budget 2020"])
        #expect(plan.totalBytesAfter == 300)
    }

    @Test func refusesAnInvalidPolicy() throws {
        var policy = CleanupPolicy()
        policy.maxIdleDays = 0
        let snapshot = OllamaModelsDirectory.Snapshot(root: "/models", manifests: [], blobs: [])
        let error = try #require(throws: CleanupPolicyError.self) {
            try CleanupPlanner(policy: policy).plan(snapshot: snapshot, now: now)
        }
        #expect(error.key == "max_idle_days")
        policy.maxIdleDays = nil
        policy.orphanGrace = .seconds(-1)
        #expect(throws: CleanupPolicyError.self) {
            try CleanupPlanner(policy: policy).plan(snapshot: snapshot, now: now)
        }
    }
}
