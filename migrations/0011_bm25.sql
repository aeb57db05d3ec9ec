-- BM25 in PostgreSQL: per-chunk term frequencies and lengths from PostgreSQL's own parser and stemmer, and
-- per-tenant collection statistics kept exact as chunks come and go; queries score with them in one SQL statement
-- (Storage/LexicalIndex.swift).
--
-- Two fields: a chunk's heading context (title, heading path, tags) and its text. Both are kept apart so that the
-- heading weight is a query-time setting (tuned on SciFact's train split) rather than baked into the data.
-- Model-independent: nothing here refers to an embedding model.

-- One row per indexed chunk: its token counts (after stop words), the document length of BM25.
CREATE TABLE lexical_chunks (
    chunk_id        bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    -- Denormalised from chunks, like chunks.tenant_id: every search and statistic filters by tenant.
    tenant_id       bigint NOT NULL,
    body_length     integer NOT NULL CHECK (body_length >= 0),
    heading_length  integer NOT NULL CHECK (heading_length >= 0)
);

CREATE INDEX lexical_chunks_tenant_idx ON lexical_chunks (tenant_id);

-- The postings: one row per (tenant, lexeme, chunk). A query reads the postings of its lexemes through the primary
-- key, which carries the frequencies and lengths (INCLUDE) so that the read is an index-only scan (measured on
-- SciFact: 2.5 times faster at the median than the same key without them); the chunk's lengths are repeated here
-- so that scoring needs no join. A lexeme's document frequency is the
-- number of its postings in the tenant, counted in the same scan that scores (exact by construction). No foreign
-- keys: checking one per posting would multiply the ingest cost; postings go with their lexical_chunks row through
-- the trigger below, and that row with its chunk.
CREATE TABLE lexical_postings (
    tenant_id       bigint NOT NULL,
    term            text NOT NULL,
    chunk_id        bigint NOT NULL,
    body_tf         integer NOT NULL CHECK (body_tf >= 0),
    heading_tf      integer NOT NULL CHECK (heading_tf >= 0),
    body_length     integer NOT NULL,
    heading_length  integer NOT NULL,
    PRIMARY KEY (tenant_id, term, chunk_id) INCLUDE (body_tf, heading_tf, body_length, heading_length)
);

CREATE INDEX lexical_postings_chunk_idx ON lexical_postings (chunk_id);

-- Collection statistics, N and the total lengths (avgdl = total / N), striped: each writing connection adds its
-- deltas to its own row (slot = backend pid mod 16), so concurrent ingests of one tenant do not queue on a single
-- hot row until commit; a query sums a tenant's rows.
CREATE TABLE lexical_statistics (
    tenant_id       bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slot            smallint NOT NULL CHECK (slot BETWEEN 0 AND 15),
    chunk_count     bigint NOT NULL DEFAULT 0,
    body_length     bigint NOT NULL DEFAULT 0,
    heading_length  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, slot)
);

-- The text search configuration (`english` by default) a tenant's postings were made with, so that queries parse
-- and stem with the same one. Written with the postings; part of the chunker fingerprint, so a change re-indexes
-- documents on their next ingest.
CREATE TABLE lexical_settings (
    tenant_id           bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    text_search_config  text NOT NULL
);

-- The configuration a tenant's questions are parsed with: the one its chunks were indexed with, else `fallback`
-- (the application's default). One definition for every lexical query.
CREATE FUNCTION unity_text_search_config(tenant bigint, fallback text) RETURNS regconfig
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT text_search_config FROM lexical_settings WHERE tenant_id = tenant), fallback)::regconfig
$$;

-- Statistics follow lexical_chunks whatever removes, adds or rewrites rows: a document replaced (its chunks
-- deleted), a document deleted (chunks cascade), a tenant deleted, a backup restored (lexical_chunks and
-- lexical_postings are in backup sets; lexical_statistics is not, being derived here). Statement-level with transition tables: one update per
-- statement, not per row.
CREATE FUNCTION unity_lexical_chunks_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lexical_statistics AS s (tenant_id, slot, chunk_count, body_length, heading_length)
    SELECT a.tenant_id, (pg_backend_pid() % 16)::smallint, count(*), sum(a.body_length), sum(a.heading_length)
    FROM added a
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = a.tenant_id)
    GROUP BY a.tenant_id
    ORDER BY a.tenant_id
    ON CONFLICT (tenant_id, slot) DO UPDATE
    SET chunk_count = s.chunk_count + EXCLUDED.chunk_count,
        body_length = s.body_length + EXCLUDED.body_length,
        heading_length = s.heading_length + EXCLUDED.heading_length;
    RETURN NULL;
END
$$;

-- Decrements may land on another slot than the increments did: only the sums are meaningful.
CREATE FUNCTION unity_lexical_chunks_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lexical_postings p USING removed r WHERE p.chunk_id = r.chunk_id AND p.tenant_id = r.tenant_id;
    INSERT INTO lexical_statistics AS s (tenant_id, slot, chunk_count, body_length, heading_length)
    SELECT r.tenant_id, (pg_backend_pid() % 16)::smallint, -count(*), -sum(r.body_length), -sum(r.heading_length)
    FROM removed r
    -- A tenant being deleted takes its statistics with it; nothing to write back for it.
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = r.tenant_id)
    GROUP BY r.tenant_id
    ORDER BY r.tenant_id
    ON CONFLICT (tenant_id, slot) DO UPDATE
    SET chunk_count = s.chunk_count + EXCLUDED.chunk_count,
        body_length = s.body_length + EXCLUDED.body_length,
        heading_length = s.heading_length + EXCLUDED.heading_length;
    RETURN NULL;
END
$$;

-- A row rewritten in place (a backup restored over an older copy of the chunk) changes the lengths by the difference.
CREATE FUNCTION unity_lexical_chunks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lexical_statistics AS s (tenant_id, slot, chunk_count, body_length, heading_length)
    SELECT n.tenant_id, (pg_backend_pid() % 16)::smallint, 0, sum(n.body_length - o.body_length),
           sum(n.heading_length - o.heading_length)
    FROM changed_new n JOIN changed_old o ON o.chunk_id = n.chunk_id
    GROUP BY n.tenant_id
    ORDER BY n.tenant_id
    ON CONFLICT (tenant_id, slot) DO UPDATE
    SET body_length = s.body_length + EXCLUDED.body_length,
        heading_length = s.heading_length + EXCLUDED.heading_length;
    RETURN NULL;
END
$$;

CREATE TRIGGER lexical_chunks_changed AFTER UPDATE ON lexical_chunks
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION unity_lexical_chunks_changed();
CREATE TRIGGER lexical_chunks_added AFTER INSERT ON lexical_chunks
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION unity_lexical_chunks_added();
CREATE TRIGGER lexical_chunks_removed AFTER DELETE ON lexical_chunks
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION unity_lexical_chunks_removed();

-- Row-level security as for the other tenant tables (0008).
GRANT SELECT, INSERT, UPDATE, DELETE ON lexical_chunks, lexical_postings, lexical_statistics, lexical_settings
    TO unity_ai_request;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lexical_chunks', 'lexical_postings', 'lexical_statistics', 'lexical_settings'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO unity_ai_request '
                'USING (tenant_id = nullif(current_setting(''unity.tenant_id'', true), '''')::bigint) '
                'WITH CHECK (tenant_id = nullif(current_setting(''unity.tenant_id'', true), '''')::bigint)',
            t);
    END LOOP;
END
$$;

-- Chunks stored before this migration have no postings: their documents are indexed again on their next ingest,
-- because the chunker fingerprint now names the text search configuration.
