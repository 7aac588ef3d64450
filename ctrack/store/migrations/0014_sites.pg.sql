-- ctrack schema, version 14, on PostgreSQL: sites (see 0014_sites.sql for the why): 0010's
-- roll-ups and rollup_call with the site added to every key.
ALTER TABLE calls ADD COLUMN site text NOT NULL DEFAULT '';
CREATE INDEX calls_site_started ON calls(site, started_at);

ALTER TABLE daily_rollup ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE daily_rollup DROP CONSTRAINT daily_rollup_pkey, ADD PRIMARY KEY (day, site, source, channel, lead_status);
ALTER TABLE hourly_rollup ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE hourly_rollup DROP CONSTRAINT hourly_rollup_pkey, ADD PRIMARY KEY (day, site, hour, lead_status);

CREATE OR REPLACE FUNCTION rollup_call(c calls, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local double precision := c.started_at + coalesce(
        (SELECT offset_seconds FROM tz_offsets WHERE start_at <= c.started_at ORDER BY start_at DESC LIMIT 1), 0);
    d bigint := trunc(local / 86400);
    h bigint := trunc(local / 3600)::bigint % 24;
    status text := coalesce(c.lead_status, '');
    is_missed integer := CASE WHEN c.disposition IN ('missed', 'busy', 'failed', 'voicemail') THEN 1 ELSE 0 END;
BEGIN
    INSERT INTO daily_rollup AS r(day, site, source, channel, lead_status, calls, answered, missed, abandoned,
                                  first_time, talk_seconds, value)
    VALUES (d, c.site, coalesce(c.source, ''), coalesce(c.channel, ''), status, sign,
            sign * (CASE WHEN c.disposition = 'answered' THEN 1 ELSE 0 END), sign * is_missed,
            sign * (CASE WHEN c.disposition = 'abandoned' THEN 1 ELSE 0 END),
            sign * (CASE WHEN c.first_time = 1 THEN 1 ELSE 0 END), sign * coalesce(c.talk_seconds, 0),
            sign * coalesce(c.value, 0))
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = r.calls + excluded.calls, answered = r.answered + excluded.answered,
        missed = r.missed + excluded.missed, abandoned = r.abandoned + excluded.abandoned,
        first_time = r.first_time + excluded.first_time, talk_seconds = r.talk_seconds + excluded.talk_seconds,
        value = r.value + excluded.value;
    INSERT INTO hourly_rollup AS r(day, site, hour, lead_status, calls, missed)
    VALUES (d, c.site, h, status, sign, sign * is_missed)
    ON CONFLICT (day, site, hour, lead_status) DO UPDATE SET
        calls = r.calls + excluded.calls, missed = r.missed + excluded.missed;
END $$;

DROP TRIGGER calls_rollup_update ON calls;
CREATE TRIGGER calls_rollup_update
    AFTER UPDATE OF started_at, site, source, channel, disposition, talk_seconds, first_time, lead_status, value
    ON calls FOR EACH ROW EXECUTE FUNCTION calls_rollup();
