-- ctrack schema, version 19, on PostgreSQL: report roll-ups that large call logs read in few
-- rows (see 0019_rollup_blocks.sql for the why): block_rollup (16-day blocks), hourly_rollup
-- with the 24 hours as columns, and rollup_call keeping all three.
CREATE TABLE block_rollup (
    block         bigint NOT NULL,
    site          text NOT NULL,
    source        text NOT NULL,
    channel       text NOT NULL,
    lead_status   text NOT NULL,
    calls         bigint NOT NULL DEFAULT 0,
    answered      bigint NOT NULL DEFAULT 0,
    missed        bigint NOT NULL DEFAULT 0,
    abandoned     bigint NOT NULL DEFAULT 0,
    first_time    bigint NOT NULL DEFAULT 0,
    talk_seconds  bigint NOT NULL DEFAULT 0,
    value         double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (block, site, source, channel, lead_status)
);
INSERT INTO block_rollup(block, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time,
                         talk_seconds, value)
SELECT day / 16, site, source, channel, lead_status, sum(calls), sum(answered), sum(missed), sum(abandoned),
       sum(first_time), sum(talk_seconds), sum(value)
FROM daily_rollup GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE hourly_rollup_wide (
    day          bigint NOT NULL,
    site         text NOT NULL,
    lead_status  text NOT NULL,
    calls_00  bigint NOT NULL DEFAULT 0,
    calls_01  bigint NOT NULL DEFAULT 0,
    calls_02  bigint NOT NULL DEFAULT 0,
    calls_03  bigint NOT NULL DEFAULT 0,
    calls_04  bigint NOT NULL DEFAULT 0,
    calls_05  bigint NOT NULL DEFAULT 0,
    calls_06  bigint NOT NULL DEFAULT 0,
    calls_07  bigint NOT NULL DEFAULT 0,
    calls_08  bigint NOT NULL DEFAULT 0,
    calls_09  bigint NOT NULL DEFAULT 0,
    calls_10  bigint NOT NULL DEFAULT 0,
    calls_11  bigint NOT NULL DEFAULT 0,
    calls_12  bigint NOT NULL DEFAULT 0,
    calls_13  bigint NOT NULL DEFAULT 0,
    calls_14  bigint NOT NULL DEFAULT 0,
    calls_15  bigint NOT NULL DEFAULT 0,
    calls_16  bigint NOT NULL DEFAULT 0,
    calls_17  bigint NOT NULL DEFAULT 0,
    calls_18  bigint NOT NULL DEFAULT 0,
    calls_19  bigint NOT NULL DEFAULT 0,
    calls_20  bigint NOT NULL DEFAULT 0,
    calls_21  bigint NOT NULL DEFAULT 0,
    calls_22  bigint NOT NULL DEFAULT 0,
    calls_23  bigint NOT NULL DEFAULT 0,
    missed_00 bigint NOT NULL DEFAULT 0,
    missed_01 bigint NOT NULL DEFAULT 0,
    missed_02 bigint NOT NULL DEFAULT 0,
    missed_03 bigint NOT NULL DEFAULT 0,
    missed_04 bigint NOT NULL DEFAULT 0,
    missed_05 bigint NOT NULL DEFAULT 0,
    missed_06 bigint NOT NULL DEFAULT 0,
    missed_07 bigint NOT NULL DEFAULT 0,
    missed_08 bigint NOT NULL DEFAULT 0,
    missed_09 bigint NOT NULL DEFAULT 0,
    missed_10 bigint NOT NULL DEFAULT 0,
    missed_11 bigint NOT NULL DEFAULT 0,
    missed_12 bigint NOT NULL DEFAULT 0,
    missed_13 bigint NOT NULL DEFAULT 0,
    missed_14 bigint NOT NULL DEFAULT 0,
    missed_15 bigint NOT NULL DEFAULT 0,
    missed_16 bigint NOT NULL DEFAULT 0,
    missed_17 bigint NOT NULL DEFAULT 0,
    missed_18 bigint NOT NULL DEFAULT 0,
    missed_19 bigint NOT NULL DEFAULT 0,
    missed_20 bigint NOT NULL DEFAULT 0,
    missed_21 bigint NOT NULL DEFAULT 0,
    missed_22 bigint NOT NULL DEFAULT 0,
    missed_23 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, site, lead_status)
);
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

CREATE OR REPLACE FUNCTION rollup_call(c calls, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local double precision := c.started_at + coalesce(
        (SELECT offset_seconds FROM tz_offsets WHERE start_at <= c.started_at ORDER BY start_at DESC LIMIT 1), 0);
    d bigint := trunc(local / 86400);
    h bigint := trunc(local / 3600)::bigint % 24;
    status text := coalesce(c.lead_status, '');
    is_missed integer := CASE WHEN c.disposition IN ('missed', 'busy', 'failed', 'voicemail') THEN 1 ELSE 0 END;
    n_answered integer := sign * (CASE WHEN c.disposition = 'answered' THEN 1 ELSE 0 END);
    n_abandoned integer := sign * (CASE WHEN c.disposition = 'abandoned' THEN 1 ELSE 0 END);
    n_first integer := sign * (CASE WHEN c.first_time = 1 THEN 1 ELSE 0 END);
BEGIN
    INSERT INTO daily_rollup AS r(day, site, source, channel, lead_status, calls, answered, missed, abandoned,
                                  first_time, talk_seconds, value)
    VALUES (d, c.site, coalesce(c.source, ''), coalesce(c.channel, ''), status, sign, n_answered, sign * is_missed,
            n_abandoned, n_first, sign * coalesce(c.talk_seconds, 0), sign * coalesce(c.value, 0))
    ON CONFLICT (day, site, source, channel, lead_status) DO UPDATE SET
        calls = r.calls + excluded.calls, answered = r.answered + excluded.answered,
        missed = r.missed + excluded.missed, abandoned = r.abandoned + excluded.abandoned,
        first_time = r.first_time + excluded.first_time, talk_seconds = r.talk_seconds + excluded.talk_seconds,
        value = r.value + excluded.value;
    INSERT INTO block_rollup AS r(block, site, source, channel, lead_status, calls, answered, missed, abandoned,
                                  first_time, talk_seconds, value)
    VALUES (d / 16, c.site, coalesce(c.source, ''), coalesce(c.channel, ''), status, sign, n_answered, sign * is_missed,
            n_abandoned, n_first, sign * coalesce(c.talk_seconds, 0), sign * coalesce(c.value, 0))
    ON CONFLICT (block, site, source, channel, lead_status) DO UPDATE SET
        calls = r.calls + excluded.calls, answered = r.answered + excluded.answered,
        missed = r.missed + excluded.missed, abandoned = r.abandoned + excluded.abandoned,
        first_time = r.first_time + excluded.first_time, talk_seconds = r.talk_seconds + excluded.talk_seconds,
        value = r.value + excluded.value;
    INSERT INTO hourly_rollup AS r(day, site, lead_status,
        calls_00, calls_01, calls_02, calls_03, calls_04, calls_05, calls_06, calls_07, calls_08, calls_09, calls_10, calls_11, calls_12, calls_13, calls_14, calls_15, calls_16, calls_17, calls_18, calls_19, calls_20, calls_21, calls_22, calls_23,
        missed_00, missed_01, missed_02, missed_03, missed_04, missed_05, missed_06, missed_07, missed_08, missed_09, missed_10, missed_11, missed_12, missed_13, missed_14, missed_15, missed_16, missed_17, missed_18, missed_19, missed_20, missed_21, missed_22, missed_23)
    VALUES (d, c.site, status,
        CASE WHEN h = 0 THEN sign ELSE 0 END, CASE WHEN h = 1 THEN sign ELSE 0 END, CASE WHEN h = 2 THEN sign ELSE 0 END, CASE WHEN h = 3 THEN sign ELSE 0 END, CASE WHEN h = 4 THEN sign ELSE 0 END, CASE WHEN h = 5 THEN sign ELSE 0 END, CASE WHEN h = 6 THEN sign ELSE 0 END, CASE WHEN h = 7 THEN sign ELSE 0 END, CASE WHEN h = 8 THEN sign ELSE 0 END, CASE WHEN h = 9 THEN sign ELSE 0 END, CASE WHEN h = 10 THEN sign ELSE 0 END, CASE WHEN h = 11 THEN sign ELSE 0 END, CASE WHEN h = 12 THEN sign ELSE 0 END, CASE WHEN h = 13 THEN sign ELSE 0 END, CASE WHEN h = 14 THEN sign ELSE 0 END, CASE WHEN h = 15 THEN sign ELSE 0 END, CASE WHEN h = 16 THEN sign ELSE 0 END, CASE WHEN h = 17 THEN sign ELSE 0 END, CASE WHEN h = 18 THEN sign ELSE 0 END, CASE WHEN h = 19 THEN sign ELSE 0 END, CASE WHEN h = 20 THEN sign ELSE 0 END, CASE WHEN h = 21 THEN sign ELSE 0 END, CASE WHEN h = 22 THEN sign ELSE 0 END, CASE WHEN h = 23 THEN sign ELSE 0 END,
        CASE WHEN h = 0 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 1 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 2 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 3 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 4 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 5 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 6 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 7 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 8 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 9 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 10 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 11 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 12 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 13 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 14 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 15 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 16 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 17 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 18 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 19 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 20 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 21 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 22 THEN sign * is_missed ELSE 0 END, CASE WHEN h = 23 THEN sign * is_missed ELSE 0 END)
    ON CONFLICT (day, site, lead_status) DO UPDATE SET
        calls_00 = r.calls_00 + excluded.calls_00, calls_01 = r.calls_01 + excluded.calls_01, calls_02 = r.calls_02 + excluded.calls_02, calls_03 = r.calls_03 + excluded.calls_03,
        calls_04 = r.calls_04 + excluded.calls_04, calls_05 = r.calls_05 + excluded.calls_05, calls_06 = r.calls_06 + excluded.calls_06, calls_07 = r.calls_07 + excluded.calls_07,
        calls_08 = r.calls_08 + excluded.calls_08, calls_09 = r.calls_09 + excluded.calls_09, calls_10 = r.calls_10 + excluded.calls_10, calls_11 = r.calls_11 + excluded.calls_11,
        calls_12 = r.calls_12 + excluded.calls_12, calls_13 = r.calls_13 + excluded.calls_13, calls_14 = r.calls_14 + excluded.calls_14, calls_15 = r.calls_15 + excluded.calls_15,
        calls_16 = r.calls_16 + excluded.calls_16, calls_17 = r.calls_17 + excluded.calls_17, calls_18 = r.calls_18 + excluded.calls_18, calls_19 = r.calls_19 + excluded.calls_19,
        calls_20 = r.calls_20 + excluded.calls_20, calls_21 = r.calls_21 + excluded.calls_21, calls_22 = r.calls_22 + excluded.calls_22, calls_23 = r.calls_23 + excluded.calls_23,
        missed_00 = r.missed_00 + excluded.missed_00, missed_01 = r.missed_01 + excluded.missed_01, missed_02 = r.missed_02 + excluded.missed_02, missed_03 = r.missed_03 + excluded.missed_03,
        missed_04 = r.missed_04 + excluded.missed_04, missed_05 = r.missed_05 + excluded.missed_05, missed_06 = r.missed_06 + excluded.missed_06, missed_07 = r.missed_07 + excluded.missed_07,
        missed_08 = r.missed_08 + excluded.missed_08, missed_09 = r.missed_09 + excluded.missed_09, missed_10 = r.missed_10 + excluded.missed_10, missed_11 = r.missed_11 + excluded.missed_11,
        missed_12 = r.missed_12 + excluded.missed_12, missed_13 = r.missed_13 + excluded.missed_13, missed_14 = r.missed_14 + excluded.missed_14, missed_15 = r.missed_15 + excluded.missed_15,
        missed_16 = r.missed_16 + excluded.missed_16, missed_17 = r.missed_17 + excluded.missed_17, missed_18 = r.missed_18 + excluded.missed_18, missed_19 = r.missed_19 + excluded.missed_19,
        missed_20 = r.missed_20 + excluded.missed_20, missed_21 = r.missed_21 + excluded.missed_21, missed_22 = r.missed_22 + excluded.missed_22, missed_23 = r.missed_23 + excluded.missed_23;
END $$;
