import Foundation
import Logging
import ObjectStore
import PostgresNIO
import Storage
import Testing

@testable import Backup

/// The SeaweedFS the tests run against (`deploy/start-seaweedfs.sh`, exported by `deploy/test.sh`), and the data the
/// backup tests write and compare.
enum BackupFixtures {
    static let bucket = "unity-ai-it-backup-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)

    /// The test server's settings (`UNITY_AI_TEST_S3_*`); fails, naming the script, when they are not set.
    static func s3Settings() throws -> (endpoint: String, accessKeyID: String, secretAccessKey: String) {
        let environment = ProcessInfo.processInfo.environment
        func required(_ name: String) throws -> String {
            try #require(
                environment[name].flatMap { $0.isEmpty ? nil : $0 },
                Comment(
                    rawValue: "\(name) is not set: the backup tests need a real S3 server. Start SeaweedFS with "
                        + "`deploy/start-seaweedfs.sh DIR` and `source DIR/s3.env` (deploy/test.sh does both)."))
        }
        return (
            try required("UNITY_AI_TEST_S3_ENDPOINT"), try required("UNITY_AI_TEST_S3_ACCESS_KEY"),
            try required("UNITY_AI_TEST_S3_SECRET_KEY")
        )
    }

    /// A client of this process's bucket on the server itself (or on `endpoint`, a proxy in front of it), with fast
    /// retries; the bucket is created when missing.
    static func client(
        endpoint: String? = nil, secretAccessKey: String? = nil, configure: (inout S3Client.Configuration) -> Void = { _ in }
    ) async throws -> S3Client {
        let settings = try s3Settings()
        var configuration = S3Client.Configuration(
            credentials: AWSCredentials(accessKeyID: settings.accessKeyID, secretAccessKey: settings.secretAccessKey),
            endpoint: settings.endpoint)
        configuration.retryBaseDelay = .milliseconds(10)
        configuration.maximumAttempts = 3
        let direct = try S3Client(bucket: bucket, configuration: configuration)
        do {
            try await direct.createBucket()
        } catch let error as ObjectStoreError where error.serverCode == "BucketAlreadyOwnedByYou" || error.serverCode == "BucketAlreadyExists" {
        }
        if let endpoint { configuration.endpoint = endpoint }
        if let secretAccessKey {
            configuration.credentials = AWSCredentials(accessKeyID: settings.accessKeyID, secretAccessKey: secretAccessKey)
        }
        configure(&configuration)
        return try S3Client(bucket: bucket, configuration: configuration)
    }

    /// An S3 target under a prefix of its own in a bucket of this test process; fails, naming the script, when the
    /// server is not configured or does not answer.
    static func s3Target(_ test: String = #function) async throws -> S3BackupTarget {
        S3BackupTarget(client: try await client(), prefix: prefix(test))
    }

    /// `t-<test>-<random>`.
    static func prefix(_ test: String) -> String {
        "t-\(test.prefix { $0 != "(" })-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Rows in every appliance table: two tenants, 2 × 3 documents of 400 chunks each (so tables span several
    /// archive pages), a 16-dimension vector per chunk, text with quotes, newlines and non-ASCII characters.
    static func seed(_ database: Database) async throws {
        let statements: [String] = [
            "INSERT INTO tenants (name) VALUES ('team-a')",
            "INSERT INTO embedding_models (name, dimensions) VALUES ('test-16', 16)",
            """
            INSERT INTO documents (tenant_id, source_uri, content_sha256, metadata)
            SELECT t.id, 'file:///docs/' || t.name || '/' || g || '.md', repeat(to_hex(g), 64 / length(to_hex(g))),
                   jsonb_build_object('title', 'Doc ' || g, 'nested', jsonb_build_object('n', g))
            FROM tenants t, generate_series(1, 3) g
            """,
            """
            INSERT INTO chunks (document_id, tenant_id, ordinal, text, token_count, char_start, char_end, heading_path,
                                search_text)
            SELECT d.id, d.tenant_id, o, 'Chunk ' || d.id || '/' || o || E' with "quotes", a\\nnewline, ünïcödé and \\\\',
                   o % 50, o * 10, o * 10 + 9, ARRAY['Guide', 'Part ' || (o / 100)],
                   to_tsvector('english', 'chunk number ' || o || ' of document ' || d.id)
            FROM documents d, generate_series(0, 399) o
            """,
            // The BM25 index of those chunks (as LexicalIndex.write makes it, from their search text alone).
            "INSERT INTO lexical_settings (tenant_id, text_search_config) SELECT id, 'english' FROM tenants",
            """
            INSERT INTO lexical_chunks (chunk_id, tenant_id, body_length, heading_length)
            SELECT c.id, c.tenant_id, (SELECT coalesce(sum(cardinality(l.positions)), 0) FROM unnest(c.search_text) l), 0
            FROM chunks c
            """,
            """
            INSERT INTO lexical_postings (tenant_id, term, chunk_id, body_tf, heading_tf, body_length, heading_length)
            SELECT c.tenant_id, l.lexeme, c.id, cardinality(l.positions), 0, x.body_length, 0
            FROM chunks c JOIN lexical_chunks x ON x.chunk_id = c.id, unnest(c.search_text) l
            """,
            """
            INSERT INTO chunk_embeddings (chunk_id, model_id, tenant_id, embedding)
            SELECT c.id, m.id, c.tenant_id,
                   (SELECT array_agg(sin(c.id * 0.37 + i) / 3.0)::real[] FROM generate_series(1, 16) i)::vector
            FROM chunks c, embedding_models m
            """,
            "INSERT INTO knowledge_items (tenant, title, content, tags) VALUES ('default', 'K1', 'content', ARRAY['a', 'b'])",
            """
            INSERT INTO plugin_metrics (plugin, metric, value, unit, labels, host)
            VALUES ('ai-router', 'requests', 1.0 / 3.0, 'count', '{"provider": "ollama"}', 'host-1')
            """,
            """
            INSERT INTO usage_records (recorded_at, tenant, provider, model, endpoint, input_tokens, output_tokens, cost_usd,
                                       latency_ms, cache_hit, fallbacks, status, strategy)
            SELECT now() - g * interval '1 minute', 'default', 'ollama', 'llama3.2', 'http://127.0.0.1:11434', g, 2 * g,
                   g * 0.000123, 12.5 + g, g % 2 = 0, 0, 'ok', NULL
            FROM generate_series(1, 50) g
            """,
            "INSERT INTO tenant_budget_periods VALUES ('default', 'day', date_trunc('day', now()), 0, 0.5)",
            "INSERT INTO response_cache VALUES ('k1', 'default', '{\"answer\": \"x\"}', now() + interval '1 day')",
            "INSERT INTO rate_limit_windows VALUES ('tenant:default', date_trunc('minute', now()), 3, 1)",
            "INSERT INTO job_runs (job, slot, instance, status) VALUES ('cleanup', now(), 'host:1', 'succeeded')",
            """
            INSERT INTO ollama_models (endpoint, name, digest, size_bytes, first_seen, last_seen)
            VALUES ('http://127.0.0.1:11434', 'llama3.2:latest', 'abc', 10, now(), now())
            """,
        ]
        for statement in statements {
            try await database.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
        }
    }

    /// Per table: the row count and the MD5 of every row's JSON in key order.
    static func checksums(_ database: Database) async throws -> [String: String] {
        var result: [String: String] = [:]
        for table in BackupTable.all {
            let rows = try await database.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT count(*)::bigint, md5(coalesce(string_agg(row_to_json(t)::text, E'\\n' ORDER BY \(table.orderBy)), ''))
                        FROM "\(table.name)" t
                        """), logger: TestDatabase.logger)
            let (count, md5) = try #require(try rows.decode((Int64, String).self).first)
            result[table.name] = "\(count) \(md5)"
        }
        return result
    }

    /// Per tenant-scoped table: the row count and MD5 of the rows of tenant `name`.
    static func tenantChecksums(_ database: Database, tenant name: String) async throws -> [String: String] {
        var result: [String: String] = [:]
        for table in BackupTable.all where table.scope != .shared && table.scope != .appliance {
            let condition = try #require(table.tenantCondition("t"))
            let rows = try await database.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT count(*)::bigint, md5(coalesce(string_agg(row_to_json(t)::text, E'\\n' ORDER BY \(table.orderBy)), ''))
                        FROM "\(table.name)" t WHERE \(condition.replacingOccurrences(of: "$2", with: "'\(name)'"))
                        """), logger: TestDatabase.logger)
            let (count, md5) = try #require(try rows.decode((Int64, String).self).first)
            result[table.name] = "\(count) \(md5)"
        }
        return result
    }

    static func service(
        _ database: Database, _ target: any BackupTarget, modelsDirectory: String? = nil, embeddings: Bool = true,
        key: BackupEncryptionKey? = nil
    ) -> BackupService {
        var configuration = BackupService.Configuration()
        configuration.ollamaModelsDirectory = modelsDirectory
        configuration.includeEmbeddings = embeddings
        configuration.encryptionKey = key
        return BackupService(configuration: configuration, database: database, target: target, logger: TestDatabase.logger)
    }
}
