import Synchronization
import Testing

@testable import Routing

/// Model lists are fetched once and kept: successes for their time to live, failures too (a dead provider costs one
/// failed fetch per period, not one per request), refreshed in the background while the old list answers.
@Suite struct ModelListCacheTests {
    /// A fetch the test controls: it counts its calls and answers when released (or at once).
    final class Upstream: Sendable {
        private let state = Mutex<
            (calls: Int, answer: Result<[String], ListError>, held: [CheckedContinuation<Void, Never>], holding: Bool)
        >(
            (0, .success([]), [], false))
        struct ListError: Error {}

        var calls: Int { state.withLock { $0.calls } }
        func answer(_ models: [String]) { state.withLock { $0.answer = .success(models) } }
        func fail() { state.withLock { $0.answer = .failure(ListError()) } }
        /// Later fetches wait until ``release()``.
        func hold() { state.withLock { $0.holding = true } }
        func release() {
            let held = state.withLock { state in
                state.holding = false
                defer { state.held = [] }
                return state.held
            }
            for fetch in held { fetch.resume() }
        }

        func fetch() async throws -> [String] {
            await withCheckedContinuation { continuation in
                let wait = state.withLock { state -> Bool in
                    state.calls += 1
                    if state.holding { state.held.append(continuation) }
                    return state.holding
                }
                if !wait { continuation.resume() }
            }
            return try state.withLock { $0.answer }.get()
        }
    }

    let clock = ManualRouterClock()

    func cache(firstFetchWait: Duration = .seconds(30)) -> ModelListCache {
        var configuration = ModelListCache.Configuration()
        configuration.timeToLive = .seconds(300)
        configuration.failureTimeToLive = .seconds(30)
        configuration.firstFetchWait = firstFetchWait
        return ModelListCache(configuration: configuration, clock: clock)
    }

    /// Waits (without sleeping) until the background fetch has run `count` times in all and stored its answer.
    func settle(_ upstream: Upstream, calls count: Int, _ cache: ModelListCache, provider: String = "ollama") async {
        for _ in 0..<10_000 where upstream.calls < count || cache.isFetching(provider) { await Task.yield() }
    }

    @Test func aListIsFetchedOnceAndKeptForItsTimeToLive() async {
        let upstream = Upstream()
        upstream.answer(["llama3.2"])
        let cache = cache()
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        #expect(upstream.calls == 1)
        // Once stale, the old list answers at once while a new one is fetched in the background.
        upstream.answer(["llama3.2", "qwen2.5"])
        upstream.hold()
        clock.advance(by: .seconds(301))
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        upstream.release()
        await settle(upstream, calls: 2, cache)
        #expect(upstream.calls == 2)
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2", "qwen2.5"])
    }

    @Test func aFailureIsRememberedUntilItsTimeToLiveEnds() async {
        let upstream = Upstream()
        upstream.fail()
        let cache = cache()
        for _ in 0..<5 { #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == []) }
        #expect(upstream.calls == 1)
        // After the failure's time to live the next request still answers at once; the retry runs behind it.
        upstream.answer(["llama3.2"])
        clock.advance(by: .seconds(31))
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == [])
        await settle(upstream, calls: 2, cache)
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
    }

    @Test func aProviderThatAnsweredBeforeKeepsItsListWhileItIsDown() async {
        let upstream = Upstream()
        upstream.answer(["llama3.2"])
        let cache = cache()
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        upstream.fail()
        clock.advance(by: .seconds(301))
        _ = await cache.models(of: "ollama", fetch: upstream.fetch)
        await settle(upstream, calls: 2, cache)
        #expect(await cache.models(of: "ollama", fetch: upstream.fetch) == ["llama3.2"])
        #expect(upstream.calls == 2)
    }

    @Test func theFirstRequestWaitsOnlyBrieflyAndTheFetchGoesOn() async {
        let upstream = Upstream()
        upstream.answer(["gpt-4o-mini"])
        upstream.hold()
        let cache = cache(firstFetchWait: .milliseconds(20))
        // The upstream does not answer: the request goes on without its list.
        #expect(await cache.models(of: "openai", fetch: upstream.fetch) == [])
        #expect(await cache.models(of: "openai", fetch: upstream.fetch) == [])
        #expect(upstream.calls == 1)
        upstream.release()
        await settle(upstream, calls: 1, cache, provider: "openai")
        #expect(await cache.models(of: "openai", fetch: upstream.fetch) == ["gpt-4o-mini"])
    }
}
