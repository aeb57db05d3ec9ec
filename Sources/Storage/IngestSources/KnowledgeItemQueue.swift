import Foundation
import Logging
import PostgresNIO
import Routing

/// The seed's `knowledge_items` table and its change queue (`knowledge_item_changes`, fed by the triggers of
/// `migrations/0005_knowledge_item_changes.sql`): which items changed, who is syncing them, and their rows.
///
/// Claims are leases: a claim statement marks a batch of queued items as this instance's until a deadline, in one
/// `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`, so instances syncing at once never take the same item, and a
/// crashed instance's items are free again when its lease ends.
public struct KnowledgeItemQueue: Sendable {
    let client: Database
    let logger: Logger

    /// A queue over `client`.
    public init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A queued change this instance has claimed.
    public struct Claim: Sendable, Equatable {
        public var itemID: Int64
        /// The change's number: the item is done only if it is still this when the sync finishes.
        public var version: Int64
    }

    /// A `knowledge_items` row as the sync reads it.
    public struct Item: Sendable, Equatable {
        public var id: Int64
        /// The row's `tenant` text, as written (mapped to a tenant id by the sync).
        public var tenant: String
        public var title: String
        public var content: String
        public var tags: [String]

        /// An item as the table holds it.
        public init(id: Int64, tenant: String, title: String, content: String, tags: [String]) {
            self.id = id
            self.tenant = tenant
            self.title = title
            self.content = content
            self.tags = tags
        }
    }

    /// The newest change number queued, 0 when the queue is empty: a sync handles changes up to it, and leaves
    /// later ones to the next sync, so that steady writes cannot keep one sync running forever.
    public func latestVersion() async throws -> Int64 {
        let rows = try await client.query(
            "SELECT coalesce(max(version), 0)::bigint FROM knowledge_item_changes", logger: logger)
        for version in try rows.decode(Int64.self) { return version }
        return 0
    }

    /// Claims up to `limit` queued changes with versions in `(after, through]`, oldest first, that nobody holds,
    /// for `lease`; only those of `tenant` when it is given. One statement: concurrent claimers skip each other's
    /// rows.
    public func claim(
        limit: Int, after: Int64, through: Int64, tenant: String?, instance: String, lease: Duration
    ) async throws -> [Claim] {
        let rows = try await client.query(
            """
            UPDATE knowledge_item_changes q
            SET claimed_by = \(instance), claimed_until = now() + make_interval(secs => \(lease.seconds))
            FROM (
                SELECT item_id FROM knowledge_item_changes
                WHERE version > \(after) AND version <= \(through)
                  AND (claimed_until IS NULL OR claimed_until < now())
                  AND (\(tenant)::text IS NULL OR tenant = \(tenant)::text)
                ORDER BY version
                LIMIT \(max(1, limit))
                FOR UPDATE SKIP LOCKED
            ) c
            WHERE q.item_id = c.item_id
            RETURNING q.item_id, q.version
            """, logger: logger)
        return try rows.decode((Int64, Int64).self).map { Claim(itemID: $0, version: $1) }
            .sorted { $0.version < $1.version }
    }

    /// The rows of these items that still exist; a deleted item has none.
    public func items(ids: [Int64]) async throws -> [Int64: Item] {
        guard !ids.isEmpty else { return [:] }
        // The one place that reads the row's tenant: when the column becomes a reference to `tenants`, this query
        // and ``KnowledgeItemSync``'s tenant lookup change together.
        let rows = try await client.query(
            """
            SELECT id::bigint, tenant, title, content, tags::text[] FROM knowledge_items
            WHERE id = ANY(\(ids)::bigint[])
            """, logger: logger)
        var items: [Int64: Item] = [:]
        for (id, tenant, title, content, tags) in try rows.decode((Int64, String, String, String, [String]).self) {
            items[id] = Item(id: id, tenant: tenant, title: title, content: content, tags: tags)
        }
        return items
    }

    /// Ends this instance's claims: a change still at the version it claimed is done and leaves the queue; one
    /// that changed meanwhile, or is listed in `retry`, is released for the next sync.
    public func finish(_ claims: [Claim], retry: Set<Int64>, instance: String) async throws {
        guard !claims.isEmpty else { return }
        let done = claims.filter { !retry.contains($0.itemID) }
        try await client.query(
            """
            WITH done AS (
                DELETE FROM knowledge_item_changes q
                USING unnest(\(done.map(\.itemID))::bigint[], \(done.map(\.version))::bigint[]) AS d(item_id, version)
                WHERE q.item_id = d.item_id AND q.version = d.version AND q.claimed_by = \(instance)
                RETURNING q.item_id
            )
            UPDATE knowledge_item_changes SET claimed_by = NULL, claimed_until = NULL
            WHERE item_id = ANY(\(claims.map(\.itemID))::bigint[]) AND claimed_by = \(instance)
              AND item_id NOT IN (SELECT item_id FROM done)
            """, logger: logger)
    }

    /// How many changes wait, for `tenant` or all of them.
    public func pendingCount(tenant: String?) async throws -> Int {
        let rows = try await client.query(
            """
            SELECT count(*)::bigint FROM knowledge_item_changes
            WHERE \(tenant)::text IS NULL OR tenant = \(tenant)::text
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
