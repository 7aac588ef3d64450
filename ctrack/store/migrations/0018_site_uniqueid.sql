-- ctrack schema, version 18: a call is unique per site and PBX uniqueid, not per uniqueid.
--
-- Two PBX sites on one PostgreSQL may hand out the same uniqueid (two Asterisk with one
-- systemname, or none, number their channels alike; two FreeSWITCH could in theory draw one
-- UUID): keyed by uniqueid alone, the second site's call would be taken for a repeat of the
-- first and dropped. The call log's key becomes (site, uniqueid): the live save, the spool
-- replay and the CDR backstop all look a call up by both.
--
-- SQLite cannot drop a column's UNIQUE constraint, so calls is rebuilt (the 12 steps of
-- https://www.sqlite.org/lang_altertable.html, with foreign keys off while the migration runs:
-- db.upgrade does that and checks them before it commits). Every row keeps its id, so the
-- tables that point at calls (transcripts, tags, changes, outbox) and the transcript search
-- (its rowid is the call's id) stay linked; the indexes and triggers dropped with the old
-- table are created again as they were. The roll-ups are untouched (the same rows move).
-- The upgrade copies calls once: on a large SQLite file it takes a while and needs that much
-- free disk space again.
--
-- open_calls (version 16) gains the site too: on one PostgreSQL each site's daemon restores and
-- sweeps only the calls its own PBX left open.

CREATE TABLE calls_per_site (
    id              INTEGER PRIMARY KEY,
    uniqueid        TEXT NOT NULL,                     -- inbound channel's uniqueid / FreeSWITCH UUID; unique per site
    pbx             TEXT NOT NULL DEFAULT 'asterisk',
    tracking_number TEXT,
    caller_number   TEXT,
    caller_name     TEXT,
    source          TEXT,
    channel         TEXT,
    started_at      REAL NOT NULL,
    answered_at     REAL,
    ended_at        REAL,
    ring_seconds    INTEGER,
    talk_seconds    INTEGER NOT NULL DEFAULT 0,
    disposition     TEXT CHECK (disposition IN ('answered', 'missed', 'abandoned', 'busy', 'failed', 'voicemail', 'pbx_answered')),
    hangup_cause    INTEGER,
    first_time      INTEGER,
    recording       TEXT,
    visit_id        TEXT REFERENCES visits(id),
    visit_ambiguous INTEGER NOT NULL DEFAULT 0,
    keyword         TEXT,
    landing_page    TEXT,
    gclid           TEXT,
    ga_client_id    TEXT,
    transcript      TEXT,
    value           REAL,
    origin          TEXT NOT NULL DEFAULT 'ami' CHECK (origin IN ('ami', 'cdr', 'esl')),
    created_at      REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
, ended_by TEXT, caller_anonymous INTEGER NOT NULL DEFAULT 0, consent_played INTEGER, consent_reason TEXT, lead_status TEXT CHECK (lead_status IN ('lead', 'not_lead', 'spam')), note TEXT, marked_by TEXT, marked_at REAL, spam_reason TEXT CHECK (spam_reason IN ('blocked', 'repeat', 'anonymous')), pool_region TEXT, site TEXT NOT NULL DEFAULT '', queue_wait_seconds INTEGER, voicemail_seconds INTEGER, answered_by TEXT);
INSERT INTO calls_per_site(id, uniqueid, pbx, tracking_number, caller_number, caller_name, source, channel, started_at, answered_at, ended_at, ring_seconds, talk_seconds, disposition, hangup_cause, first_time, recording, visit_id, visit_ambiguous, keyword, landing_page, gclid, ga_client_id, transcript, value, origin, created_at, ended_by, caller_anonymous, consent_played, consent_reason, lead_status, note, marked_by, marked_at, spam_reason, pool_region, site, queue_wait_seconds, voicemail_seconds, answered_by)
SELECT id, uniqueid, pbx, tracking_number, caller_number, caller_name, source, channel, started_at, answered_at, ended_at, ring_seconds, talk_seconds, disposition, hangup_cause, first_time, recording, visit_id, visit_ambiguous, keyword, landing_page, gclid, ga_client_id, transcript, value, origin, created_at, ended_by, caller_anonymous, consent_played, consent_reason, lead_status, note, marked_by, marked_at, spam_reason, pool_region, site, queue_wait_seconds, voicemail_seconds, answered_by FROM calls;
DROP TABLE calls;
ALTER TABLE calls_per_site RENAME TO calls;
CREATE UNIQUE INDEX calls_site_uniqueid ON calls(site, uniqueid);

-- The indexes and triggers of calls as versions 1-17 left them.
CREATE INDEX calls_started ON calls(started_at);
CREATE INDEX calls_source_started ON calls(source, started_at);
CREATE INDEX calls_caller_started ON calls(caller_number, started_at);
CREATE INDEX calls_tracking_started ON calls(tracking_number, started_at);
CREATE INDEX calls_lead_status_started ON calls(lead_status, started_at);
CREATE INDEX calls_gclid_started ON calls(started_at) WHERE gclid IS NOT NULL;
CREATE INDEX calls_site_started ON calls(site, started_at);

CREATE TRIGGER transcript_job_on_insert AFTER INSERT ON calls
WHEN NEW.recording IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO transcript_jobs(call_id) VALUES (NEW.id);
END;

CREATE TRIGGER transcript_job_on_recording AFTER UPDATE OF recording ON calls
WHEN NEW.recording IS NOT NULL AND OLD.recording IS NULL
BEGIN
    INSERT OR IGNORE INTO transcript_jobs(call_id) VALUES (NEW.id);
END;

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

CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO daily_rollup(day, site, source, channel, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0),
        value = value + coalesce(NEW.value, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, '');
    INSERT INTO hourly_rollup(day, site, hour, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER), NEW.site, CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24, coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, '');
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
      AND site = OLD.site AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '') AND lead_status = coalesce(OLD.lead_status, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = OLD.site AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(OLD.lead_status, '');
END;

CREATE TRIGGER calls_rollup_update
AFTER UPDATE OF started_at, site, source, channel, disposition, talk_seconds, first_time, lead_status, value ON calls
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
      AND site = OLD.site AND source = coalesce(OLD.source, '') AND channel = coalesce(OLD.channel, '') AND lead_status = coalesce(OLD.lead_status, '');
    UPDATE hourly_rollup SET
        calls = calls - 1,
        missed = missed - (coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = OLD.site AND hour = CAST((OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(OLD.lead_status, '');
    INSERT INTO daily_rollup(day, site, source, channel, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER),
           NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM daily_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE daily_rollup SET
        calls = calls + 1,
        answered = answered + (NEW.disposition IS 'answered'),
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0)),
        abandoned = abandoned + (NEW.disposition IS 'abandoned'),
        first_time = first_time + (NEW.first_time IS 1),
        talk_seconds = talk_seconds + coalesce(NEW.talk_seconds, 0),
        value = value + coalesce(NEW.value, 0)
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND source = coalesce(NEW.source, '') AND channel = coalesce(NEW.channel, '') AND lead_status = coalesce(NEW.lead_status, '');
    INSERT INTO hourly_rollup(day, site, hour, lead_status)
    SELECT CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER), NEW.site, CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24, coalesce(NEW.lead_status, '')
    WHERE NOT EXISTS (SELECT 1 FROM hourly_rollup WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, ''));
    UPDATE hourly_rollup SET
        calls = calls + 1,
        missed = missed + (coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0))
    WHERE day = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 86400 AS INTEGER)
      AND site = NEW.site AND hour = CAST((NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0)) / 3600 AS INTEGER) % 24 AND lead_status = coalesce(NEW.lead_status, '');
END;

CREATE TABLE open_calls_per_site (
    site TEXT NOT NULL DEFAULT '',     -- [ctrack] site of the daemon whose PBX has the call
    linkedid TEXT NOT NULL,            -- the call: every channel of it shares this
    uniqueid TEXT NOT NULL,            -- its inbound leg, the calls.uniqueid it is saved as
    started_at REAL,
    answered_at REAL,
    last_event_at REAL NOT NULL,       -- when an event last changed what ctrack knows of it
    seen_at REAL NOT NULL,             -- the last moment ctrack knew it up (AMI connected)
    state TEXT NOT NULL,               -- JSON: all the tracker knows (dial state, route variables)
    PRIMARY KEY (site, linkedid)
);
INSERT INTO open_calls_per_site(site, linkedid, uniqueid, started_at, answered_at, last_event_at, seen_at, state)
SELECT '', linkedid, uniqueid, started_at, answered_at, last_event_at, seen_at, state FROM open_calls;
DROP TABLE open_calls;
ALTER TABLE open_calls_per_site RENAME TO open_calls;
