-- The scheduler's run history, and the once-per-cluster claim of each slot: instances that share this database run
-- each (job, slot) at most once, because only one INSERT of the pair succeeds.
CREATE TABLE job_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text NOT NULL,
    -- The scheduled instant this run is for (UTC); a manual run's slot is the moment it was asked for.
    slot         timestamptz NOT NULL,
    manual       boolean NOT NULL DEFAULT false,
    -- Which process ran it: host name and process id.
    instance     text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'abandoned', 'skipped')),
    summary      text,
    error        text,
    UNIQUE (job, slot)
);

CREATE INDEX job_runs_job_started ON job_runs (job, started_at DESC);
