-- The router's per-request ledgers run in the request's tenant scope (migration 0008): a cached answer is read and
-- written, and a budget reserved and settled, as `unity_ai_request` with the tenant's name in `unity.tenant`, so
-- the row-level security policies of 0008 confine them to that tenant.
--
-- Left to the appliance's own role, deliberately: `rate_limit_windows` (shared counters keyed by scope, no tenant
-- rows to read), the usage writer (a background batch that mixes tenants) and housekeeping (expiry across tenants).
GRANT SELECT, INSERT, UPDATE ON tenant_budget_periods, response_cache TO unity_ai_request;

-- A budget or cached answer may be the first row to name a tenant (with keys off, any valid name is a tenant on
-- first use): the trigger that creates it must insert into `tenants`, which the request role may only read. It runs
-- as its owner, with the search path fixed to the schemas it was created in (plus pg_temp last), as PostgreSQL
-- advises for SECURITY DEFINER functions.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION unity_ensure_tenant() SECURITY DEFINER SET search_path = %s',
        (SELECT string_agg(quote_ident(schema), ', ') FROM unnest(current_schemas(false)) AS schema) || ', pg_temp');
END
$$;
