-- ctrack schema, version 14: sites. Several PBX sites (each daemon's [ctrack] site) write
-- into one database; every call carries the site that recorded it ('' = a one-site
-- deployment, and every call before this version), and the report roll-ups are kept per
-- site, so reports show one site or, summed, all of them (the default).
--
-- The roll-ups are 0010's (keyed by lead status, with the calls' value) with the site added,
-- and their triggers are 0010's with the site added (and the PL/pgSQL rollup_call in
-- 0014_sites.pg.sql): a migration that changes what they count must change both forms.
--
-- A call's uniqueid stays unique across the database: Asterisk makes it so across PBXs when
-- each sets its own systemname in asterisk.conf (docs/multisite.md).

ALTER TABLE calls ADD COLUMN site TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_site_started ON calls(site, started_at);

DROP TRIGGER calls_rollup_insert;
DROP TRIGGER calls_rollup_delete;
DROP TRIGGER calls_rollup_update;

CREATE TABLE daily_rollup_sites (
    day           INTEGER NOT NULL,
    site          TEXT NOT NULL,
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
    PRIMARY KEY (day, site, source, channel, lead_status)
) WITHOUT ROWID;
INSERT INTO daily_rollup_sites(day, site, source, channel, lead_status, calls, answered, missed, abandoned,
                               first_time, talk_seconds, value)
SELECT day, '', source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value
FROM daily_rollup;
DROP TABLE daily_rollup;
ALTER TABLE daily_rollup_sites RENAME TO daily_rollup;

CREATE TABLE hourly_rollup_sites (
    day          INTEGER NOT NULL,
    site         TEXT NOT NULL,
    hour         INTEGER NOT NULL,                    -- 0..23, local
    lead_status  TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,
    missed       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, site, hour, lead_status)
) WITHOUT ROWID;
INSERT INTO hourly_rollup_sites(day, site, hour, lead_status, calls, missed)
SELECT day, '', hour, lead_status, calls, missed FROM hourly_rollup;
DROP TABLE hourly_rollup;
ALTER TABLE hourly_rollup_sites RENAME TO hourly_rollup;

-- 0010's triggers, the site added to every roll-up key.
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
