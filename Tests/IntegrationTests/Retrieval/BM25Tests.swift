import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

/// BM25 in PostgreSQL (migration 0011): scores against the formula worked by hand, statistics that follow documents
/// as they are added, replaced and deleted, and tenants that never see each other's words.
@Suite struct BM25Tests {
    /// Stores one document of one chunk (`text` under `heading`) in the tenant, replacing what was there.
    static func store(
        _ text: String, heading: String = "", as uri: String, tenantID: Int64, in client: Database
    ) async throws {
        let store = KnowledgeStore(client: client)
        let modelID = try await store.registerEmbeddingModel(name: "test-2d", dimensions: 2, logger: TestDatabase.logger)
        try await store.replaceDocument(
            tenantID: tenantID, sourceURI: uri, contentSHA256: String(repeating: "a", count: 64), metadataJSON: "{}",
            chunks: [
                .init(
                    ordinal: 0, text: text, tokenCount: 3, characterRange: 0..<text.count, headingPath: [],
                    searchText: heading + "\n" + text, headingText: heading)
            ],
            embeddings: [[1, 0]], modelID: modelID, logger: TestDatabase.logger)
    }

    /// The chunk id of the tenant's document `uri`.
    static func chunkID(_ uri: String, tenantID: Int64, in client: Database) async throws -> Int64 {
        let rows = try await client.query(
            """
            SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE d.tenant_id = \(tenantID) AND d.source_uri = \(uri)
            """, logger: TestDatabase.logger)
        return try #require(try rows.decode(Int64.self).first)
    }

    /// Three chunks, English stemming, no headings: "cats chase mice" (cat, chase, mice: length 3), "dogs chase cats
    /// and cats run" (dog, chase, cat ×2, run; "and" is a stop word: length 5), "birds sing" (length 2).
    /// N = 3, average length 10/3.
    static func storeAnimals(tenantID: Int64, in client: Database) async throws {
        try await store("cats chase mice", as: "a", tenantID: tenantID, in: client)
        try await store("dogs chase cats and cats run", as: "b", tenantID: tenantID, in: client)
        try await store("birds sing", as: "c", tenantID: tenantID, in: client)
    }

    @Test func scoresMatchTheFormulaWorkedByHand() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let tenantID = try await KnowledgeStore(client: client).ensureTenant(named: "animals", logger: TestDatabase.logger)
            try await Self.storeAnimals(tenantID: tenantID, in: client)
            let hits = try await ChunkSearch(client: client).bm25(
                words: "cats", tenantID: tenantID, limit: 10, logger: TestDatabase.logger)
            // "cats" → cat, in 2 of 3 chunks: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6. k1 0.9, b 0.4.
            // a: tf 1, length 3: 1 × 1.9 / (1 + 0.9 × (0.6 + 0.4 × 3 / (10/3))) = 1.9 / 1.864
            // b: tf 2, length 5: 2 × 1.9 / (2 + 0.9 × (0.6 + 0.4 × 5 / (10/3))) = 3.8 / 3.08
            let idf = log(1.6)
            let a = try await Self.chunkID("a", tenantID: tenantID, in: client)
            let b = try await Self.chunkID("b", tenantID: tenantID, in: client)
            #expect(hits.map(\.chunkID) == [b, a])
            #expect(abs(hits[0].score - idf * 3.8 / 3.08) < 1e-9)
            #expect(abs(hits[1].score - idf * 1.9 / 1.864) < 1e-9)

            // Two query words add up; a repeated query word counts once.
            let two = try await ChunkSearch(client: client).bm25(
                words: "cats cats mice", tenantID: tenantID, limit: 10, logger: TestDatabase.logger)
            // mice: df 1, idf ln(1 + 2.5 / 1.5); in a only, tf 1, length 3.
            let expectedA = idf * 1.9 / 1.864 + log(1 + 2.5 / 1.5) * 1.9 / 1.864
            #expect(two.first?.chunkID == a)
            #expect(abs((two.first?.score ?? 0) - expectedA) < 1e-9)
            #expect(try await ChunkSearch(client: client).bm25(
                words: "the and of", tenantID: tenantID, limit: 10, logger: TestDatabase.logger).isEmpty)
        }
    }

    @Test func headingWordsCountByTheirWeight() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let tenantID = try await KnowledgeStore(client: client).ensureTenant(named: "animals", logger: TestDatabase.logger)
            try await Self.store("cats chase mice", as: "a", tenantID: tenantID, in: client)
            try await Self.store("dogs chase cats and cats run", as: "b", tenantID: tenantID, in: client)
            try await Self.store("birds sing", heading: "Cats", as: "c", tenantID: tenantID, in: client)
            let parameters = LexicalIndex.Parameters(k1: 0.9, b: 0.4, headingWeight: 2)
            let hits = try await ChunkSearch(client: client).bm25(
                words: "cat", tenantID: tenantID, limit: 10, parameters: parameters, logger: TestDatabase.logger)
            // cat is in all 3 chunks: idf = ln(1 + 0.5 / 3.5). Weighted average length (10 + 2 × 1) / 3 = 4.
            // c: tf 0 + 2 × 1 = 2, length 2 + 2 × 1 = 4: 2 × 1.9 / (2 + 0.9 × (0.6 + 0.4 × 4 / 4)) = 3.8 / 2.9
            // b: tf 2, length 5: 3.8 / (2 + 0.9 × (0.6 + 0.4 × 5 / 4)) = 3.8 / 2.99
            // a: tf 1, length 3: 1.9 / (1 + 0.9 × (0.6 + 0.4 × 3 / 4)) = 1.9 / 1.81
            let idf = log(1 + 0.5 / 3.5)
            let c = try await Self.chunkID("c", tenantID: tenantID, in: client)
            let b = try await Self.chunkID("b", tenantID: tenantID, in: client)
            let a = try await Self.chunkID("a", tenantID: tenantID, in: client)
            #expect(hits.map(\.chunkID) == [c, b, a])
            for (hit, expected) in zip(hits, [idf * 3.8 / 2.9, idf * 3.8 / 2.99, idf * 1.9 / 1.81]) {
                #expect(abs(hit.score - expected) < 1e-9)
            }
            // Heading weight 0: the heading word no longer matches c.
            let bodyOnly = try await ChunkSearch(client: client).bm25(
                words: "cat", tenantID: tenantID, limit: 10, parameters: .init(headingWeight: 0), logger: TestDatabase.logger)
            #expect(bodyOnly.map(\.chunkID) == [b, a])
        }
    }

    @Test func statisticsFollowDocumentsAddedReplacedAndDeleted() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            let search = ChunkSearch(client: client)
            let tenantID = try await store.ensureTenant(named: "animals", logger: TestDatabase.logger)
            func statistics() async throws -> LexicalIndex.Statistics {
                try await search.lexicalStatistics(tenantID: tenantID, lexemes: ["cat", "chase", "run"], logger: TestDatabase.logger)
            }
            func postings() async throws -> Int {
                let rows = try await client.query("SELECT count(*)::bigint FROM lexical_postings", logger: TestDatabase.logger)
                return Int(try #require(try rows.decode(Int64.self).first))
            }
            try await Self.storeAnimals(tenantID: tenantID, in: client)
            var now = try await statistics()
            #expect(now.chunkCount == 3 && now.bodyLength == 10 && now.headingLength == 0)
            #expect(now.documentFrequencies == ["cat": 2, "chase": 2, "run": 1])
            #expect(now.textSearchConfiguration == "english")
            #expect(try await postings() == 3 + 4 + 2)

            // Replaced: b loses its cats and its chase.
            try await Self.store("dogs run", heading: "Dogs", as: "b", tenantID: tenantID, in: client)
            now = try await statistics()
            #expect(now.chunkCount == 3 && now.bodyLength == 3 + 2 + 2 && now.headingLength == 1)
            #expect(now.documentFrequencies == ["cat": 1, "chase": 1, "run": 1])
            #expect(try await postings() == 3 + 2 + 2)

            // Deleted: a goes with its words.
            #expect(try await store.deleteDocuments(tenantID: tenantID, sourceURIs: ["a"], logger: TestDatabase.logger) == 1)
            now = try await statistics()
            #expect(now.chunkCount == 2 && now.bodyLength == 4 && now.headingLength == 1)
            #expect(now.documentFrequencies == ["run": 1])
            #expect(try await postings() == 2 + 2)
            let cats = try await search.bm25(words: "cats", tenantID: tenantID, limit: 10, logger: TestDatabase.logger)
            #expect(cats.isEmpty)

            // A tenant deleted leaves no postings and no statistics behind.
            #expect(try await TenantStore(client: client, logger: TestDatabase.logger).delete("animals"))
            #expect(try await postings() == 0)
            let rows = try await client.query(
                "SELECT (SELECT count(*) FROM lexical_statistics) + (SELECT count(*) FROM lexical_chunks)",
                logger: TestDatabase.logger)
            #expect(try rows.decode(Int64.self).first == 0)
        }
    }

    @Test func tenantsNeverShareStatisticsOrResults() async throws {
        try await TestDatabase.withFreshDatabase { client, _ in
            let store = KnowledgeStore(client: client)
            let search = ChunkSearch(client: client)
            let animals = try await store.ensureTenant(named: "animals", logger: TestDatabase.logger)
            let other = try await store.ensureTenant(named: "other", logger: TestDatabase.logger)
            try await Self.storeAnimals(tenantID: animals, in: client)
            try await Self.store("cats cats cats everywhere", as: "a", tenantID: other, in: client)

            let mine = try await search.lexicalStatistics(tenantID: animals, lexemes: ["cat"], logger: TestDatabase.logger)
            let theirs = try await search.lexicalStatistics(tenantID: other, lexemes: ["cat"], logger: TestDatabase.logger)
            #expect(mine.chunkCount == 3 && mine.bodyLength == 10 && mine.documentFrequencies == ["cat": 1 + 1])
            #expect(theirs.chunkCount == 1 && theirs.bodyLength == 3 + 1 && theirs.documentFrequencies == ["cat": 1])

            // The animals' scores are those worked by hand, as if the other tenant did not exist.
            let hits = try await search.bm25(words: "cats everywhere", tenantID: animals, limit: 10, logger: TestDatabase.logger)
            let otherChunk = try await Self.chunkID("a", tenantID: other, in: client)
            #expect(hits.count == 2 && !hits.map(\.chunkID).contains(otherChunk))
            #expect(abs(hits[0].score - log(1.6) * 3.8 / 3.08) < 1e-9)

            // Row-level security: in a tenant's scope, the other tenant's postings and statistics are not there.
            let visible = try await client.query(
                """
                SELECT (SELECT count(*) FROM lexical_postings WHERE term = 'cat')
                     + (SELECT count(*) FROM lexical_statistics WHERE tenant_id <> \(other))
                     + (SELECT count(*) FROM lexical_chunks WHERE tenant_id <> \(other))
                """, inScopeOf: other, logger: TestDatabase.logger)
            #expect(try visible.decode(Int64.self).first == 1)
        }
    }
}
