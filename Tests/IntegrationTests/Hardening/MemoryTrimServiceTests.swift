import Server
import Synchronization
import Testing

@Suite struct MemoryTrimServiceTests {
    @Test func trimsOncePerTick() async throws {
        let trims = Mutex(0)
        let service = MemoryTrimService(trim: { trims.withLock { $0 += 1 } })
        let (ticks, continuation) = AsyncStream<Void>.makeStream()
        for _ in 0..<3 { continuation.yield() }
        continuation.finish()
        try await service.run(ticks: ticks)
        #expect(trims.withLock { $0 } == 3)
    }

    /// The real trim runs (it is looked up at run time) and returns.
    @Test func theDefaultTrimRuns() {
        MemoryTrimService.releaseFreeMemory()
    }
}
