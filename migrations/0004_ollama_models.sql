-- The Ollama models the appliance has seen on each endpoint, refreshed by the scheduler's `model_refresh` job and on
-- demand. A model that disappears is marked gone (gone_at), not forgotten.
CREATE TABLE ollama_models (
    endpoint        text NOT NULL,
    name            text NOT NULL,
    digest          text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    family          text,
    quantization    text,
    parameter_size  text,
    context_length  integer,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    loaded          boolean NOT NULL DEFAULT false,
    expires_at      timestamptz,
    gone_at         timestamptz,
    PRIMARY KEY (endpoint, name)
);
