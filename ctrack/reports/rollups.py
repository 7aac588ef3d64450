"""The report roll-ups: their shapes, their rebuild, and their time zone.

Triggers (migrations 0003, 0010, 0014, 0019) keep daily_rollup, block_rollup (daily_rollup
summed over BLOCK_DAYS-day blocks) and hourly_rollup (a day's 24 local hours as columns)
exact on every call write, bucketing by the offsets in tz_offsets. Those offsets belong to one zone; reports ask for
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
HOURS = tuple(f"{h:02d}" for h in range(24))
HOURLY_COLUMNS = (*(f"calls_{h}" for h in HOURS), *(f"missed_{h}" for h in HOURS))
_HOUR_SUMS = ", ".join(
    [f"sum(CASE WHEN c.hour = {h} THEN 1 ELSE 0 END) AS calls_{h:02d}" for h in range(24)]
    + [f"sum(CASE WHEN c.hour = {h} THEN c.missed ELSE 0 END) AS missed_{h:02d}" for h in range(24)]
)
# The offset joined once per call: PostgreSQL would copy a correlated sub-select into each of
# the 48 sums below and run it 48 times a call.
HOURLY_SELECT = f"""SELECT c.day AS day, c.site AS site, c.lead_status AS lead_status, {_HOUR_SUMS}
FROM (SELECT CAST((c.started_at + coalesce(o.offset_seconds, 0)) / 86400 AS INTEGER) AS day, c.site AS site,
             CAST((c.started_at + coalesce(o.offset_seconds, 0)) / 3600 AS INTEGER) % 24 AS hour,
             coalesce(c.lead_status, '') AS lead_status, {_MISSED} AS missed
      FROM calls c LEFT JOIN tz_offsets o
           ON o.start_at = (SELECT max(start_at) FROM tz_offsets WHERE start_at <= c.started_at)
      {{where}}) AS c
GROUP BY 1, 2, 3"""

# A block is BLOCK_DAYS local days: block_rollup's key is day / BLOCK_DAYS (integer division).
BLOCK_DAYS = 16

_REBUILD_DAILY = f"""
INSERT INTO daily_rollup(day, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time,
                         talk_seconds, value)
{DAILY_SELECT.format(where="")}
"""

_REBUILD_HOURLY = f"""
INSERT INTO hourly_rollup(day, site, lead_status, {", ".join(HOURLY_COLUMNS)})
{HOURLY_SELECT.format(where="")}
"""

_MEASURES = "calls, answered, missed, abandoned, first_time, talk_seconds, value"
_REBUILD_BLOCKS = f"""
INSERT INTO block_rollup(block, site, source, channel, lead_status, {_MEASURES})
SELECT day / {BLOCK_DAYS}, site, source, channel, lead_status, sum(calls), sum(answered), sum(missed), sum(abandoned),
       sum(first_time), sum(talk_seconds), sum(value)
FROM daily_rollup GROUP BY 1, 2, 3, 4, 5
"""


def block_span(first: int, last: int) -> tuple[int, int] | None:
    """The whole blocks inside the days first … last (day numbers), or None.

    Block 0 is left out: with SQL's truncating division it would also hold days before 1970."""
    low = max(1, -(-first // BLOCK_DAYS))
    high = (last + 1) // BLOCK_DAYS - 1
    return (low, high) if low <= high else None


def rebuild_statements(tz: str) -> list[tuple[str, tuple]]:
    """The writes that re-bucket every call in zone `tz`, to run in one transaction."""
    statements: list[tuple[str, tuple]] = [("DELETE FROM tz_offsets", ())]
    statements += [
        ("INSERT INTO tz_offsets(start_at, offset_seconds) VALUES (?, ?)", segment) for segment in offset_segments(tz)
    ]
    statements += [
        ("DELETE FROM daily_rollup", ()),
        ("DELETE FROM hourly_rollup", ()),
        ("DELETE FROM block_rollup", ()),
        (_REBUILD_DAILY, ()),
        (_REBUILD_HOURLY, ()),
        (_REBUILD_BLOCKS, ()),
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
    rebuild(conn, tz)
    return True


def rebuild(conn: sqlite3.Connection, tz: str) -> None:
    """Write job: re-bucket every call in zone `tz`, whatever the roll-ups held (a bulk load
    with the roll-up triggers off ends with this)."""
    for sql, params in rebuild_statements(tz):
        conn.execute(sql, params)
