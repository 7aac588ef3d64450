-- ctrack schema, version 10: which calls were leads, what they were worth, and who said so.
--
-- lead_status: 'lead', 'not_lead' or 'spam'; NULL = not decided yet (no rule matched, no
-- person marked it). Spam calls are left out of reports and conversions by default.
ALTER TABLE calls ADD COLUMN lead_status TEXT CHECK (lead_status IN ('lead', 'not_lead', 'spam'));
CREATE INDEX calls_lead_status_started ON calls(lead_status, started_at);

-- value (calls.value, from 0001) is an amount in [conversions] currency; note is free text.
-- marked_by/marked_at: the person (cli:USER, dashboard:USER) or system (spam) who last
-- marked the call; once set, rules never change the call again (a person's mark wins).
ALTER TABLE calls ADD COLUMN note TEXT;
ALTER TABLE calls ADD COLUMN marked_by TEXT;
ALTER TABLE calls ADD COLUMN marked_at REAL;

-- Tags: many per call, in their own table (calls.tags from 0001 was never written: dropped).
CREATE TABLE call_tags (
    call_id  INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    tag      TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (call_id, tag)
) WITHOUT ROWID;
CREATE INDEX call_tags_tag ON call_tags(tag, call_id);
ALTER TABLE calls DROP COLUMN tags;

-- The audit trail: one row per field a person or a rule changed. who = cli:USER,
-- dashboard:USER, rule:ID or another system's name; old/new are JSON.
CREATE TABLE call_changes (
    id       INTEGER PRIMARY KEY,
    call_id  INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    at       REAL NOT NULL,
    who      TEXT NOT NULL,
    field    TEXT NOT NULL CHECK (field IN ('lead_status', 'tags', 'value', 'note')),
    old      TEXT,
    new      TEXT
);
CREATE INDEX call_changes_call ON call_changes(call_id, id);

-- The rules, run in position order when a call is saved and again when its transcript
-- arrives. The first is today's behaviour: answered and talked [calls] qualified_seconds.
CREATE TABLE lead_rules (
    id          INTEGER PRIMARY KEY,
    position    INTEGER NOT NULL,
    condition   TEXT NOT NULL,
    actions     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
INSERT INTO lead_rules(position, condition, actions, created_by)
VALUES (1, 'answered and talk_seconds >= qualified_seconds', 'lead', 'ctrack');

-- "qualified" becomes lead_status = 'lead': existing qualified calls are leads.
UPDATE calls SET lead_status = 'lead' WHERE qualified = 1 AND lead_status IS NULL;
DROP TRIGGER calls_rollup_insert;
DROP TRIGGER calls_rollup_delete;
DROP TRIGGER calls_rollup_update;
DROP TRIGGER calls_qualified_insert;
DROP TRIGGER calls_qualified_update;
DROP INDEX calls_conversions;
ALTER TABLE calls DROP COLUMN qualified;
-- A call that becomes a lead leaves one 'qualified' event in the outbox (as in 0003).
CREATE TRIGGER calls_lead_insert AFTER INSERT ON calls WHEN NEW.lead_status = 'lead'
BEGIN
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;

CREATE TRIGGER calls_lead_update AFTER UPDATE OF lead_status ON calls
WHEN NEW.lead_status = 'lead' AND OLD.lead_status IS NOT 'lead'
BEGIN
    -- a call first taken for spam or not a lead and then marked a lead gets its event back
    UPDATE outbox SET gave_up_at = NULL, last_error = NULL
    WHERE kind = 'qualified' AND call_id = NEW.id AND target = '' AND sent_at IS NULL;
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;

-- Roll-ups keyed by lead status too ('' = undecided), with the calls' value: reports count
-- leads, leave spam out and sum value without scanning the call log.
DROP TABLE daily_rollup;
DROP TABLE hourly_rollup;
CREATE TABLE daily_rollup (
    day           INTEGER NOT NULL,
    source        TEXT NOT NULL,
    channel       TEXT NOT NULL,
    lead_status   TEXT NOT NULL,
    calls         INTEGER NOT NULL DEFAULT 0,
    answered      INTEGER NOT NULL DEFAULT 0,
    missed        INTEGER NOT NULL DEFAULT 0,   -- missed, busy, failed, voicemail
    abandoned     INTEGER NOT NULL DEFAULT 0,
    first_time    INTEGER NOT NULL DEFAULT 0,
    talk_seconds  INTEGER NOT NULL DEFAULT 0,
    value         REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, source, channel, lead_status)
) WITHOUT ROWID;
CREATE TABLE hourly_rollup (
    day          INTEGER NOT NULL,
    hour         INTEGER NOT NULL,                    -- 0..23, local
    lead_status  TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,
    missed       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, hour, lead_status)
) WITHOUT ROWID;
-- Filled on the next report (ctrack/reports/rollups.py rebuilds when the zone is not theirs).
UPDATE report_timezone SET name = '' WHERE id = 1;

-- @generated from here by the roll-up shape above (same triggers as 0003, keyed by lead status too)
CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO daily_rollup(day, source, channel, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0),
        value = value + coalesce(NEW.value, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, '');
    INSERT INTO hourly_rollup(day, hour, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER), CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24, coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, '');
END;

CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls
BEGIN
    UPDATE daily_rollup SET
        calls = calls - 1,
        answered = answered - (OLD.disposition IS 'answered'),
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned - (OLD.disposition IS 'abandoned'),
        first_time = first_time - (OLD.first_time IS 1),
        talk_seconds = talk_seconds - coalesce(OLD.talk_seconds, 0),
        value = value - coalesce(OLD.value, 0)
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '') AND lead_status = coalesce(OLD.lead_status, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(OLD.lead_status, '');
END;

CREATE TRIGGER calls_rollup_update
AFTER UPDATE OF started_at, source, channel, disposition, talk_seconds, first_time, lead_status, value ON calls
BEGIN
    UPDATE daily_rollup SET
        calls = calls - 1,
        answered = answered - (OLD.disposition IS 'answered'),
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned - (OLD.disposition IS 'abandoned'),
        first_time = first_time - (OLD.first_time IS 1),
        talk_seconds = talk_seconds - coalesce(OLD.talk_seconds, 0),
        value = value - coalesce(OLD.value, 0)
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '') AND lead_status = coalesce(OLD.lead_status, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(OLD.lead_status, '');
    INSERT INTO daily_rollup(day, source, channel, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0),
        value = value + coalesce(NEW.value, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, '');
    INSERT INTO hourly_rollup(day, hour, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER), CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24, coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, '');
END;
