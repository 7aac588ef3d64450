-- ctrack schema, version 19: report roll-ups that large call logs read in few rows.
-- On 10 million calls (PostgreSQL, 10 sites, 20 sources, four lead statuses) a 2-year
-- sources report read ~600,000 daily_rollup rows and a heatmap ~700,000 hourly_rollup rows;
-- both missed 300 ms (bench/multisite.py --parts reports). Two shapes fix it, keeping every
-- filter the reports offer (site, lead status; a tag filter reads the calls):
-- - block_rollup: daily_rollup summed over 16-day blocks (block = day / 16). A report reads
--   the whole blocks inside its period here and only its first and last (< 16) days from
--   daily_rollup: 2 years are ~50 blocks instead of 730 days.
-- - hourly_rollup becomes one row per day, site and lead status with the 24 local hours as
--   columns (calls_00 … calls_23, missed_00 … missed_23): 24 times fewer rows to read.
-- The triggers keep all three exact on every call write, computing the call's local time
-- once per roll-up (0014's kept the same counts), and equal a rebuild
-- (ctrack/reports/rollups.py); the PL/pgSQL rollup_call in 0019_rollup_blocks.pg.sql does
-- the same on PostgreSQL: a change to what they count must change both forms.

DROP TRIGGER calls_rollup_insert;
DROP TRIGGER calls_rollup_delete;
DROP TRIGGER calls_rollup_update;

CREATE TABLE block_rollup (
    block         INTEGER NOT NULL,   -- day / 16
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
    PRIMARY KEY (block, site, source, channel, lead_status)
) WITHOUT ROWID;
INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time,
                         talk_seconds, value)
SELECT day / 16, site, source, channel, lead_status, sum(calls), sum(answered), sum(missed), sum(abandoned),
       sum(first_time), sum(talk_seconds), sum(value)
FROM daily_rollup GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE hourly_rollup_wide (
    day          INTEGER NOT NULL,
    site         TEXT NOT NULL,
    lead_status  TEXT NOT NULL,
    calls_00  INTEGER NOT NULL DEFAULT 0,
    calls_01  INTEGER NOT NULL DEFAULT 0,
    calls_02  INTEGER NOT NULL DEFAULT 0,
    calls_03  INTEGER NOT NULL DEFAULT 0,
    calls_04  INTEGER NOT NULL DEFAULT 0,
    calls_05  INTEGER NOT NULL DEFAULT 0,
    calls_06  INTEGER NOT NULL DEFAULT 0,
    calls_07  INTEGER NOT NULL DEFAULT 0,
    calls_08  INTEGER NOT NULL DEFAULT 0,
    calls_09  INTEGER NOT NULL DEFAULT 0,
    calls_10  INTEGER NOT NULL DEFAULT 0,
    calls_11  INTEGER NOT NULL DEFAULT 0,
    calls_12  INTEGER NOT NULL DEFAULT 0,
    calls_13  INTEGER NOT NULL DEFAULT 0,
    calls_14  INTEGER NOT NULL DEFAULT 0,
    calls_15  INTEGER NOT NULL DEFAULT 0,
    calls_16  INTEGER NOT NULL DEFAULT 0,
    calls_17  INTEGER NOT NULL DEFAULT 0,
    calls_18  INTEGER NOT NULL DEFAULT 0,
    calls_19  INTEGER NOT NULL DEFAULT 0,
    calls_20  INTEGER NOT NULL DEFAULT 0,
    calls_21  INTEGER NOT NULL DEFAULT 0,
    calls_22  INTEGER NOT NULL DEFAULT 0,
    calls_23  INTEGER NOT NULL DEFAULT 0,
    missed_00 INTEGER NOT NULL DEFAULT 0,
    missed_01 INTEGER NOT NULL DEFAULT 0,
    missed_02 INTEGER NOT NULL DEFAULT 0,
    missed_03 INTEGER NOT NULL DEFAULT 0,
    missed_04 INTEGER NOT NULL DEFAULT 0,
    missed_05 INTEGER NOT NULL DEFAULT 0,
    missed_06 INTEGER NOT NULL DEFAULT 0,
    missed_07 INTEGER NOT NULL DEFAULT 0,
    missed_08 INTEGER NOT NULL DEFAULT 0,
    missed_09 INTEGER NOT NULL DEFAULT 0,
    missed_10 INTEGER NOT NULL DEFAULT 0,
    missed_11 INTEGER NOT NULL DEFAULT 0,
    missed_12 INTEGER NOT NULL DEFAULT 0,
    missed_13 INTEGER NOT NULL DEFAULT 0,
    missed_14 INTEGER NOT NULL DEFAULT 0,
    missed_15 INTEGER NOT NULL DEFAULT 0,
    missed_16 INTEGER NOT NULL DEFAULT 0,
    missed_17 INTEGER NOT NULL DEFAULT 0,
    missed_18 INTEGER NOT NULL DEFAULT 0,
    missed_19 INTEGER NOT NULL DEFAULT 0,
    missed_20 INTEGER NOT NULL DEFAULT 0,
    missed_21 INTEGER NOT NULL DEFAULT 0,
    missed_22 INTEGER NOT NULL DEFAULT 0,
    missed_23 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, site, lead_status)
) WITHOUT ROWID;
INSERT INTO hourly_rollup_wide(day, site, lead_status,
    calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
    missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
SELECT day, site, lead_status,
       sum(CASE WHEN hour = 0 THEN calls ELSE 0 END), sum(CASE WHEN hour = 1 THEN calls ELSE 0 END), sum(CASE WHEN hour = 2 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 3 THEN calls ELSE 0 END), sum(CASE WHEN hour = 4 THEN calls ELSE 0 END), sum(CASE WHEN hour = 5 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 6 THEN calls ELSE 0 END), sum(CASE WHEN hour = 7 THEN calls ELSE 0 END), sum(CASE WHEN hour = 8 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 9 THEN calls ELSE 0 END), sum(CASE WHEN hour = 10 THEN calls ELSE 0 END), sum(CASE WHEN hour = 11 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 12 THEN calls ELSE 0 END), sum(CASE WHEN hour = 13 THEN calls ELSE 0 END), sum(CASE WHEN hour = 14 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 15 THEN calls ELSE 0 END), sum(CASE WHEN hour = 16 THEN calls ELSE 0 END), sum(CASE WHEN hour = 17 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 18 THEN calls ELSE 0 END), sum(CASE WHEN hour = 19 THEN calls ELSE 0 END), sum(CASE WHEN hour = 20 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 21 THEN calls ELSE 0 END), sum(CASE WHEN hour = 22 THEN calls ELSE 0 END), sum(CASE WHEN hour = 23 THEN calls ELSE 0 END),
       sum(CASE WHEN hour = 0 THEN missed ELSE 0 END), sum(CASE WHEN hour = 1 THEN missed ELSE 0 END), sum(CASE WHEN hour = 2 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 3 THEN missed ELSE 0 END), sum(CASE WHEN hour = 4 THEN missed ELSE 0 END), sum(CASE WHEN hour = 5 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 6 THEN missed ELSE 0 END), sum(CASE WHEN hour = 7 THEN missed ELSE 0 END), sum(CASE WHEN hour = 8 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 9 THEN missed ELSE 0 END), sum(CASE WHEN hour = 10 THEN missed ELSE 0 END), sum(CASE WHEN hour = 11 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 12 THEN missed ELSE 0 END), sum(CASE WHEN hour = 13 THEN missed ELSE 0 END), sum(CASE WHEN hour = 14 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 15 THEN missed ELSE 0 END), sum(CASE WHEN hour = 16 THEN missed ELSE 0 END), sum(CASE WHEN hour = 17 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 18 THEN missed ELSE 0 END), sum(CASE WHEN hour = 19 THEN missed ELSE 0 END), sum(CASE WHEN hour = 20 THEN missed ELSE 0 END),
       sum(CASE WHEN hour = 21 THEN missed ELSE 0 END), sum(CASE WHEN hour = 22 THEN missed ELSE 0 END), sum(CASE WHEN hour = 23 THEN missed ELSE 0 END)
FROM hourly_rollup GROUP BY day, site, lead_status;
DROP TABLE hourly_rollup;
ALTER TABLE hourly_rollup_wide RENAME TO hourly_rollup;

CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls
BEGIN
    INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER), NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, ''),
           1, (NEW.disposition IS 'answered'), coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           (NEW.disposition IS 'abandoned'), (NEW.first_time IS 1), coalesce(NEW.talk_seconds, 0), coalesce(NEW.value, 0)
    FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER) / 16, NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, ''),
           1, (NEW.disposition IS 'answered'), coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           (NEW.disposition IS 'abandoned'), (NEW.first_time IS 1), coalesce(NEW.talk_seconds, 0), coalesce(NEW.value, 0)
    FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (block, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO hourly_rollup(day, site, lead_status,
        calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
        missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
    SELECT t.day, NEW.site, coalesce(NEW.lead_status, ''),
        (t.hour = 0), (t.hour = 1), (t.hour = 2), (t.hour = 3), (t.hour = 4), (t.hour = 5), (t.hour = 6), (t.hour = 7), (t.hour = 8), (t.hour = 9), (t.hour = 10), (t.hour = 11), (t.hour = 12), (t.hour = 13), (t.hour = 14), (t.hour = 15), (t.hour = 16), (t.hour = 17), (t.hour = 18), (t.hour = 19), (t.hour = 20), (t.hour = 21), (t.hour = 22), (t.hour = 23),
        (t.hour = 0) * t.missed, (t.hour = 1) * t.missed, (t.hour = 2) * t.missed, (t.hour = 3) * t.missed, (t.hour = 4) * t.missed, (t.hour = 5) * t.missed, (t.hour = 6) * t.missed, (t.hour = 7) * t.missed, (t.hour = 8) * t.missed, (t.hour = 9) * t.missed, (t.hour = 10) * t.missed, (t.hour = 11) * t.missed, (t.hour = 12) * t.missed, (t.hour = 13) * t.missed, (t.hour = 14) * t.missed, (t.hour = 15) * t.missed, (t.hour = 16) * t.missed, (t.hour = 17) * t.missed, (t.hour = 18) * t.missed, (t.hour = 19) * t.missed, (t.hour = 20) * t.missed, (t.hour = 21) * t.missed, (t.hour = 22) * t.missed, (t.hour = 23) * t.missed
    FROM (SELECT CAST(l.local / 86400 AS INTEGER) AS day, CAST(l.local / 3600 AS INTEGER) % 24 AS hour,
                 coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0) AS missed
          FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS l) AS t WHERE true
    ON CONFLICT (day, site, lead_status) DO UPDATE SET
        calls_00 = calls_00 + excluded.calls_00, calls_01 = calls_01 + excluded.calls_01, calls_02 = calls_02 + excluded.calls_02, calls_03 = calls_03 + excluded.calls_03,
        calls_04 = calls_04 + excluded.calls_04, calls_05 = calls_05 + excluded.calls_05, calls_06 = calls_06 + excluded.calls_06, calls_07 = calls_07 + excluded.calls_07,
        calls_08 = calls_08 + excluded.calls_08, calls_09 = calls_09 + excluded.calls_09, calls_10 = calls_10 + excluded.calls_10, calls_11 = calls_11 + excluded.calls_11,
        calls_12 = calls_12 + excluded.calls_12, calls_13 = calls_13 + excluded.calls_13, calls_14 = calls_14 + excluded.calls_14, calls_15 = calls_15 + excluded.calls_15,
        calls_16 = calls_16 + excluded.calls_16, calls_17 = calls_17 + excluded.calls_17, calls_18 = calls_18 + excluded.calls_18, calls_19 = calls_19 + excluded.calls_19,
        calls_20 = calls_20 + excluded.calls_20, calls_21 = calls_21 + excluded.calls_21, calls_22 = calls_22 + excluded.calls_22, calls_23 = calls_23 + excluded.calls_23,
        missed_00 = missed_00 + excluded.missed_00, missed_01 = missed_01 + excluded.missed_01, missed_02 = missed_02 + excluded.missed_02, missed_03 = missed_03 + excluded.missed_03,
        missed_04 = missed_04 + excluded.missed_04, missed_05 = missed_05 + excluded.missed_05, missed_06 = missed_06 + excluded.missed_06, missed_07 = missed_07 + excluded.missed_07,
        missed_08 = missed_08 + excluded.missed_08, missed_09 = missed_09 + excluded.missed_09, missed_10 = missed_10 + excluded.missed_10, missed_11 = missed_11 + excluded.missed_11,
        missed_12 = missed_12 + excluded.missed_12, missed_13 = missed_13 + excluded.missed_13, missed_14 = missed_14 + excluded.missed_14, missed_15 = missed_15 + excluded.missed_15,
        missed_16 = missed_16 + excluded.missed_16, missed_17 = missed_17 + excluded.missed_17, missed_18 = missed_18 + excluded.missed_18, missed_19 = missed_19 + excluded.missed_19,
        missed_20 = missed_20 + excluded.missed_20, missed_21 = missed_21 + excluded.missed_21, missed_22 = missed_22 + excluded.missed_22, missed_23 = missed_23 + excluded.missed_23;
END;

CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls
BEGIN
    INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER), OLD.site, coalesce(OLD.source, ''), coalesce(OLD.channel, ''), coalesce(OLD.lead_status, ''),
           -1, -(OLD.disposition IS 'answered'), -coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           -(OLD.disposition IS 'abandoned'), -(OLD.first_time IS 1), -coalesce(OLD.talk_seconds, 0), -coalesce(OLD.value, 0)
    FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER) / 16, OLD.site, coalesce(OLD.source, ''), coalesce(OLD.channel, ''), coalesce(OLD.lead_status, ''),
           -1, -(OLD.disposition IS 'answered'), -coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           -(OLD.disposition IS 'abandoned'), -(OLD.first_time IS 1), -coalesce(OLD.talk_seconds, 0), -coalesce(OLD.value, 0)
    FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (block, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO hourly_rollup(day, site, lead_status,
        calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
        missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
    SELECT t.day, OLD.site, coalesce(OLD.lead_status, ''),
        -(t.hour = 0), -(t.hour = 1), -(t.hour = 2), -(t.hour = 3), -(t.hour = 4), -(t.hour = 5), -(t.hour = 6), -(t.hour = 7), -(t.hour = 8), -(t.hour = 9), -(t.hour = 10), -(t.hour = 11), -(t.hour = 12), -(t.hour = 13), -(t.hour = 14), -(t.hour = 15), -(t.hour = 16), -(t.hour = 17), -(t.hour = 18), -(t.hour = 19), -(t.hour = 20), -(t.hour = 21), -(t.hour = 22), -(t.hour = 23),
        -(t.hour = 0) * t.missed, -(t.hour = 1) * t.missed, -(t.hour = 2) * t.missed, -(t.hour = 3) * t.missed, -(t.hour = 4) * t.missed, -(t.hour = 5) * t.missed, -(t.hour = 6) * t.missed, -(t.hour = 7) * t.missed, -(t.hour = 8) * t.missed, -(t.hour = 9) * t.missed, -(t.hour = 10) * t.missed, -(t.hour = 11) * t.missed, -(t.hour = 12) * t.missed, -(t.hour = 13) * t.missed, -(t.hour = 14) * t.missed, -(t.hour = 15) * t.missed, -(t.hour = 16) * t.missed, -(t.hour = 17) * t.missed, -(t.hour = 18) * t.missed, -(t.hour = 19) * t.missed, -(t.hour = 20) * t.missed, -(t.hour = 21) * t.missed, -(t.hour = 22) * t.missed, -(t.hour = 23) * t.missed
    FROM (SELECT CAST(l.local / 86400 AS INTEGER) AS day, CAST(l.local / 3600 AS INTEGER) % 24 AS hour,
                 coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0) AS missed
          FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS l) AS t WHERE true
    ON CONFLICT (day, site, lead_status) DO UPDATE SET
        calls_00 = calls_00 + excluded.calls_00, calls_01 = calls_01 + excluded.calls_01, calls_02 = calls_02 + excluded.calls_02, calls_03 = calls_03 + excluded.calls_03,
        calls_04 = calls_04 + excluded.calls_04, calls_05 = calls_05 + excluded.calls_05, calls_06 = calls_06 + excluded.calls_06, calls_07 = calls_07 + excluded.calls_07,
        calls_08 = calls_08 + excluded.calls_08, calls_09 = calls_09 + excluded.calls_09, calls_10 = calls_10 + excluded.calls_10, calls_11 = calls_11 + excluded.calls_11,
        calls_12 = calls_12 + excluded.calls_12, calls_13 = calls_13 + excluded.calls_13, calls_14 = calls_14 + excluded.calls_14, calls_15 = calls_15 + excluded.calls_15,
        calls_16 = calls_16 + excluded.calls_16, calls_17 = calls_17 + excluded.calls_17, calls_18 = calls_18 + excluded.calls_18, calls_19 = calls_19 + excluded.calls_19,
        calls_20 = calls_20 + excluded.calls_20, calls_21 = calls_21 + excluded.calls_21, calls_22 = calls_22 + excluded.calls_22, calls_23 = calls_23 + excluded.calls_23,
        missed_00 = missed_00 + excluded.missed_00, missed_01 = missed_01 + excluded.missed_01, missed_02 = missed_02 + excluded.missed_02, missed_03 = missed_03 + excluded.missed_03,
        missed_04 = missed_04 + excluded.missed_04, missed_05 = missed_05 + excluded.missed_05, missed_06 = missed_06 + excluded.missed_06, missed_07 = missed_07 + excluded.missed_07,
        missed_08 = missed_08 + excluded.missed_08, missed_09 = missed_09 + excluded.missed_09, missed_10 = missed_10 + excluded.missed_10, missed_11 = missed_11 + excluded.missed_11,
        missed_12 = missed_12 + excluded.missed_12, missed_13 = missed_13 + excluded.missed_13, missed_14 = missed_14 + excluded.missed_14, missed_15 = missed_15 + excluded.missed_15,
        missed_16 = missed_16 + excluded.missed_16, missed_17 = missed_17 + excluded.missed_17, missed_18 = missed_18 + excluded.missed_18, missed_19 = missed_19 + excluded.missed_19,
        missed_20 = missed_20 + excluded.missed_20, missed_21 = missed_21 + excluded.missed_21, missed_22 = missed_22 + excluded.missed_22, missed_23 = missed_23 + excluded.missed_23;
END;

CREATE TRIGGER calls_rollup_update
AFTER UPDATE OF started_at, site, source, channel, disposition, talk_seconds, first_time, lead_status, value ON calls
BEGIN
    INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER), OLD.site, coalesce(OLD.source, ''), coalesce(OLD.channel, ''), coalesce(OLD.lead_status, ''),
           -1, -(OLD.disposition IS 'answered'), -coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           -(OLD.disposition IS 'abandoned'), -(OLD.first_time IS 1), -coalesce(OLD.talk_seconds, 0), -coalesce(OLD.value, 0)
    FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER) / 16, OLD.site, coalesce(OLD.source, ''), coalesce(OLD.channel, ''), coalesce(OLD.lead_status, ''),
           -1, -(OLD.disposition IS 'answered'), -coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           -(OLD.disposition IS 'abandoned'), -(OLD.first_time IS 1), -coalesce(OLD.talk_seconds, 0), -coalesce(OLD.value, 0)
    FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (block, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO hourly_rollup(day, site, lead_status,
        calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
        missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
    SELECT t.day, OLD.site, coalesce(OLD.lead_status, ''),
        -(t.hour = 0), -(t.hour = 1), -(t.hour = 2), -(t.hour = 3), -(t.hour = 4), -(t.hour = 5), -(t.hour = 6), -(t.hour = 7), -(t.hour = 8), -(t.hour = 9), -(t.hour = 10), -(t.hour = 11), -(t.hour = 12), -(t.hour = 13), -(t.hour = 14), -(t.hour = 15), -(t.hour = 16), -(t.hour = 17), -(t.hour = 18), -(t.hour = 19), -(t.hour = 20), -(t.hour = 21), -(t.hour = 22), -(t.hour = 23),
        -(t.hour = 0) * t.missed, -(t.hour = 1) * t.missed, -(t.hour = 2) * t.missed, -(t.hour = 3) * t.missed, -(t.hour = 4) * t.missed, -(t.hour = 5) * t.missed, -(t.hour = 6) * t.missed, -(t.hour = 7) * t.missed, -(t.hour = 8) * t.missed, -(t.hour = 9) * t.missed, -(t.hour = 10) * t.missed, -(t.hour = 11) * t.missed, -(t.hour = 12) * t.missed, -(t.hour = 13) * t.missed, -(t.hour = 14) * t.missed, -(t.hour = 15) * t.missed, -(t.hour = 16) * t.missed, -(t.hour = 17) * t.missed, -(t.hour = 18) * t.missed, -(t.hour = 19) * t.missed, -(t.hour = 20) * t.missed, -(t.hour = 21) * t.missed, -(t.hour = 22) * t.missed, -(t.hour = 23) * t.missed
    FROM (SELECT CAST(l.local / 86400 AS INTEGER) AS day, CAST(l.local / 3600 AS INTEGER) % 24 AS hour,
                 coalesce(OLD.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0) AS missed
          FROM (SELECT OLD.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= OLD.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS l) AS t WHERE true
    ON CONFLICT (day, site, lead_status) DO UPDATE SET
        calls_00 = calls_00 + excluded.calls_00, calls_01 = calls_01 + excluded.calls_01, calls_02 = calls_02 + excluded.calls_02, calls_03 = calls_03 + excluded.calls_03,
        calls_04 = calls_04 + excluded.calls_04, calls_05 = calls_05 + excluded.calls_05, calls_06 = calls_06 + excluded.calls_06, calls_07 = calls_07 + excluded.calls_07,
        calls_08 = calls_08 + excluded.calls_08, calls_09 = calls_09 + excluded.calls_09, calls_10 = calls_10 + excluded.calls_10, calls_11 = calls_11 + excluded.calls_11,
        calls_12 = calls_12 + excluded.calls_12, calls_13 = calls_13 + excluded.calls_13, calls_14 = calls_14 + excluded.calls_14, calls_15 = calls_15 + excluded.calls_15,
        calls_16 = calls_16 + excluded.calls_16, calls_17 = calls_17 + excluded.calls_17, calls_18 = calls_18 + excluded.calls_18, calls_19 = calls_19 + excluded.calls_19,
        calls_20 = calls_20 + excluded.calls_20, calls_21 = calls_21 + excluded.calls_21, calls_22 = calls_22 + excluded.calls_22, calls_23 = calls_23 + excluded.calls_23,
        missed_00 = missed_00 + excluded.missed_00, missed_01 = missed_01 + excluded.missed_01, missed_02 = missed_02 + excluded.missed_02, missed_03 = missed_03 + excluded.missed_03,
        missed_04 = missed_04 + excluded.missed_04, missed_05 = missed_05 + excluded.missed_05, missed_06 = missed_06 + excluded.missed_06, missed_07 = missed_07 + excluded.missed_07,
        missed_08 = missed_08 + excluded.missed_08, missed_09 = missed_09 + excluded.missed_09, missed_10 = missed_10 + excluded.missed_10, missed_11 = missed_11 + excluded.missed_11,
        missed_12 = missed_12 + excluded.missed_12, missed_13 = missed_13 + excluded.missed_13, missed_14 = missed_14 + excluded.missed_14, missed_15 = missed_15 + excluded.missed_15,
        missed_16 = missed_16 + excluded.missed_16, missed_17 = missed_17 + excluded.missed_17, missed_18 = missed_18 + excluded.missed_18, missed_19 = missed_19 + excluded.missed_19,
        missed_20 = missed_20 + excluded.missed_20, missed_21 = missed_21 + excluded.missed_21, missed_22 = missed_22 + excluded.missed_22, missed_23 = missed_23 + excluded.missed_23;
    INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER), NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, ''),
           1, (NEW.disposition IS 'answered'), coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           (NEW.disposition IS 'abandoned'), (NEW.first_time IS 1), coalesce(NEW.talk_seconds, 0), coalesce(NEW.value, 0)
    FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, talk_seconds, value)
    SELECT CAST(t.local / 86400 AS INTEGER) / 16, NEW.site, coalesce(NEW.source, ''), coalesce(NEW.channel, ''), coalesce(NEW.lead_status, ''),
           1, (NEW.disposition IS 'answered'), coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0),
           (NEW.disposition IS 'abandoned'), (NEW.first_time IS 1), coalesce(NEW.talk_seconds, 0), coalesce(NEW.value, 0)
    FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS t WHERE true
    ON CONFLICT (block, site, source, channel, lead_status) DO UPDATE SET
        calls = calls + excluded.calls, answered = answered + excluded.answered, missed = missed + excluded.missed,
        abandoned = abandoned + excluded.abandoned, first_time = first_time + excluded.first_time,
        talk_seconds = talk_seconds + excluded.talk_seconds, value = value + excluded.value;
    INSERT INTO hourly_rollup(day, site, lead_status,
        calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
        missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
    SELECT t.day, NEW.site, coalesce(NEW.lead_status, ''),
        (t.hour = 0), (t.hour = 1), (t.hour = 2), (t.hour = 3), (t.hour = 4), (t.hour = 5), (t.hour = 6), (t.hour = 7), (t.hour = 8), (t.hour = 9), (t.hour = 10), (t.hour = 11), (t.hour = 12), (t.hour = 13), (t.hour = 14), (t.hour = 15), (t.hour = 16), (t.hour = 17), (t.hour = 18), (t.hour = 19), (t.hour = 20), (t.hour = 21), (t.hour = 22), (t.hour = 23),
        (t.hour = 0) * t.missed, (t.hour = 1) * t.missed, (t.hour = 2) * t.missed, (t.hour = 3) * t.missed, (t.hour = 4) * t.missed, (t.hour = 5) * t.missed, (t.hour = 6) * t.missed, (t.hour = 7) * t.missed, (t.hour = 8) * t.missed, (t.hour = 9) * t.missed, (t.hour = 10) * t.missed, (t.hour = 11) * t.missed, (t.hour = 12) * t.missed, (t.hour = 13) * t.missed, (t.hour = 14) * t.missed, (t.hour = 15) * t.missed, (t.hour = 16) * t.missed, (t.hour = 17) * t.missed, (t.hour = 18) * t.missed, (t.hour = 19) * t.missed, (t.hour = 20) * t.missed, (t.hour = 21) * t.missed, (t.hour = 22) * t.missed, (t.hour = 23) * t.missed
    FROM (SELECT CAST(l.local / 86400 AS INTEGER) AS day, CAST(l.local / 3600 AS INTEGER) % 24 AS hour,
                 coalesce(NEW.disposition IN ('missed', 'busy', 'failed', 'voicemail'), 0) AS missed
          FROM (SELECT NEW.started_at + coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= NEW.started_at ORDER BY start_at DESC LIMIT 1), 0) AS local) AS l) AS t WHERE true
    ON CONFLICT (day, site, lead_status) DO UPDATE SET
        calls_00 = calls_00 + excluded.calls_00, calls_01 = calls_01 + excluded.calls_01, calls_02 = calls_02 + excluded.calls_02, calls_03 = calls_03 + excluded.calls_03,
        calls_04 = calls_04 + excluded.calls_04, calls_05 = calls_05 + excluded.calls_05, calls_06 = calls_06 + excluded.calls_06, calls_07 = calls_07 + excluded.calls_07,
        calls_08 = calls_08 + excluded.calls_08, calls_09 = calls_09 + excluded.calls_09, calls_10 = calls_10 + excluded.calls_10, calls_11 = calls_11 + excluded.calls_11,
        calls_12 = calls_12 + excluded.calls_12, calls_13 = calls_13 + excluded.calls_13, calls_14 = calls_14 + excluded.calls_14, calls_15 = calls_15 + excluded.calls_15,
        calls_16 = calls_16 + excluded.calls_16, calls_17 = calls_17 + excluded.calls_17, calls_18 = calls_18 + excluded.calls_18, calls_19 = calls_19 + excluded.calls_19,
        calls_20 = calls_20 + excluded.calls_20, calls_21 = calls_21 + excluded.calls_21, calls_22 = calls_22 + excluded.calls_22, calls_23 = calls_23 + excluded.calls_23,
        missed_00 = missed_00 + excluded.missed_00, missed_01 = missed_01 + excluded.missed_01, missed_02 = missed_02 + excluded.missed_02, missed_03 = missed_03 + excluded.missed_03,
        missed_04 = missed_04 + excluded.missed_04, missed_05 = missed_05 + excluded.missed_05, missed_06 = missed_06 + excluded.missed_06, missed_07 = missed_07 + excluded.missed_07,
        missed_08 = missed_08 + excluded.missed_08, missed_09 = missed_09 + excluded.missed_09, missed_10 = missed_10 + excluded.missed_10, missed_11 = missed_11 + excluded.missed_11,
        missed_12 = missed_12 + excluded.missed_12, missed_13 = missed_13 + excluded.missed_13, missed_14 = missed_14 + excluded.missed_14, missed_15 = missed_15 + excluded.missed_15,
        missed_16 = missed_16 + excluded.missed_16, missed_17 = missed_17 + excluded.missed_17, missed_18 = missed_18 + excluded.missed_18, missed_19 = missed_19 + excluded.missed_19,
        missed_20 = missed_20 + excluded.missed_20, missed_21 = missed_21 + excluded.missed_21, missed_22 = missed_22 + excluded.missed_22, missed_23 = missed_23 + excluded.missed_23;
END;
