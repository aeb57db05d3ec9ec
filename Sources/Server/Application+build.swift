import Backup
import Hummingbird
import Lifecycle
import Logging
import Prometheus
import Retrieval
import Routing
import ServiceLifecycle
import Storage

/// What the HTTP surface needs from the rest of the appliance.
public struct ServerDependencies: Sendable {
    public var ask: AskService
    /// Grounded chat and its conversations; by default over the ask service's knowledge, retriever and answerer.
    public var chat: ChatService
    /// The providers chat and embedding requests go to.
    public var providers: ProviderRegistry { router.registry }
    /// Routes chat requests over the providers.
    public var router: AIRouter
    /// Usage records in PostgreSQL, for `GET /api/usage`.
    public var usage: PostgresUsageLedger?
    /// The scheduler and its history, for `GET /api/jobs`; `nil` when this server runs none.
    public var jobs: Jobs?

    /// Model lifecycle, when an Ollama endpoint is configured.
    public var models: ModelLifecycle?

    /// Backup sets, for `/api/backups`; `nil` when this server offers none.
    public var backups: Backups?

    /// The backup service and the runner of backups started over HTTP.
    public struct Backups: Sendable {
        /// Makes the service over the configured target (at each request, so a target that cannot be set up answers
        /// with its reason).
        public var service: @Sendable () throws -> BackupService
        /// Runs backups started by `POST /api/backups`; it must be among the server's services.
        public var runner: BackupRunner

        /// The service maker and the runner (which must also be among ``ServerDependencies/services``).
        public init(service: @escaping @Sendable () throws -> BackupService, runner: BackupRunner) {
            self.service = service
            self.runner = runner
        }
    }

    /// The lifecycle manager and the inventory it keeps.
    public struct ModelLifecycle: Sendable {
        public var manager: ModelLifecycleManager
        public var inventory: any ModelInventoryStore

        public init(manager: ModelLifecycleManager, inventory: any ModelInventoryStore) {
            self.manager = manager
            self.inventory = inventory
        }
    }

    /// The scheduler and where its runs are recorded.
    public struct Jobs: Sendable {
        public var scheduler: JobScheduler
        public var ledger: any JobRunLedger

        public init(scheduler: JobScheduler, ledger: any JobRunLedger) {
            self.scheduler = scheduler
            self.ledger = ledger
        }
    }
    /// The identity of an API key (`nil`: unknown or revoked); needed when the configuration asks for keys.
    public var authenticateKey: (@Sendable (String) async throws -> APIKeyStore.Identity?)?
    /// What `GET /metrics` serves (the router's metrics are made on it).
    public var metrics: PrometheusCollectorRegistry
    /// Whether the database answers and its migrations are applied.
    public var isReady: @Sendable () async -> Bool
    /// Background services to run with the server (the database client first); shut down in reverse order.
    public var services: [any Service]
    /// Runs once the services run and before the server accepts requests (migrations, say).
    public var beforeServerStarts: @Sendable () async throws -> Void

    public init(
        ask: AskService, router: AIRouter, usage: PostgresUsageLedger?, jobs: Jobs? = nil, models: ModelLifecycle? = nil,
        backups: Backups? = nil, metrics: PrometheusCollectorRegistry,
        isReady: @escaping @Sendable () async -> Bool, services: [any Service],
        beforeServerStarts: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.ask = ask
        chat = ChatService(ask: ask)
        self.router = router
        self.usage = usage
        self.jobs = jobs
        self.models = models
        self.backups = backups
        self.metrics = metrics
        self.isReady = isReady
        self.services = services
        self.beforeServerStarts = beforeServerStarts
    }
}

/// The appliance's router: every route, behind the error middleware.
public func buildRouter(configuration: ServerConfiguration, dependencies: ServerDependencies) -> Router<BasicRequestContext> {
    buildRouter(configuration: configuration, dependencies: dependencies, routes: RouteTable())
}

/// The appliance's router, recording every route it registers in `routes` (which the OpenAPI drift test reads).
func buildRouter(
    configuration: ServerConfiguration, dependencies: ServerDependencies, routes: RouteTable
) -> Router<BasicRequestContext> {
    let router = RecordingRouter(router: Router(context: BasicRequestContext.self), table: routes)
    router.add(middleware: ErrorMiddleware(routes: routes))
    if configuration.authentication == .keys {
        let authenticateKey = dependencies.authenticateKey
        router.add(
            middleware: AuthenticationMiddleware { key in
                guard let authenticateKey else {
                    throw APIError(
                        status: .serviceUnavailable, code: "authentication_unavailable",
                        message: "API keys are required but this server has no key store; check its configuration.")
                }
                return try await authenticateKey(key).map { Caller(keyID: $0.keyID, tenant: $0.tenant) }
            })
    }
    HealthController(isReady: dependencies.isReady).addRoutes(to: router)
    APIDescriptionController().addRoutes(to: router)
    AskController(ask: dependencies.ask, limits: configuration.limits).addRoutes(to: router)
    ChatController(chat: dependencies.chat, limits: configuration.limits).addRoutes(to: router)
    ConversationsController(chat: dependencies.chat).addRoutes(to: router)
    AIController(router: dependencies.router, limits: configuration.limits).addRoutes(to: router)
    OpenAICompatibleController(router: dependencies.router, limits: configuration.limits).addRoutes(to: router)
    RouterController(router: dependencies.router, usage: dependencies.usage, metrics: dependencies.metrics).addRoutes(to: router)
    JobsController(jobs: dependencies.jobs).addRoutes(to: router)
    ModelsController(lifecycle: dependencies.models, limits: configuration.limits).addRoutes(to: router)
    BackupsController(backups: dependencies.backups).addRoutes(to: router)
    return router.router
}

/// The HTTP application with its background services.
public func buildApplication(
    configuration: ServerConfiguration,
    dependencies: ServerDependencies,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var app = Application(
        router: buildRouter(configuration: configuration, dependencies: dependencies),
        server: .applianceHTTP1(idleTimeout: configuration.idleTimeout),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "unity-ai"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
    app.addServices(dependencies.services)
    app.beforeServerStarts(perform: dependencies.beforeServerStarts)
    return app
}
