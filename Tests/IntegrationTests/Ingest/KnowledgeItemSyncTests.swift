import Foundation
import Ingest
import PostgresNIO
import Retrieval
import Storage
import Testing

extension Appliance {
    /// A `knowledge_items` sync over this appliance, as instance `instance`.
    func knowledgeSync(instance: String = "test", batchSize: Int = 64) -> KnowledgeItemSync {
        var configuration = KnowledgeItemSync.Configuration()
        configuration.claims.instance = instance
        configuration.claims.batchSize = batchSize
        return KnowledgeItemSync(
            configuration: configuration,
            ingestor: Ingestor(store: store, embedder: embedder, logger: TestDatabase.logger),
            logger: TestDatabase.logger)
    }

    /// Inserts a `knowledge_items` row; returns its id.
    func insertItem(tenant: String, title: String, content: String, tags: [String] = []) async throws -> Int64 {
        let rows = try await client.query(
            """
            INSERT INTO knowledge_items (tenant, title, content, tags) VALUES (\(tenant), \(title), \(content), \(tags))
            RETURNING id
            """, logger: TestDatabase.logger)
        return try #require(try rows.decode(Int64.self).first)
    }

    /// Runs SQL that returns nothing.
    func execute(_ sql: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
    }
}

/// `knowledge_items` as a source: rows become documents `knowledge_items/<id>` of their own tenant, and the next
/// sync reflects inserts, updates and deletes exactly, reading only the rows that changed.
@Suite struct KnowledgeItemSyncTests {
    @Test func insertsUpdatesAndDeletesAreReflectedByTheNextSyncWithTenantsKeptApart() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let vpn = try await appliance.insertItem(
                tenant: "acme", title: "VPN access",
                content: "Connect to vpn.acme.example on UDP port 51820 with WireGuard.")
            let parking = try await appliance.insertItem(
                tenant: "acme", title: "Parking", content: "Visitors park on level 3 of the north garage.")
            let lunch = try await appliance.insertItem(
                tenant: "globex", title: "Canteen", content: "The canteen serves lunch from 11:30 to 14:00.")
            let first = try await appliance.knowledgeSync().sync()
            #expect(first.added == 3 && first.failed == 0 && first.chunksEmbedded >= 3, "\(first)")

            // Nothing changed: nothing is read, nothing embedded.
            let idle = try await appliance.knowledgeSync().sync()
            #expect(
                idle
                    == {
                        var s = IngestSummary()
                        s.seconds = idle.seconds
                        return s
                    }())

            let badge = try await appliance.insertItem(
                tenant: "acme", title: "Badges", content: "Lost badges are replaced at reception for a fee of 15 euros."
            )
            try await appliance.execute(
                "UPDATE knowledge_items SET content = 'Visitors park on level 5 of the south garage.' WHERE id = \(parking)"
            )
            try await appliance.execute("DELETE FROM knowledge_items WHERE id = \(lunch)")
            let second = try await appliance.knowledgeSync().sync()
            #expect(second.added == 1 && second.updated == 1 && second.removed == 1, "\(second)")
            #expect(second.unchanged == 0 && second.failed == 0)

            // Each tenant holds its own rows' documents, and chunks follow their document's tenant.
            let owners = try await client.query(
                """
                SELECT t.name, d.source_uri FROM documents d JOIN tenants t ON t.id = d.tenant_id ORDER BY d.source_uri
                """, logger: TestDatabase.logger)
            let pairs = try owners.decode((String, String).self).map { "\($0)=\($1)" }
            #expect(
                Set(pairs)
                    == [
                        "acme=knowledge_items/\(vpn)", "acme=knowledge_items/\(parking)",
                        "acme=knowledge_items/\(badge)",
                    ])
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.tenant_id <> d.tenant_id"
                )
                    == 0)
            #expect(try await appliance.count("SELECT count(*) FROM chunks WHERE text LIKE '%level 3%'") == 0)
            #expect(try await appliance.count("SELECT count(*) FROM knowledge_item_changes") == 0)

            // Globex's knowledge base no longer has the canteen and never had acme's rows.
            let globex = try await appliance.askService.ask(
                question: "Which port does the VPN use?", tenant: "globex", topK: 5)
            #expect(globex.citations.isEmpty)
        }
    }

    @Test func aQuestionAnsweredOnlyByOneRowCitesIt() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.insertItem(
                tenant: "acme", title: "Parking", content: "Visitors park on level 3 of the north garage.")
            let vpn = try await appliance.insertItem(
                tenant: "acme", title: "VPN access", content: "Connect on UDP port 51820 with WireGuard.",
                tags: ["network", "remote work"])
            _ = try await appliance.insertItem(
                tenant: "acme", title: "Canteen", content: "The canteen serves lunch from 11:30 to 14:00.")
            _ = try await appliance.knowledgeSync().sync()

            let answer = try await appliance.askService.ask(
                question: "Which port does the VPN use?", tenant: "acme", topK: 5)
            #expect(answer.citations.first?.source == "knowledge_items/\(vpn)", "\(answer.answer)")
            #expect(answer.answer.contains("51820"))
            // The title heads every chunk; the tags are searchable with it.
            #expect(answer.citations.first?.heading == "VPN access")
            #expect(
                try await appliance.count(
                    """
                    SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
                    WHERE d.source_uri = 'knowledge_items/\(vpn)' AND c.search_text @@ to_tsquery('english', 'remote & work & vpn')
                    """) == 1)
        }
    }

    @Test func aRowMovedToAnotherTenantLeavesTheFirst() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let id = try await appliance.insertItem(
                tenant: "acme", title: "Wiki", content: "The wiki lives at wiki.example.")
            _ = try await appliance.knowledgeSync().sync()
            try await appliance.execute("UPDATE knowledge_items SET tenant = 'globex' WHERE id = \(id)")
            let moved = try await appliance.knowledgeSync().sync()
            #expect(moved.updated == 1 && moved.added == 0 && moved.failed == 0, "\(moved)")
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM documents d JOIN tenants t ON t.id = d.tenant_id WHERE t.name = 'globex'")
                    == 1)
            #expect(try await appliance.count("SELECT count(*) FROM documents") == 1)
        }
    }

    /// `knowledge_items.tenant` refers to the tenants table (migration 0008): a name no tenant can have is refused
    /// where it is written, so it never reaches the queue.
    @Test func aRowWithAnInvalidTenantIsRefusedWhereItIsWritten() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            let refused = await #expect(throws: PSQLError.self) {
                _ = try await appliance.insertItem(tenant: "sales team!", title: "Quota", content: "Quota is 40 calls.")
            }
            #expect(refused?.serverInfo?[.sqlState] == "23514")  // check_violation: tenants.name
            _ = try await appliance.insertItem(
                tenant: "acme", title: "Wiki", content: "The wiki lives at wiki.example.")
            #expect(try await appliance.count("SELECT count(*) FROM knowledge_item_changes") == 1)
            let first = try await appliance.knowledgeSync().sync()
            #expect(first.added == 1 && first.failed == 0, "\(first)")
            #expect(try await appliance.count("SELECT count(*) FROM knowledge_item_changes") == 0)
        }
    }

    @Test func aTenantFilterSyncsOnlyThatTenantsRows() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            _ = try await appliance.insertItem(tenant: "acme", title: "A", content: "Alpha facts.")
            _ = try await appliance.insertItem(tenant: "globex", title: "B", content: "Beta facts.")
            let acme = try await appliance.knowledgeSync().sync(tenant: "acme")
            #expect(acme.added == 1)
            let rest = try await appliance.knowledgeSync().sync()
            #expect(rest.added == 1 && rest.unchanged == 0)
        }
    }

    /// Three instances sync 300 rows at once in small batches: every row is stored, none is processed twice.
    @Test func concurrentSyncsHandleEveryRowExactlyOnce() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let appliance = Appliance(client: client)
            try await appliance.execute(
                """
                INSERT INTO knowledge_items (tenant, title, content)
                SELECT CASE WHEN n % 2 = 0 THEN 'acme' ELSE 'globex' END, 'Item ' || n, 'Fact number ' || n || ' is true.'
                FROM generate_series(1, 300) AS n
                """)
            let summaries = try await withThrowingTaskGroup(of: IngestSummary.self) { group in
                for instance in ["a", "b", "c"] {
                    group.addTask { try await appliance.knowledgeSync(instance: instance, batchSize: 7).sync() }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let handled = summaries.reduce(0) { $0 + $1.added + $1.updated + $1.unchanged + $1.failed }
            #expect(handled == 300, "\(summaries)")
            #expect(summaries.reduce(0) { $0 + $1.added } == 300)
            #expect(try await appliance.count("SELECT count(*) FROM documents") == 300)
            #expect(try await appliance.count("SELECT count(*) FROM knowledge_item_changes") == 0)
        }
    }

    /// The seed's table may predate the appliance, in an older shape (no tenant or tags) and with rows: the
    /// migrations keep it and its rows, and the first sync ingests them.
    @Test func rowsOfATableThatPredatesTheMigrationsAreSynced() async throws {
        try await TestDatabase.withFreshDatabase(migrate: false) { client, _ in
            let appliance = Appliance(client: client)
            try await appliance.execute(
                """
                CREATE TABLE knowledge_items (id serial PRIMARY KEY, title text NOT NULL, content text NOT NULL);
                """)
            try await appliance.execute(
                "INSERT INTO knowledge_items (title, content) VALUES ('Old one', 'Written before the appliance.'), ('Old two', 'Also old.')"
            )
            try await Migrator(client: client, migrations: try TestDatabase.migrations()).migrate(
                logger: TestDatabase.logger)
            let summary = try await appliance.knowledgeSync().sync()
            #expect(summary.added == 2 && summary.failed == 0, "\(summary)")
            #expect(
                try await appliance.count(
                    "SELECT count(*) FROM documents d JOIN tenants t ON t.id = d.tenant_id WHERE t.name = 'default'")
                    == 2)
            // The triggers work on the old table too.
            try await appliance.execute("DELETE FROM knowledge_items WHERE title = 'Old two'")
            #expect(try await appliance.knowledgeSync().sync().removed == 1)
        }
    }
}

/// Syncs on several instances meet a new tenant or a new embedding model at the same moment on a fresh database.
@Suite struct ConcurrentRegistrationTests {
    @Test func instancesRegisteringOneModelAndTenantAtOnceAgree() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            let results = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        async let model = store.registerEmbeddingModel(
                            name: "m", dimensions: 8, logger: TestDatabase.logger)
                        async let tenant = store.ensureTenant(named: "fresh", logger: TestDatabase.logger)
                        return try await (model, tenant)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.0)).count == 1 && Set(results.map(\.1)).count == 1)
            #expect(try await Appliance(client: client).count("SELECT count(*) FROM embedding_models") == 1)
        }
    }
}
