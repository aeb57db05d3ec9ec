-- One tenant identity, API keys, and row-level security.
--
-- 1. `tenants` is the one authority. The knowledge tables already refer to `tenants.id`; the router's tables and
--    `knowledge_items` name their tenant in text, and now refer to `tenants.name` by foreign key (names are unique
--    and never change: ON UPDATE CASCADE all the same). A name that is not yet a tenant is created on first use, as
--    before, by a trigger — so a client (or a plugin writing `knowledge_items`) naming a new tenant still works
--    when keys are off; a name that is not a valid tenant name is refused with the tenants table's CHECK.
--    Deleting a tenant deletes all of its data, router ledgers included (ON DELETE CASCADE everywhere).
-- 2. `api_keys`: only SHA-256 hashes of keys are stored.
-- 3. Row-level security as defence in depth: requests read tenant data as `unity_ai_request`, a role that is
--    neither superuser nor owner of any table, with the request's tenant in the per-transaction settings
--    `unity.tenant_id` and `unity.tenant`; the policies below show it that tenant's rows only, so a query that
--    forgets its tenant filter still cannot read another tenant's rows.

-- The names in use today become tenants (rows that predate this migration are carried over).
INSERT INTO tenants (name)
SELECT DISTINCT tenant FROM (
    SELECT tenant FROM usage_records
    UNION SELECT tenant FROM tenant_budget_periods
    UNION SELECT tenant FROM response_cache
    UNION SELECT tenant FROM knowledge_items
) AS named
WHERE tenant ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'
ON CONFLICT (name) DO NOTHING;

-- Rows whose tenant could never have been valid (the router has always refused such names) cannot refer to a
-- tenant; they are dropped rather than left dangling. Cached answers and budgets only; usage and knowledge items
-- with such names would have been refused on the way in.
DELETE FROM response_cache WHERE tenant !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
DELETE FROM tenant_budget_periods WHERE tenant !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

-- Looks first: an INSERT … ON CONFLICT DO NOTHING would draw an identity value on every usage record.
CREATE FUNCTION unity_ensure_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE name = NEW.tenant) THEN
        INSERT INTO tenants (name) VALUES (NEW.tenant) ON CONFLICT (name) DO NOTHING;
    END IF;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['usage_records', 'tenant_budget_periods', 'response_cache', 'knowledge_items'] LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (tenant) REFERENCES tenants (name) '
                'ON DELETE CASCADE ON UPDATE CASCADE',
            t, t || '_tenant_fkey');
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF tenant ON %I FOR EACH ROW EXECUTE FUNCTION unity_ensure_tenant()',
            t || '_ensure_tenant', t);
    END LOOP;
END
$$;

CREATE INDEX IF NOT EXISTS tenant_budget_periods_tenant_idx ON tenant_budget_periods (tenant);
CREATE INDEX IF NOT EXISTS response_cache_tenant_idx ON response_cache (tenant);
CREATE INDEX IF NOT EXISTS knowledge_items_tenant_idx ON knowledge_items (tenant);

-- API keys: `uai_` + 43 characters of base64url (32 random bytes). The id is the key's first 12 characters after
-- the prefix, shown in listings and logs; the key itself is never stored, only its SHA-256.
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    tenant_id     bigint REFERENCES tenants (id) ON DELETE CASCADE,
    -- An admin key reaches the operator endpoints and may act for any tenant; it belongs to no tenant.
    is_admin      boolean NOT NULL DEFAULT false,
    key_sha256    bytea NOT NULL UNIQUE CHECK (octet_length(key_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    CHECK (is_admin = (tenant_id IS NULL))
);

-- The request role. Roles belong to the whole PostgreSQL cluster, so several databases (and several instances
-- migrating at once) may meet one that exists already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'unity_ai_request') THEN
        CREATE ROLE unity_ai_request NOLOGIN NOSUPERUSER NOINHERIT NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The appliance's own user may switch to it (SET LOCAL ROLE) for a request's transaction.
DO $$
BEGIN
    EXECUTE format('GRANT unity_ai_request TO %I', current_user);
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO unity_ai_request;
GRANT SELECT ON tenants, embedding_models TO unity_ai_request;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, chunks, chunk_embeddings, usage_records, knowledge_items
    TO unity_ai_request;

-- Tables keyed by tenant id.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['documents', 'chunks', 'chunk_embeddings'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO unity_ai_request '
                'USING (tenant_id = nullif(current_setting(''unity.tenant_id'', true), '''')::bigint) '
                'WITH CHECK (tenant_id = nullif(current_setting(''unity.tenant_id'', true), '''')::bigint)',
            t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['usage_records', 'knowledge_items', 'tenant_budget_periods', 'response_cache'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO unity_ai_request '
                'USING (tenant = current_setting(''unity.tenant'', true)) '
                'WITH CHECK (tenant = current_setting(''unity.tenant'', true))',
            t);
    END LOOP;
END
$$;

-- The owner (the appliance's own connections outside a request scope, migrations, ingest, the router's batches)
-- is not subject to these policies: PostgreSQL applies row-level security to other roles only, unless FORCE is
-- set, which it is not. So only what runs as unity_ai_request is confined.
