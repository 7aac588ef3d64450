-- ctrack schema, version 3: report roll-ups, conversion outbox events, dashboard users.
--
-- Reports read per-day roll-ups instead of scanning the call log, so they stay fast on
-- millions of calls. Triggers keep the roll-ups exact whatever writes a call (AMI, CDR
-- backstop, ESL, a later repeat-caller fix-up). A call's local day and hour come from
-- tz_offsets, the UTC offsets of the report time zone (report_timezone); when the
-- configured zone changes, ctrack/store/rollups.py rewrites both tables and the roll-ups.
-- The triggers use no INSERT OR / UPSERT, so no conflict policy of the statement that
-- saves the call can change what they do, and they never fail a call save.

CREATE TABLE report_timezone (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    name  TEXT NOT NULL                          -- '' until the first report rebuilds
);
INSERT INTO report_timezone(id, name) VALUES (1, '');

CREATE TABLE tz_offsets (
    start_at        REAL PRIMARY KEY,            -- unix seconds from which the offset holds
    offset_seconds  INTEGER NOT NULL
);
INSERT INTO tz_offsets(start_at, offset_seconds) VALUES (-1e18, 0);

-- day = days since 1970-01-01 in the report time zone; source/channel '' = unattributed.
CREATE TABLE daily_rollup (
    day           INTEGER NOT NULL,
    source        TEXT NOT NULL,
    channel       TEXT NOT NULL,
    calls         INTEGER NOT NULL DEFAULT 0,
    answered      INTEGER NOT NULL DEFAULT 0,
    missed        INTEGER NOT NULL DEFAULT 0,   -- missed, busy, failed, voicemail
    abandoned     INTEGER NOT NULL DEFAULT 0,
    first_time    INTEGER NOT NULL DEFAULT 0,
    qualified     INTEGER NOT NULL DEFAULT 0,
    talk_seconds  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, source, channel)
) WITHOUT ROWID;

CREATE TABLE hourly_rollup (
    day     INTEGER NOT NULL,
    hour    INTEGER NOT NULL,                    -- 0..23, local
    calls   INTEGER NOT NULL DEFAULT 0,
    missed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, hour)
) WITHOUT ROWID;

CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO daily_rollup(day, source, channel)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           coalesce(NEW.source, ''), coalesce(NEW.channel, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup
        WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
          AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        qualified = qualified + (NEW.qualified IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '');

    INSERT INTO hourly_rollup(day, hour)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup
        WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
          AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24);
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24;
END;

CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls
BEGIN
    UPDATE daily_rollup SET
        calls = calls - 1,
        answered = answered - (OLD.disposition IS 'answered'),
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned - (OLD.disposition IS 'abandoned'),
        first_time = first_time - (OLD.first_time IS 1),
        qualified = qualified - (OLD.qualified IS 1),
        talk_seconds = talk_seconds - coalesce(OLD.talk_seconds, 0)
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24;
END;

CREATE TRIGGER calls_rollup_update
AFTER UPDATE OF started_at, source, channel, disposition, talk_seconds, first_time, qualified ON calls
BEGIN
    UPDATE daily_rollup SET
        calls = calls - 1,
        answered = answered - (OLD.disposition IS 'answered'),
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned - (OLD.disposition IS 'abandoned'),
        first_time = first_time - (OLD.first_time IS 1),
        qualified = qualified - (OLD.qualified IS 1),
        talk_seconds = talk_seconds - coalesce(OLD.talk_seconds, 0)
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24;

    INSERT INTO daily_rollup(day, source, channel)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           coalesce(NEW.source, ''), coalesce(NEW.channel, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup
        WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
          AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        qualified = qualified + (NEW.qualified IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '');

    INSERT INTO hourly_rollup(day, hour)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup
        WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
          AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24);
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24;
END;

-- A qualified call leaves one 'qualified' event in the outbox, in the same transaction as
-- the call; the sender fans it out to GA4 and the webhooks configured at that time.
CREATE TRIGGER calls_qualified_insert AFTER INSERT ON calls WHEN NEW.qualified = 1
BEGIN
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;

CREATE TRIGGER calls_qualified_update AFTER UPDATE OF qualified ON calls
WHEN NEW.qualified = 1 AND OLD.qualified = 0
BEGIN
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;

-- An event that will never be sent (expired, or its target was unconfigured) keeps its
-- last error and leaves the queue.
ALTER TABLE outbox ADD COLUMN gave_up_at REAL;
CREATE INDEX outbox_call ON outbox(call_id);

-- Google Ads conversions: qualified calls with a click id, found without a scan.
CREATE INDEX calls_conversions ON calls(started_at) WHERE qualified = 1 AND gclid IS NOT NULL;

CREATE TABLE dashboard_users (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,                -- scrypt$n$r$p$salt$hash
    created_at     REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    changed_at     REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

-- Secrets ctrack makes for itself (the dashboard's session signing key).
CREATE TABLE app_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
