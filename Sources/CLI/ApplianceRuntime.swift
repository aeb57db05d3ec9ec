import ArgumentParser
import Foundation
import Ingest
import Logging
import PostgresNIO
import Prometheus
import Providers
import Retrieval
import Routing
import ServiceLifecycle
import Storage

/// The database, schema and providers a command works with, set up from the ``CommonOptions``.
struct ApplianceRuntime: Sendable {
    let routing: RoutingConfiguration
    let settings: DatabaseSettings
    /// The database every repository uses (calls never hang while it is down).
    let client: Database
    let lease: EmbeddedPostgresLease?
    let migrations: [Migration]
    let embedder: any EmbeddingProvider
    let providers: ProviderRegistry
    /// How documents are cut into chunks: sized by the built-in `minilm` tokenizer when its files are installed.
    let chunking: Chunker.Configuration
    let logger: Logger

    /// Starts (or joins) the database and prepares the providers; the client is not running yet.
    static func prepare(options: CommonOptions, logger: Logger) async throws -> ApplianceRuntime {
        let routing = try RoutingFile.loadConfiguration(path: options.resolvedConfigPath, environment: options.environment)
        let transport = ProviderTransport()
        var providers = ProviderRegistry.make(configuration: routing, transport: transport)
        let embedder = try providers.embedder(named: options.embeddingModel ?? routing.embeddingModel)
        // The built-in answerer reads sentences by meaning with the built-in semantic embedder (no network, no
        // cost); with the hashing `local` embedder, or a remote one, it matches terms only.
        if embedder.model.name == "minilm" {
            providers = ProviderRegistry.make(
                configuration: routing, transport: transport, localAnswerer: ExtractiveAnswerer(sentenceEmbedder: embedder))
        }
        let migrations = try Migration.load(
            from: try Migration.locateDirectory(explicit: options.resolvedMigrationsDirectory))
        let settings: DatabaseSettings
        var lease: EmbeddedPostgresLease?
        if let url = options.resolvedDatabaseURL {
            settings = try DatabaseSettings(url: url)
        } else {
            var configuration = EmbeddedPostgres.Configuration(dataDirectory: options.resolvedDataDirectory)
            configuration.binaryDirectory = options.resolvedPostgresBinaries
            configuration.serverUser = options.environment["UNITY_AI_PG_USER"].flatMap { $0.isEmpty ? nil : $0 }
            let started = try await EmbeddedPostgres(configuration: configuration).start(logger: logger)
            lease = started
            settings = started.settings
        }
        return ApplianceRuntime(
            routing: routing, settings: settings, client: try Database(settings: settings, logger: logger),
            lease: lease, migrations: migrations, embedder: embedder, providers: providers,
            chunking: try ChunkSizing.configuration(embedder: embedder, environment: options.environment, logger: logger),
            logger: logger)
    }

    /// Checks pgvector and applies pending migrations.
    func migrate() async throws -> [String] {
        try await DatabaseReadiness.requireVectorExtension(client: client, settings: settings, logger: logger)
        return try await Migrator(client: client, migrations: migrations).migrate(logger: logger)
    }

    /// Fails within seconds, naming the server and the cause (refused, timed out, authentication, TLS), when the
    /// database cannot be reached: a command should not wait on a server that is not there.
    func requireReachableDatabase() async throws {
        if let cause = await Database.diagnoseConnection(to: settings, logger: logger) {
            throw StorageError(
                .serverUnreachable,
                "Cannot connect to PostgreSQL at \(settings): \(cause). Check DATABASE_URL and that the server is running.")
        }
    }

    /// Runs `body` with the client running and the schema migrated; then stops the client and releases the
    /// embedded server.
    func withDatabase<Result: Sendable>(
        migrating: Bool = true, _ body: @Sendable (ApplianceRuntime) async throws -> Result
    ) async throws -> Result {
        try await requireReachableDatabase()
        // The client runs beside the command. When the command is done it is stopped, but not waited for beyond a
        // few seconds: with the server gone mid-command, the pool's shutdown can wait on connection attempts, and a
        // command must end all the same (the process exits; the server lost nothing it had not committed).
        let running = Task { await client.client.run() }
        defer { running.cancel() }
        do {
            // Let run() begin before the first query, so the client does not warn that it is not running.
            try await Task.sleep(for: .milliseconds(5))
            if migrating { _ = try await migrate() }
            let result = try await body(self)
            await Self.stop(running)
            await lease?.release(logger: logger)
            return result
        } catch {
            await Self.stop(running)
            await lease?.release(logger: logger)
            throw error
        }
    }

    /// Cancels the client's task and waits up to 3 seconds for it to end (awaiting a task's value cannot be
    /// cancelled, so the wait is a race of two unstructured tasks, whichever resumes first).
    private static func stop(_ running: Task<Void, Never>) async {
        running.cancel()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            Task {
                await running.value
                once.resume()
            }
            Task {
                try? await Task.sleep(for: .seconds(3))
                once.resume()
            }
        }
    }

    /// The router over the providers, its shared state in the database and its metrics on `metrics`.
    func makeRouter(metrics: PrometheusCollectorRegistry) -> AIRouter {
        AIRouter(
            configuration: routing, registry: providers, ledgers: PostgresRouterLedgers(client: client, logger: logger).ledgers,
            metrics: RouterMetrics(factory: PrometheusMetricsFactory(registry: metrics)), logger: logger)
    }

    /// The embedder of the model called `name` (a stored model name, as `unity-ai reindex` makes a tenant's
    /// default), or `nil` when this process cannot embed with it; the failure is logged.
    var embedderNamed: @Sendable (String) -> (any EmbeddingProvider)? {
        { [providers, embedder, logger] name in
            if name == embedder.model.name { return embedder }
            do {
                return try providers.embedder(named: name)
            } catch {
                logger.warning(
                    "Cannot embed with a tenant's default embedding model",
                    metadata: ["embedding.model": "\(name)", "error": "\(error)"])
                return nil
            }
        }
    }

    /// Answers questions with the hybrid retriever and the built-in extractive answerer.
    /// `router` (the server's) answers through the routed `answerModel`; without it, the extractive answerer
    /// answers directly.
    func askService(router: AIRouter? = nil, answerModel: String = "local") -> AskService {
        let store = KnowledgeStore(client: client)
        let retriever = HybridRetriever(
            configuration: retrieverConfiguration(), search: ChunkSearch(client: client), embedder: embedder,
            models: EmbeddingModelRegistry(store: store), embedderNamed: embedderNamed, logger: logger)
        let answerer: any GroundedAnswerer =
            router.map { RoutedAnswerer(router: $0, model: answerModel) } ?? DirectAnswerer(provider: ExtractiveAnswerer(sentenceEmbedder: embedder.model.name == "minilm" ? embedder : nil))
        return AskService(store: store, retriever: retriever, answerer: answerer, logger: logger)
    }
}

/// Releases the embedded PostgreSQL when the service group shuts down; listed first so it goes last.
struct EmbeddedPostgresService: Service {
    let lease: EmbeddedPostgresLease
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        await lease.release(logger: logger)
    }
}

