import Deadlines
import Synchronization

/// The providers' model lists (`GET /v1/models`, and resolving a bare model name), kept so that neither waits on a
/// provider again and again: a list is fetched once and used until it is `timeToLive` old; after that the old list
/// still answers while a new one is fetched in the background (stale-while-revalidate). A fetch that fails is
/// remembered too, for `failureTimeToLive`: a dead provider costs one failed fetch per period, not one per request,
/// and lists nothing (or, if it answered before, its last list). Only the very first request for a provider's list
/// waits for it, and at most `firstFetchWait`: the fetch goes on in the background and later requests use it.
public final class ModelListCache: Sendable {
    public struct Configuration: Sendable {
        /// How long a fetched list is used before it is fetched again. Defaults to 5 minutes.
        public var timeToLive: Duration = .seconds(300)
        /// How long a failed fetch is remembered before the next one. Defaults to 30 seconds.
        public var failureTimeToLive: Duration = .seconds(30)
        /// How long a request waits for a provider's first list before going on without it. Defaults to 2 seconds.
        public var firstFetchWait: Duration = .seconds(2)

        public init() {}
    }

    /// One provider's list.
    struct Slot: Sendable {
        /// The last list fetched (`[]` after a failure with no list before it); `nil` before the first fetch ended.
        var models: [String]?
        /// When `models` is due to be fetched again.
        var expires: Duration?
        /// The fetch under way, which waiters share.
        var fetch: Arrival?
    }

    let configuration: Configuration
    let clock: any RouterClock
    private let slots = Mutex<[String: Slot]>([:])

    init(configuration: Configuration, clock: any RouterClock) {
        self.configuration = configuration
        self.clock = clock
    }

    /// The models of `provider`: the cached list, fetched with `fetch` in the background when there is none or it is
    /// old. Never waits longer than ``Configuration/firstFetchWait``.
    func models(of provider: String, fetch: @escaping @Sendable () async throws -> [String]) async -> [String] {
        let now = clock.now()
        let (cached, pending, started) = slots.withLock { slots -> ([String]?, Arrival?, Arrival?) in
            var slot = slots[provider] ?? Slot()
            if let models = slot.models, let expires = slot.expires, now < expires { return (models, nil, nil) }
            var started: Arrival?
            if slot.fetch == nil {
                let arrival = Arrival()
                slot.fetch = arrival
                started = arrival
            }
            slots[provider] = slot
            return (slot.models, slot.fetch, started)
        }
        if let started {
            // Not the caller's task: a client that goes away must not cut the fetch that other requests wait for.
            Task.detached { [self] in
                let fetched = try? await fetch()
                let models = complete(provider, with: fetched)
                started.deliver(models)
            }
        }
        if let cached { return cached }
        return await pending?.value(waitingAtMost: configuration.firstFetchWait) ?? []
    }

    /// Whether a fetch of `provider`'s list is under way.
    func isFetching(_ provider: String) -> Bool {
        slots.withLock { $0[provider]?.fetch != nil }
    }

    /// Stores a fetch's outcome (`nil`: it failed) and returns the list to use now.
    private func complete(_ provider: String, with fetched: [String]?) -> [String] {
        let now = clock.now()
        return slots.withLock { slots in
            var slot = slots[provider] ?? Slot()
            slot.fetch = nil
            if let fetched {
                slot.models = fetched
                slot.expires = now + configuration.timeToLive
            } else {
                // A provider that answered before keeps its last list: it is what it offers when it is back.
                slot.models = slot.models ?? []
                slot.expires = now + configuration.failureTimeToLive
            }
            slots[provider] = slot
            return slot.models ?? []
        }
    }

    /// A list that arrives once, awaited by any number of waiters, each of which may stop waiting first.
    final class Arrival: Sendable {
        private struct State {
            var value: [String]?
            var waiters: [Int: CheckedContinuation<[String]?, Never>] = [:]
            var nextWaiter = 0
        }

        private let state = Mutex(State())

        /// Hands `value` to every waiter, now and later.
        func deliver(_ value: [String]) {
            let waiters = state.withLock { state -> [CheckedContinuation<[String]?, Never>] in
                guard state.value == nil else { return [] }
                state.value = value
                defer { state.waiters = [:] }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: value) }
        }

        /// The value, or `nil` when `limit` passes first.
        func value(waitingAtMost limit: Duration) async -> [String]? {
            await withTaskGroup(of: [String]?.self) { group in
                group.addTask { await self.value() }
                group.addTask {
                    try? await Deadlines.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                return await group.next() ?? nil
            }
        }

        /// The value, or `nil` when the waiting task is cancelled first.
        func value() async -> [String]? {
            let id = state.withLock { state in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<[String]?, Never>) in
                    // Cancelled before it waits: the handler below found no waiter to resume, so answer here.
                    let ready = state.withLock { state -> [String]?? in
                        if let value = state.value { return .some(value) }
                        if Task.isCancelled { return .some(nil) }
                        state.waiters[id] = continuation
                        return .none
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume(returning: nil)
            }
        }
    }
}
