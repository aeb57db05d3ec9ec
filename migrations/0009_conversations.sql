-- Conversations of POST /api/rag/chat: one row per conversation, one per message, each owned by a tenant.
-- Ids are UUIDs made by the application, so an exported conversation keeps its id wherever it is imported
-- (and importing it twice finds it the second time).

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The first question, cut short: what a list of conversations shows.
    title       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Moves with every message: lists show the most recent conversation first.
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The list's order and its cursor: (updated_at, id) descending, per tenant.
CREATE INDEX conversations_tenant_updated_idx ON conversations (tenant_id, updated_at DESC, id DESC);

CREATE TABLE conversation_messages (
    id               uuid PRIMARY KEY,
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Denormalised from conversations so that every query (and row-level policy) filters by tenant without a join.
    tenant_id        bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Position in the conversation, from 0; a question and its answer take two consecutive places.
    ordinal          integer NOT NULL CHECK (ordinal >= 0),
    role             text NOT NULL CHECK (role IN ('user', 'assistant')),
    content          text NOT NULL,
    -- Assistant messages: the validated citations ([{n, source, chunk_id, heading, score, snippet}]).
    citations        jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- User messages: the standalone question retrieval used, when history changed it.
    standalone_question text,
    -- Assistant messages: who answered, what it used and cost.
    provider         text,
    model            text,
    input_tokens     integer CHECK (input_tokens >= 0),
    output_tokens    integer CHECK (output_tokens >= 0),
    cost_usd         double precision CHECK (cost_usd >= 0),
    -- The answer stopped before its end (the client went away, or the provider failed midway).
    partial          boolean NOT NULL DEFAULT false,
    -- Assistant messages: the answer was grounded in a private document, so later turns that send it back to a
    -- model (as history) must stay on a local provider too.
    private          boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, ordinal)
);

CREATE INDEX conversation_messages_tenant_idx ON conversation_messages (tenant_id);

-- Row-level security as for the knowledge tables (0008): the request role sees one tenant's conversations.
GRANT SELECT, INSERT, UPDATE, DELETE ON conversations, conversation_messages TO unity_ai_request;
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversation_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversations TO unity_ai_request
    USING (tenant_id = nullif(current_setting('unity.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = nullif(current_setting('unity.tenant_id', true), '')::bigint);
CREATE POLICY tenant_isolation ON conversation_messages TO unity_ai_request
    USING (tenant_id = nullif(current_setting('unity.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = nullif(current_setting('unity.tenant_id', true), '')::bigint);
