"""The report roll-ups' time zone: rebuild them when the configured zone is not theirs.

Triggers (migrations 0003, 0010, 0014) keep daily_rollup and hourly_rollup exact on every call write,
bucketing by the offsets in tz_offsets. Those offsets belong to one zone; reports ask for
the configured zone, and if it differs the offsets and roll-ups are rewritten here in one
transaction (seconds on a million calls; it happens once per zone change).
"""

from __future__ import annotations

import sqlite3

from ctrack.core.period import offset_segments

_OFFSET = (
    "coalesce((SELECT offset_seconds FROM tz_offsets WHERE start_at <= c.started_at ORDER BY start_at DESC LIMIT 1), 0)"
)

# One aggregation for the roll-up and for reports the roll-up cannot answer (a tag filter).
# CASE rather than SQLite's sum(boolean) and IS: the same text runs on PostgreSQL
# (store/dialect.py); GROUP BY positions, as PostgreSQL would group by a like-named column.
_MISSED = "CASE WHEN c.disposition IN ('missed', 'busy', 'failed', 'voicemail') THEN 1 ELSE 0 END"
DAILY_SELECT = f"""SELECT CAST((c.started_at + {_OFFSET}) / 86400 AS INTEGER) AS day, c.site AS site,
       coalesce(c.source, '') AS source, coalesce(c.channel, '') AS channel,
       coalesce(c.lead_status, '') AS lead_status, count(*) AS calls,
       sum(CASE WHEN c.disposition = 'answered' THEN 1 ELSE 0 END) AS answered, sum({_MISSED}) AS missed,
       sum(CASE WHEN c.disposition = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,
       sum(CASE WHEN c.first_time = 1 THEN 1 ELSE 0 END) AS first_time,
       sum(coalesce(c.talk_seconds, 0)) AS talk_seconds, sum(coalesce(c.value, 0)) AS value
FROM calls c {{where}} GROUP BY 1, 2, 3, 4, 5"""
HOURLY_SELECT = f"""SELECT CAST((c.started_at + {_OFFSET}) / 86400 AS INTEGER) AS day, c.site AS site,
       CAST((c.started_at + {_OFFSET}) / 3600 AS INTEGER) % 24 AS hour, coalesce(c.lead_status, '') AS lead_status,
       count(*) AS calls, sum({_MISSED}) AS missed
FROM calls c {{where}} GROUP BY 1, 2, 3, 4"""

_REBUILD_DAILY = f"""
INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time,
                         talk_seconds, value)
{DAILY_SELECT.format(where="")}
"""

_REBUILD_HOURLY = f"""
INSERT INTO hourly_rollup(day, site, hour, lead_status, calls, missed)
{HOURLY_SELECT.format(where="")}
"""


def rebuild_statements(tz: str) -> list[tuple[str, tuple]]:
    """The writes that re-bucket every call in zone `tz`, to run in one transaction."""
    statements: list[tuple[str, tuple]] = [("DELETE FROM tz_offsets", ())]
    statements += [
        ("INSERT INTO tz_offsets(start_at, offset_seconds) VALUES (?, ?)", segment) for segment in offset_segments(tz)
    ]
    statements += [
        ("DELETE FROM daily_rollup", ()),
        ("DELETE FROM hourly_rollup", ()),
        (_REBUILD_DAILY, ()),
        (_REBUILD_HOURLY, ()),
        ("UPDATE report_timezone SET name = ? WHERE id = 1", (tz,)),
    ]
    return statements


def rollup_timezone(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT name FROM report_timezone WHERE id = 1").fetchone()[0]


def ensure_timezone(conn: sqlite3.Connection, tz: str) -> bool:
    """Write job: re-bucket the roll-ups in `tz` unless they already are; True when it rebuilt.

    Run by the daemon's writer or, for the CLI, by `store.db.write` (check `rollup_timezone`
    first there: a report that needs no rebuild should take no write lock)."""
    if rollup_timezone(conn) == tz:
        return False
    for sql, params in rebuild_statements(tz):
        conn.execute(sql, params)
    return True
