import Foundation
import Logging
import PostgresNIO
import Prometheus
import Providers
import Retrieval
import Routing
import Server
import Storage

/// An appliance's router on a test database: the PostgreSQL ledgers, a Prometheus registry, and the server
/// dependencies around it.
struct ApplianceRouter: Sendable {
    let router: AIRouter
    let metrics: PrometheusCollectorRegistry
    let client: Database

    init(
        client: Database, configuration: RoutingConfiguration,
        transport: ProviderTransport = ProviderTransport(connectTimeout: .seconds(10)), clock: any RouterClock = SystemRouterClock()
    ) {
        let metrics = PrometheusCollectorRegistry()
        self.metrics = metrics
        self.client = client
        router = AIRouter(
            configuration: configuration, registry: ProviderRegistry.make(configuration: configuration, transport: transport),
            ledgers: PostgresRouterLedgers(client: client, logger: TestDatabase.logger).ledgers,
            metrics: RouterMetrics(factory: PrometheusMetricsFactory(registry: metrics)), clock: clock,
            logger: TestDatabase.logger)
    }

    func dependencies(ask: AskService, isReady: @escaping @Sendable () async -> Bool = { true }) -> ServerDependencies {
        ServerDependencies(
            ask: ask, router: router, usage: PostgresUsageLedger(client: client, logger: TestDatabase.logger), metrics: metrics,
            isReady: isReady, services: [])
    }
}
