// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "unity-ai",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "unity-ai", targets: ["UnityAI"]),
        .executable(name: "unity-ai-bench", targets: ["UnityAIBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // Timeouts on NIO timers, which a cancellation frees at once (a cancelled Task.sleep holds its task until
        // its deadline).
        .target(
            name: "Deadlines",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Embedding and answering providers behind one protocol; the built-in `local` ones live here.
        .target(
            name: "Providers",
            dependencies: [
                "Deadlines",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenBLAS's CBLAS, for the native embedder's matrix products (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // all-MiniLM-L6-v2 in Swift: safetensors, WordPiece, the BERT forward pass. An EmbeddingProvider.
        .target(
            name: "MiniLM",
            dependencies: ["Providers", "COpenBLAS"],
            swiftSettings: swiftSettings
        ),
        // Which provider, model and endpoint answers: configuration (ai_routing.yaml), strategies, fallback chains,
        // load balancing, circuit breakers, rate limits, budgets, the response cache and usage accounting.
        // No database or network code: shared state goes through protocols that Storage implements.
        .target(
            name: "Routing",
            dependencies: [
                "Deadlines", "Lifecycle", "MiniLM", "Providers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: the embedded server, migrations, repositories, the router's shared ledgers.
        .target(
            name: "Storage",
            dependencies: [
                "Deadlines", "Lifecycle", "Routing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Files → documents → chunks → embeddings.
        .target(
            name: "Ingest",
            dependencies: [
                "Archive", "Lifecycle", "Providers", "Routing", "Storage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // SHA-256 block functions on the x86 SHA extensions, one state or two over the same bytes (a file and its
        // part, hashed in one pass), with a portable fallback; only ObjectStore's multipart file upload uses it.
        .target(name: "CSHA256", path: "Sources/CSHA256"),
        // S3-compatible object storage for backups: the SigV4 signer (pure, swift-crypto) and the client.
        .target(
            name: "ObjectStore",
            dependencies: [
                "CSHA256",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // libarchive (Debian: libarchive-dev): reading users' archives, writing backup tar.gz; its gzip filter links zlib.
        .systemLibrary(
            name: "CArchive",
            path: "Sources/CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // Streaming archive reading with traversal, link, nesting and bomb defences; streaming tar.gz writing.
        .target(
            name: "Archive",
            dependencies: ["CArchive"],
            swiftSettings: swiftSettings
        ),
        // Model lifecycle and the job scheduler: pure decisions (cron schedules, cleanup plans) and their services.
        .target(
            name: "Lifecycle",
            dependencies: [
                "Providers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Backup sets: appliance tables and Ollama model blobs to S3 or a directory; list, verify, restore (models
        // through Ollama's API), prune, client-side encryption.
        .target(
            name: "Backup",
            dependencies: [
                "Archive", "Lifecycle", "ObjectStore", "Providers", "Routing", "Storage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hybrid retrieval and grounded answers.
        .target(
            name: "Retrieval",
            dependencies: [
                "Providers", "Routing", "Storage",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP surface; the only target that imports Hummingbird.
        .target(
            name: "Server",
            dependencies: [
                "Backup", "Deadlines", "Lifecycle", "ObjectStore", "Providers", "Routing", "Storage", "Retrieval",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // `GET /openapi.yaml`. SwiftPM takes resources only from inside the target's directory and copies a
            // symlink as a (then dangling) link, so this is a copy of docs/openapi.yaml, the one to edit:
            // OpenAPIDriftTests fails, naming the `cp` to run, when the two differ by a byte.
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "UnityAI",
            dependencies: [
                "Archive", "Backup", "ObjectStore", "Lifecycle", "MiniLM", "Providers", "Routing", "Storage", "Ingest",
                "Retrieval", "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/CLI",
            swiftSettings: swiftSettings
        ),
        // Benchmarks that compare the appliance with a baseline measured in the same run (deploy/bench-*.sh).
        .executableTarget(
            name: "UnityAIBench",
            dependencies: [
                "MiniLM", "ObjectStore", "Providers", "Routing", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeadlinesTests",
            dependencies: ["Deadlines"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProvidersTests",
            dependencies: ["Providers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: ["Ingest", "Providers", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MiniLMTests",
            dependencies: ["MiniLM", "Providers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RoutingTests",
            dependencies: ["Routing", "Lifecycle", "Providers", "MiniLM"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RetrievalTests",
            dependencies: ["Retrieval", "Providers", "Storage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObjectStoreTests",
            dependencies: ["ObjectStore"],
            swiftSettings: swiftSettings
        ),
        // The S3 client against a real SeaweedFS (deploy/start-seaweedfs.sh; deploy/test.sh starts it).
        // A proxy in front of the S3 server that fails chosen requests: shared by the S3 and the backup tests.
        .target(
            name: "FaultInjection",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/FaultInjection",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObjectStoreIntegrationTests",
            dependencies: [
                "FaultInjection", "ObjectStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ArchiveTests",
            dependencies: ["Archive", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LifecycleTests",
            dependencies: ["Lifecycle"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BackupTests",
            dependencies: ["Backup", "ObjectStore", "Routing", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Backup", "FaultInjection", "ObjectStore", "Archive",
                "Lifecycle", "MiniLM", "Providers", "Routing", "Storage", "Ingest", "Retrieval", "Server",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
