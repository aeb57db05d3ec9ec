-- The router's shared state: rate-limit windows, budgets, usage records and the response cache. Several appliance
-- instances on one database share these; nothing here lives only in one process.

-- Fixed rate-limit windows: instances claim requests from `used` in small leases (see docs/configuration.md).
CREATE TABLE rate_limit_windows (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    used          integer NOT NULL CHECK (used >= 0),
    -- What the latest claim was granted: computed in the same UPDATE from the old `used`, so it is exact
    -- however many instances claim at once.
    last_grant    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);

-- A tenant's spending per UTC day or month: reserved before a call (estimated), settled after (real).
CREATE TABLE tenant_budget_periods (
    tenant        text NOT NULL,
    period        text NOT NULL CHECK (period IN ('day', 'month')),
    period_start  timestamptz NOT NULL,
    reserved_usd  double precision NOT NULL DEFAULT 0 CHECK (reserved_usd >= 0),
    spent_usd     double precision NOT NULL DEFAULT 0 CHECK (spent_usd >= 0),
    PRIMARY KEY (tenant, period, period_start)
);

-- One row per routed request (written in batches off the response path).
CREATE TABLE usage_records (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at     timestamptz NOT NULL,
    tenant          text NOT NULL,
    provider        text NOT NULL,
    model           text NOT NULL,
    endpoint        text NOT NULL,
    input_tokens    integer NOT NULL,
    output_tokens   integer NOT NULL,
    cost_usd        double precision NOT NULL,
    latency_ms      double precision NOT NULL,
    cache_hit       boolean NOT NULL,
    fallbacks       integer NOT NULL,
    status          text NOT NULL,
    strategy        text
);

CREATE INDEX usage_records_tenant_time_idx ON usage_records (tenant, recorded_at);
CREATE INDEX usage_records_time_idx ON usage_records (recorded_at);

-- Exact-match response cache shared by instances; each keeps an LRU of its own in front.
CREATE TABLE response_cache (
    key         text PRIMARY KEY,
    tenant      text NOT NULL,
    answer      jsonb NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE INDEX response_cache_expiry_idx ON response_cache (expires_at);
