-- ctrack schema, version 3, on PostgreSQL: report roll-ups, conversion outbox events,
-- dashboard users (see 0003_reports.sql for the why). The SQLite triggers' rules, in
-- PL/pgSQL: a call's local day and hour from tz_offsets, counted into daily_rollup and
-- hourly_rollup on insert, taken out on delete, moved on an update of what they count.

CREATE TABLE report_timezone (
    id    bigint PRIMARY KEY CHECK (id = 1),
    name  text NOT NULL
);
INSERT INTO report_timezone(id, name) VALUES (1, '');

CREATE TABLE tz_offsets (
    start_at        double precision PRIMARY KEY,
    offset_seconds  bigint NOT NULL
);
INSERT INTO tz_offsets(start_at, offset_seconds) VALUES (-1e18, 0);

CREATE TABLE daily_rollup (
    day           bigint NOT NULL,
    source        text NOT NULL,
    channel       text NOT NULL,
    calls         bigint NOT NULL DEFAULT 0,
    answered      bigint NOT NULL DEFAULT 0,
    missed        bigint NOT NULL DEFAULT 0,
    abandoned     bigint NOT NULL DEFAULT 0,
    first_time    bigint NOT NULL DEFAULT 0,
    qualified     bigint NOT NULL DEFAULT 0,
    talk_seconds  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, source, channel)
);

CREATE TABLE hourly_rollup (
    day     bigint NOT NULL,
    hour    bigint NOT NULL,
    calls   bigint NOT NULL DEFAULT 0,
    missed  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, hour)
);

-- sign = 1 counts a call in, -1 takes it out (a taken-out call's rows always exist).
CREATE FUNCTION rollup_call(c calls, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local double precision := c.started_at + coalesce(
        (SELECT offset_seconds FROM tz_offsets WHERE start_at <= c.started_at ORDER BY start_at DESC LIMIT 1), 0);
    d bigint := trunc(local / 86400);
    h bigint := trunc(local / 3600)::bigint % 24;
    is_missed integer := CASE WHEN c.disposition IN ('missed', 'busy', 'failed', 'voicemail') THEN 1 ELSE 0 END;
BEGIN
    INSERT INTO daily_rollup AS r(day, source, channel, calls, answered, missed, abandoned, first_time,
                                  qualified, talk_seconds)
    VALUES (d, coalesce(c.source, ''), coalesce(c.channel, ''), sign,
            sign * (CASE WHEN c.disposition = 'answered' THEN 1 ELSE 0 END), sign * is_missed,
            sign * (CASE WHEN c.disposition = 'abandoned' THEN 1 ELSE 0 END),
            sign * (CASE WHEN c.first_time = 1 THEN 1 ELSE 0 END), sign * (CASE WHEN c.qualified = 1 THEN 1 ELSE 0 END),
            sign * coalesce(c.talk_seconds, 0))
    ON CONFLICT (day, source, channel) DO UPDATE SET
        calls = r.calls + excluded.calls, answered = r.answered + excluded.answered,
        missed = r.missed + excluded.missed, abandoned = r.abandoned + excluded.abandoned,
        first_time = r.first_time + excluded.first_time, qualified = r.qualified + excluded.qualified,
        talk_seconds = r.talk_seconds + excluded.talk_seconds;
    INSERT INTO hourly_rollup AS r(day, hour, calls, missed) VALUES (d, h, sign, sign * is_missed)
    ON CONFLICT (day, hour) DO UPDATE SET calls = r.calls + excluded.calls, missed = r.missed + excluded.missed;
END $$;

CREATE FUNCTION calls_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rollup_call(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM rollup_call(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_rollup_insert AFTER INSERT OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_rollup();
CREATE TRIGGER calls_rollup_update
    AFTER UPDATE OF started_at, source, channel, disposition, talk_seconds, first_time, qualified ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_rollup();

-- A qualified call leaves one 'qualified' event in the outbox, in the same transaction.
CREATE FUNCTION calls_qualified() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox(kind, call_id, target, payload) VALUES ('qualified', NEW.id, '', '')
    ON CONFLICT (kind, call_id, target) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_qualified_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.qualified = 1) EXECUTE FUNCTION calls_qualified();
CREATE TRIGGER calls_qualified_update AFTER UPDATE OF qualified ON calls
    FOR EACH ROW WHEN (NEW.qualified = 1 AND OLD.qualified = 0) EXECUTE FUNCTION calls_qualified();

ALTER TABLE outbox ADD COLUMN gave_up_at double precision;
CREATE INDEX outbox_call ON outbox(call_id);

CREATE INDEX calls_conversions ON calls(started_at) WHERE qualified = 1 AND gclid IS NOT NULL;

CREATE TABLE dashboard_users (
    name           text PRIMARY KEY,
    password_hash  text NOT NULL,
    created_at     double precision NOT NULL DEFAULT unix_now(),
    changed_at     double precision NOT NULL DEFAULT unix_now()
);

CREATE TABLE app_secrets (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
