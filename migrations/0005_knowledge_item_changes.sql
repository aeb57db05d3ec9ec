-- knowledge_items as an ingest source: a change queue fed by triggers, so a sync visits only the rows that changed
-- (inserted, updated, deleted) since they were last synced and never scans the unchanged ones. It is pgai's
-- vectorizer design: writers pay one small upsert per statement, readers claim queue rows.

-- The seed's table may predate 0001 (whose CREATE TABLE IF NOT EXISTS then left it as it was): the sync reads
-- tenant and tags, so they are added, with 0001's defaults, where missing. Existing rows keep their values.
ALTER TABLE knowledge_items ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT 'default';
ALTER TABLE knowledge_items ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}';

-- Orders changes: every change of an item takes the next number, so a sync that read version v knows whether the
-- item changed again while it worked (the queue row's version is then larger) and leaves it queued.
CREATE SEQUENCE knowledge_item_change_seq;

-- One row per item with a change not yet synced. The row is removed by the sync that stored the version it read;
-- a row changed meanwhile stays for the next sync.
CREATE TABLE knowledge_item_changes (
    item_id        bigint PRIMARY KEY,
    -- The item's tenant at its latest change (NULL after a TRUNCATE): lets `ingest --knowledge-items --tenant`
    -- sync one tenant's rows. The document's tenant always comes from the row itself when it is read.
    tenant         text,
    version        bigint NOT NULL DEFAULT nextval('knowledge_item_change_seq'),
    changed_at     timestamptz NOT NULL DEFAULT now(),
    -- A claim: the instance syncing the item and until when; an expired claim (a crashed instance) is free again.
    claimed_by     text,
    claimed_until  timestamptz
);

CREATE INDEX knowledge_item_changes_version_idx ON knowledge_item_changes (version);

-- Statement-level with transition tables: a bulk INSERT of 100,000 rows costs one INSERT … SELECT into the queue,
-- not 100,000 trigger calls. A change to a queued item bumps its version and leaves any claim alone (the claimer
-- sees the new version when it finishes and releases the row instead of deleting it).
CREATE FUNCTION knowledge_items_enqueue_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO knowledge_item_changes (item_id, tenant)
        SELECT id, tenant FROM new_rows
        ON CONFLICT (item_id) DO UPDATE
        SET version = nextval('knowledge_item_change_seq'), tenant = EXCLUDED.tenant, changed_at = now();
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO knowledge_item_changes (item_id, tenant)
        SELECT id, tenant FROM old_rows
        ON CONFLICT (item_id) DO UPDATE
        SET version = nextval('knowledge_item_change_seq'), tenant = EXCLUDED.tenant, changed_at = now();
    ELSIF TG_OP = 'UPDATE' THEN
        -- An UPDATE that changed an id: the old id's document must go.
        INSERT INTO knowledge_item_changes (item_id, tenant)
        SELECT o.id, o.tenant FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id)
        ON CONFLICT (item_id) DO UPDATE
        SET version = nextval('knowledge_item_change_seq'), tenant = EXCLUDED.tenant, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_items_enqueue_insert AFTER INSERT ON knowledge_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_items_enqueue_changes();
CREATE TRIGGER knowledge_items_enqueue_update AFTER UPDATE ON knowledge_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION knowledge_items_enqueue_changes();
CREATE TRIGGER knowledge_items_enqueue_delete AFTER DELETE ON knowledge_items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_items_enqueue_changes();

-- TRUNCATE has no transition table: every item that has a document is queued, and the sync removes those whose
-- row is gone.
CREATE FUNCTION knowledge_items_enqueue_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO knowledge_item_changes (item_id, tenant)
    SELECT DISTINCT substr(source_uri, 17)::bigint, NULL::text FROM documents
    WHERE source_uri ~ '^knowledge_items/[0-9]{1,18}$'
    ON CONFLICT (item_id) DO UPDATE
    SET version = nextval('knowledge_item_change_seq'), tenant = NULL, changed_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER knowledge_items_enqueue_truncate AFTER TRUNCATE ON knowledge_items
    FOR EACH STATEMENT EXECUTE FUNCTION knowledge_items_enqueue_truncate();

-- Rows that exist already are queued once, so the first sync ingests them.
INSERT INTO knowledge_item_changes (item_id, tenant)
SELECT id, tenant FROM knowledge_items
ON CONFLICT (item_id) DO NOTHING;
