import ArgumentParser
import Backup
import Foundation
import Hummingbird
import Logging
import Prometheus
import Providers
import Routing
import ServiceLifecycle
import Server
import Storage

/// `unity-ai serve`: the HTTP API, until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API (stops on SIGINT/SIGTERM).")

    @OptionGroup var options: CommonOptions

    @Option(help: "Address to listen on (env UNITY_AI_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env UNITY_AI_PORT; default 8000).")
    var port: Int?

    @Option(help: "Largest request body in bytes (env UNITY_AI_MAX_BODY_BYTES; default 1048576).")
    var maxBodyBytes: Int?

    @Option(help: "none (no keys: single-user, local use) or keys (Authorization: Bearer on every request; env UNITY_AI_AUTH; default none).")
    var auth: String?

    func run() async throws {
        let logger = try options.makeLogger(label: "unity-ai", defaultLevel: .info)
        let environment = options.environment
        var configuration = ServerConfiguration()
        configuration.host = host ?? environment["UNITY_AI_HOST"] ?? configuration.host
        if let port = port ?? environment["UNITY_AI_PORT"].flatMap(Int.init) { configuration.port = port }
        if let limit = maxBodyBytes ?? environment["UNITY_AI_MAX_BODY_BYTES"].flatMap(Int.init) {
            guard limit > 0 else { throw ValidationError("--max-body-bytes must be positive.") }
            configuration.limits.maximumBodyBytes = limit
        }

        if let auth = auth ?? environment["UNITY_AI_AUTH"], AuthenticationMode(rawValue: auth) == nil {
            throw ValidationError("--auth (or UNITY_AI_AUTH) must be none or keys, not '\(auth.prefix(40))'.")
        }
        let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
        // The flag, else the environment, else the configuration file's `server.auth`, else none.
        let authName = auth ?? environment["UNITY_AI_AUTH"] ?? runtime.routing.serverAuthentication ?? "none"
        configuration.authentication = AuthenticationMode(rawValue: authName) ?? .none
        if configuration.authentication == .none, !["127.0.0.1", "::1", "localhost"].contains(configuration.host) {
            logger.warning(
                """
                Serving without API keys on a non-loopback address: anyone who reaches it may act for any tenant. \
                Create keys (`unity-ai keys create`) and serve with --auth keys.
                """,
                metadata: ["http.host": "\(configuration.host)"])
        }
        for notice in runtime.routing.notices { logger.notice("Routing file", metadata: ["config.note": "\(notice)"]) }
        var services: [any Service] = []
        if let lease = runtime.lease { services.append(EmbeddedPostgresService(lease: lease, logger: logger)) }
        services.append(runtime.client.client)
        // Migrations run in the background: the server listens at once, and /ready says 503 until they are applied.
        let store = KnowledgeStore(client: runtime.client)
        let configuredModel = runtime.embedder.model.name
        services.append(
            SchemaMigrationService(
                database: runtime.client, settings: runtime.settings, migrations: runtime.migrations, logger: logger,
                afterMigrations: {
                    await store.warnAboutIncompleteAnsweringSpaces(configuredModel: configuredModel, logger: logger)
                }))
        let metrics = PrometheusCollectorRegistry()
        let router = runtime.makeRouter(metrics: metrics)
        // The router's background jobs: usage batches, health probes, plugin_metrics aggregates.
        services.append(router.usage)
        services.append(HealthProbeService(router: router, logger: logger))
        // Work that runs once per cluster (housekeeping, and the configuration's `schedules:`).
        let modelLifecycle = runtime.makeModelLifecycle(answerModel: options.resolvedAnswerModel)
        let backups = runtime.backupServiceMaker(options)
        let scheduler = runtime.makeScheduler(models: modelLifecycle?.manager, backups: backups)
        services.append(scheduler)
        // Backups asked for over HTTP (POST /api/backups) run here, one at a time; cancelled at shutdown.
        let backupRunner = BackupRunner(make: backups, logger: logger)
        services.append(backupRunner)
        services.append(PluginMetricsService(router: router, sink: PostgresPluginMetricsWriter(client: runtime.client, logger: logger), logger: logger))
        // Freed memory back to the system after a burst (see MemoryTrimService).
        services.append(MemoryTrimService())
        let client = runtime.client
        let migrations = runtime.migrations
        var dependencies = ServerDependencies(
            ask: runtime.askService(router: router, answerModel: options.resolvedAnswerModel),
            router: router,
            usage: PostgresUsageLedger(client: client, logger: logger),
            jobs: .init(scheduler: scheduler, ledger: PostgresJobRunLedger(client: client, logger: logger)),
            models: modelLifecycle.map { .init(manager: $0.manager, inventory: $0.inventory) },
            backups: .init(service: backups, runner: backupRunner),
            metrics: metrics,
            isReady: { await DatabaseReadiness.isReady(client: client, migrations: migrations, logger: logger) },
            services: services)
        let keyStore = APIKeyStore(client: client, logger: logger)
        dependencies.authenticateKey = { try await keyStore.authenticate($0) }
        let listenHost = configuration.host
        let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: logger) { port in
            logger.notice("unity-ai is serving", metadata: ["http.address": "http://\(listenHost):\(port)"])
        }
        try await app.runService()
    }
}
