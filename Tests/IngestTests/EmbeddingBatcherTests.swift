import Ingest
import Providers
import Synchronization
import Testing

/// An embedder whose answers follow a script: a text's vector is `[its length, its first scalar]`; texts containing
/// "POISON" fail every batch they are in; `failFirst` calls fail once each; `gate` holds every call until opened.
final class ScriptedEmbedder: EmbeddingProvider, Sendable {
    let model = EmbeddingModelDescriptor(name: "scripted", dimensions: 2)
    let maximumBatchSize: Int
    private let state: Mutex<State>

    struct State {
        var calls: [[String]] = []
        var failFirst: Int
        var open: Bool
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    init(maximumBatchSize: Int = 256, failFirst: Int = 0, gated: Bool = false) {
        self.maximumBatchSize = maximumBatchSize
        state = Mutex(State(failFirst: failFirst, open: !gated))
    }

    var calls: [[String]] { state.withLock { $0.calls } }

    func openGate() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    static func vector(_ text: String) -> [Float] {
        [Float(text.count), Float(text.unicodeScalars.first?.value ?? 0)]
    }

    func embed(_ texts: [String]) async throws -> [[Float]] {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { state in
                state.calls.append(texts)
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
        let fail = state.withLock { state in
            guard state.failFirst > 0 else { return false }
            state.failFirst -= 1
            return true
        }
        if fail || texts.contains(where: { $0.contains("POISON") }) {
            throw ProviderError.malformedResponse(provider: "scripted", reason: "scripted failure")
        }
        return texts.map(Self.vector)
    }
}

@Suite struct EmbeddingBatcherTests {
    static func texts(_ document: Int, _ count: Int) -> [String] {
        (0..<count).map { "document \(document) text \($0) " + String(repeating: "x", count: document + $0) }
    }

    static func configuration(batch: Int, inFlight: Int, pending: Int? = nil) -> EmbeddingBatcher.Configuration {
        var configuration = EmbeddingBatcher.Configuration()
        configuration.batchSize = batch
        configuration.maximumInFlight = inFlight
        configuration.maximumPendingTexts = pending
        return configuration
    }

    @Test func batchesCrossDocumentsAndEveryDocumentGetsItsOwnVectorsInOrder() async throws {
        let embedder = ScriptedEmbedder()
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: Self.configuration(batch: 16, inFlight: 2))
        let results = try await withThrowingTaskGroup(of: (Int, EmbeddingBatcher.Result).self) { group in
            for document in 0..<12 {
                group.addTask {
                    let texts = Self.texts(document, 5)
                    return (document, try await batcher.embed(texts, keys: texts))
                }
            }
            var results: [Int: EmbeddingBatcher.Result] = [:]
            for try await (document, result) in group { results[document] = result }
            return results
        }
        for document in 0..<12 {
            #expect(results[document]?.vectors == Self.texts(document, 5).map(ScriptedEmbedder.vector))
            #expect(results[document]?.embedded == 5)
        }
        let calls = embedder.calls
        #expect(calls.map(\.count).reduce(0, +) == 60)
        #expect(calls.allSatisfy { $0.count <= 16 })
        #expect(calls.count < 12)  // fewer calls than documents: batches span documents
        let statistics = await batcher.currentStatistics
        #expect(statistics.peakInFlight <= 2)
    }

    @Test func batchesAreSplitToTheProvidersLimit() async throws {
        let embedder = ScriptedEmbedder(maximumBatchSize: 8)
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: Self.configuration(batch: 64, inFlight: 4))
        let texts = Self.texts(1, 50)
        let result = try await batcher.embed(texts, keys: texts)
        #expect(result.vectors == texts.map(ScriptedEmbedder.vector))
        #expect(embedder.calls.allSatisfy { $0.count <= 8 } && embedder.calls.count >= 7)
    }

    @Test func theSameTextAskedForTwiceIsEmbeddedOnce() async throws {
        let embedder = ScriptedEmbedder(gated: true)
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: Self.configuration(batch: 4, inFlight: 1))
        async let first = batcher.embed(["shared", "a"], keys: ["k-shared", "k-a"])
        async let second = batcher.embed(["shared", "b"], keys: ["k-shared", "k-b"])
        // Let both requests be handed in before the embedder answers.
        var spins = 0
        while spins < 100_000, await batcher.currentStatistics.peakPendingTexts < 3, embedder.calls.isEmpty {
            spins += 1
            await Task.yield()
        }
        embedder.openGate()
        let (one, two) = try await (first, second)
        #expect(one.vectors[0] == ScriptedEmbedder.vector("shared") && two.vectors[0] == ScriptedEmbedder.vector("shared"))
        #expect(one.embedded + two.embedded == 3)
        #expect(embedder.calls.flatMap { $0 }.filter { $0 == "shared" }.count == 1)
    }

    @Test func handingInWaitsWhileTooManyTextsArePending() async throws {
        let embedder = ScriptedEmbedder(gated: true)
        let batcher = EmbeddingBatcher(
            embedder: embedder, configuration: Self.configuration(batch: 4, inFlight: 1, pending: 8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for document in 0..<10 {
                group.addTask {
                    let texts = Self.texts(document, 4)
                    let result = try await batcher.embed(texts, keys: texts)
                    #expect(result.vectors == texts.map(ScriptedEmbedder.vector))
                }
            }
            // With the embedder held, one batch is in flight and the pending texts fill up: the rest must wait.
            var spins = 0
            while spins < 1_000_000, await batcher.currentStatistics.waitingForAdmission == 0 {
                spins += 1
                await Task.yield()
            }
            #expect(await batcher.currentStatistics.waitingForAdmission > 0)
            let held = await batcher.currentStatistics
            #expect(held.peakInFlight == 1)
            #expect(held.peakPendingTexts <= 8 + 4 - 1)
            embedder.openGate()
            try await group.waitForAll()
        }
        let statistics = await batcher.currentStatistics
        #expect(statistics.peakPendingTexts <= 8 + 4 - 1 && statistics.peakInFlight == 1)
        #expect(embedder.calls.map(\.count).reduce(0, +) == 40)
    }

    @Test func aFailedBatchIsRetriedOnce() async throws {
        let embedder = ScriptedEmbedder(failFirst: 1)
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: Self.configuration(batch: 4, inFlight: 1))
        let texts = Self.texts(1, 4)
        let result = try await batcher.embed(texts, keys: texts)
        #expect(result.vectors == texts.map(ScriptedEmbedder.vector))
        #expect(await batcher.currentStatistics.failedAttempts == 1)
        #expect(embedder.calls.count == 2)
    }

    @Test func aDocumentThatKeepsFailingFailsAloneNotTheDocumentsBatchedWithIt() async throws {
        let embedder = ScriptedEmbedder()
        // One batch holds both documents' texts (it is sent when full).
        var configuration = Self.configuration(batch: 6, inFlight: 1)
        configuration.linger = .seconds(600)
        let batcher = EmbeddingBatcher(embedder: embedder, configuration: configuration)
        let good = Self.texts(2, 3)
        let bad = ["fine 1", "POISON pill", "fine 2"]
        async let goodResult = batcher.embed(good, keys: good)
        async let badResult: Result<EmbeddingBatcher.Result, any Error> = {
            do { return .success(try await batcher.embed(bad, keys: bad)) } catch { return .failure(error) }
        }()
        let goodVectors = try await goodResult.vectors
        #expect(goodVectors == good.map(ScriptedEmbedder.vector))
        let badOutcome = await badResult
        #expect(throws: ProviderError.self) { try badOutcome.get() }
        let calls = embedder.calls
        // The shared batch twice (once and its retry), then each document alone once.
        #expect(calls.first?.count == 6 && calls.dropFirst().first?.count == 6)
        #expect(calls.count == 4)
    }

    @Test func vectorsOfTheWrongDimensionAreAFailure() async throws {
        struct Wrong: EmbeddingProvider {
            let model = EmbeddingModelDescriptor(name: "wrong", dimensions: 3)
            let maximumBatchSize = 8
            func embed(_ texts: [String]) async throws -> [[Float]] { texts.map { _ in [1, 2] } }
        }
        let batcher = EmbeddingBatcher(embedder: Wrong())
        await #expect(throws: ProviderError.self) { try await batcher.embed(["a"], keys: ["a"]) }
    }
}

@Suite struct IngestProgressLineTests {
    @Test func showsFilesChunksRateAndTimeLeft() {
        let progress = IngestProgress(
            filesDone: 25, filesTotal: 100, chunksEmbedded: 300, chunksStored: 500, elapsedSeconds: 10)
        let line = progress.line(width: 120)
        #expect(line.hasPrefix("[#######"))
        #expect(line.contains("25/100 files · 500 chunks (300 embedded) · 50 chunks/s · ETA 0:30"))
        #expect(line.count <= 120)
    }

    @Test func aNarrowTerminalGetsNoBarAndNothingPastItsWidth() {
        let progress = IngestProgress(filesDone: 0, filesTotal: 10, chunksEmbedded: 0, elapsedSeconds: 0)
        let line = progress.line(width: 40)
        #expect(line.count <= 40 && !line.hasPrefix("[") && line.hasPrefix("0/10 files"))
        #expect(progress.line(width: 200).contains("ETA --:--"))
    }
}
