-- Plugin metrics as an ingest source: plugin_metrics rows are summarised per plugin, host and window (hour, UTC day)
-- into documents. Triggers mark the windows that new rows touch, so a sync reads only those windows' rows: a
-- closed window is summarised once, the open one again whenever rows arrive in it. Deleting old plugin_metrics
-- rows (retention) marks nothing: the summaries outlive the raw rows.

-- Orders changes, as knowledge_item_change_seq does: a window whose number moved while a sync worked stays marked.
CREATE SEQUENCE plugin_metric_change_seq;

-- One row per plugin, host and UTC hour that has rows. `change_seq` moves with every statement that writes rows
-- in the hour; `summarised_seq` is the change the stored statistics cover. `series` holds each series' mergeable
-- statistics (count, min, max, sum, first, last, regression sums, threshold crossings) as JSON, so that a day is
-- summarised from its hours without reading their rows again.
CREATE TABLE plugin_metric_hours (
    plugin          text NOT NULL,
    -- plugin_metrics.host, '' where it is NULL.
    host            text NOT NULL,
    hour            timestamptz NOT NULL,
    change_seq      bigint NOT NULL DEFAULT nextval('plugin_metric_change_seq'),
    summarised_seq  bigint,
    series          jsonb,
    PRIMARY KEY (plugin, hour, host)
);

-- The claim queue: one row per plugin and UTC day with hours to summarise. A sync claims a whole plugin-day, so the
-- day's documents and its ranking across hosts are written by one instance at a time; the row is removed by the
-- sync that stored the change it read.
CREATE TABLE plugin_metric_days (
    plugin         text NOT NULL,
    day            timestamptz NOT NULL,
    change_seq     bigint NOT NULL DEFAULT nextval('plugin_metric_change_seq'),
    claimed_by     text,
    claimed_until  timestamptz,
    PRIMARY KEY (plugin, day)
);

CREATE INDEX plugin_metric_days_change_idx ON plugin_metric_days (change_seq);

-- A window's rows are read by plugin, host and time.
CREATE INDEX IF NOT EXISTS plugin_metrics_plugin_host_time_idx
    ON plugin_metrics (plugin, (coalesce(host, '')), collected_at);

-- One INSERT … SELECT per statement (transition tables), whatever the number of rows. An UPDATE marks the windows
-- its rows left as well as those they moved to.
CREATE FUNCTION plugin_metrics_mark_windows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO plugin_metric_hours (plugin, host, hour)
        SELECT DISTINCT plugin, coalesce(host, ''), date_trunc('hour', collected_at, 'UTC')
        FROM (SELECT plugin, host, collected_at FROM old_rows UNION ALL SELECT plugin, host, collected_at FROM new_rows) r
        ON CONFLICT (plugin, hour, host) DO UPDATE SET change_seq = nextval('plugin_metric_change_seq');
        INSERT INTO plugin_metric_days (plugin, day)
        SELECT DISTINCT plugin, date_trunc('day', collected_at, 'UTC')
        FROM (SELECT plugin, collected_at FROM old_rows UNION ALL SELECT plugin, collected_at FROM new_rows) r
        ON CONFLICT (plugin, day) DO UPDATE SET change_seq = nextval('plugin_metric_change_seq');
    ELSE
        INSERT INTO plugin_metric_hours (plugin, host, hour)
        SELECT DISTINCT plugin, coalesce(host, ''), date_trunc('hour', collected_at, 'UTC') FROM new_rows
        ON CONFLICT (plugin, hour, host) DO UPDATE SET change_seq = nextval('plugin_metric_change_seq');
        INSERT INTO plugin_metric_days (plugin, day)
        SELECT DISTINCT plugin, date_trunc('day', collected_at, 'UTC') FROM new_rows
        ON CONFLICT (plugin, day) DO UPDATE SET change_seq = nextval('plugin_metric_change_seq');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER plugin_metrics_mark_insert AFTER INSERT ON plugin_metrics
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION plugin_metrics_mark_windows();
CREATE TRIGGER plugin_metrics_mark_update AFTER UPDATE ON plugin_metrics
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION plugin_metrics_mark_windows();

-- Rows that exist already: their windows are marked once, so the first sync summarises them.
INSERT INTO plugin_metric_hours (plugin, host, hour)
SELECT DISTINCT plugin, coalesce(host, ''), date_trunc('hour', collected_at, 'UTC') FROM plugin_metrics
ON CONFLICT DO NOTHING;
INSERT INTO plugin_metric_days (plugin, day)
SELECT DISTINCT plugin, date_trunc('day', collected_at, 'UTC') FROM plugin_metrics
ON CONFLICT DO NOTHING;
