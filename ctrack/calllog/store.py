"""The call log: one row per inbound call, never two.

AMI/ESL records are the rich ones; a record recovered from the CDR backstop only fills a
gap. Saving the same uniqueid again is a no-op, except that a live record replaces a
CDR-recovered one. First-time/repeat and qualified are decided here, at write time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ctrack.core.model import CallRecord
from ctrack.dni.store import attribute_call

DAY = 86400.0

# Visit attribution the DNI side may attach to CallRecord.extra.
VISIT_FIELDS = ("keyword", "landing_page", "gclid", "ga_client_id", "visit_ambiguous")

CALL_COLUMNS = (
    "id",
    "uniqueid",
    "tracking_number",
    "caller_number",
    "caller_name",
    "source",
    "channel",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_seconds",
    "talk_seconds",
    "disposition",
    "first_time",
    "qualified",
    "recording",
    "ended_by",
    "caller_anonymous",
)


@dataclass(frozen=True, slots=True)
class CallRules:
    qualified_seconds: int = 60
    repeat_window_days: int = 90
    visit_grace_seconds: int = 600  # a pool-number call still belongs to a lease this recently ended

    @classmethod
    def from_config(cls, config) -> CallRules:
        return cls(
            config.calls.qualified_seconds,
            config.calls.repeat_window_days,
            config.dni.grace_seconds,
        )


_INSERT = """
INSERT INTO calls(uniqueid, pbx, tracking_number, caller_number, caller_name, source, channel,
                  started_at, answered_at, ended_at, ring_seconds, talk_seconds, disposition,
                  hangup_cause, first_time, qualified, recording, visit_id, keyword, landing_page,
                  gclid, ga_client_id, visit_ambiguous, origin, ended_by,
                  caller_anonymous)
VALUES (:uniqueid, :pbx, :tracking_number, :caller_number, :caller_name, :source, :channel,
        :started_at, :answered_at, :ended_at, :ring_seconds, :talk_seconds, :disposition,
        :hangup_cause, :first_time, :qualified, :recording, :visit_id, :keyword, :landing_page,
        :gclid, :ga_client_id, :visit_ambiguous, :origin, :ended_by,
        :caller_anonymous)
ON CONFLICT(uniqueid) DO UPDATE SET
    tracking_number = excluded.tracking_number, caller_number = excluded.caller_number,
    caller_name = excluded.caller_name, source = excluded.source, channel = excluded.channel,
    started_at = excluded.started_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
    ring_seconds = excluded.ring_seconds, talk_seconds = excluded.talk_seconds,
    disposition = excluded.disposition, hangup_cause = excluded.hangup_cause,
    qualified = excluded.qualified, recording = excluded.recording, visit_id = excluded.visit_id,
    keyword = excluded.keyword, landing_page = excluded.landing_page, gclid = excluded.gclid,
    ga_client_id = excluded.ga_client_id, visit_ambiguous = excluded.visit_ambiguous,
    origin = excluded.origin, ended_by = excluded.ended_by,
    caller_anonymous = excluded.caller_anonymous
WHERE calls.origin = 'cdr' AND excluded.origin != 'cdr'
"""

_SEEN_BEFORE = """
SELECT 1 FROM calls
WHERE caller_number = ? AND started_at >= ? AND started_at < ? AND uniqueid != ? LIMIT 1
"""
_LATER_ARE_REPEATS = """
UPDATE calls SET first_time = 0
WHERE caller_number = ? AND started_at > ? AND started_at <= ? AND uniqueid != ? AND first_time = 1
"""


def _params(record: CallRecord, rules: CallRules, origin: str, first_time: bool | None) -> dict[str, Any]:
    talk = record.talk_seconds
    extra = record.extra
    return {
        "uniqueid": record.uniqueid,
        "pbx": record.pbx,
        "tracking_number": record.tracking_number,
        "caller_number": record.caller_number,
        "caller_name": record.caller_name,
        "source": record.source,
        "channel": record.channel,
        "started_at": record.started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "ring_seconds": record.ring_seconds,
        "talk_seconds": talk,
        "disposition": str(record.disposition) if record.disposition else None,
        "hangup_cause": record.hangup_cause,
        "first_time": None if first_time is None else int(first_time),
        "qualified": int(record.answered_at is not None and talk >= rules.qualified_seconds),
        "recording": record.recording,
        "visit_id": record.visit_id,
        "keyword": extra.get("keyword"),
        "landing_page": extra.get("landing_page"),
        "gclid": extra.get("gclid"),
        "ga_client_id": extra.get("ga_client_id"),
        "visit_ambiguous": int(bool(extra.get("visit_ambiguous"))),
        "origin": origin,
        "ended_by": extra.get("ended_by"),
        "caller_anonymous": int(extra.get("caller_anonymous") == "1"),
    }


async def save_call(conn: aiosqlite.Connection, record: CallRecord, rules: CallRules, origin: str = "ami") -> bool:
    """Insert one call (inside the writer's transaction); False when it was already logged."""
    if record.started_at is None:
        raise ValueError(f"call {record.uniqueid}: no start time")
    await attribute_call(conn, record, rules.visit_grace_seconds)
    window = rules.repeat_window_days * DAY
    first_time = None
    if record.caller_number:
        async with conn.execute(
            _SEEN_BEFORE, (record.caller_number, record.started_at - window, record.started_at, record.uniqueid)
        ) as cur:
            first_time = await cur.fetchone() is None
    cur = await conn.execute(_INSERT, _params(record, rules, origin, first_time))
    changed = cur.rowcount > 0
    await cur.close()
    if changed and first_time and record.caller_number:
        # A call recovered late (CDR backstop) makes the caller's later calls repeats.
        await conn.execute(
            _LATER_ARE_REPEATS, (record.caller_number, record.started_at, record.started_at + window, record.uniqueid)
        )
    return changed


async def known_uniqueids(conn: aiosqlite.Connection, uniqueids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(uniqueids), 500):
        chunk = uniqueids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(f"SELECT uniqueid FROM calls WHERE uniqueid IN ({marks})", chunk) as cur:
            found.update(row[0] for row in await cur.fetchall())
    return found


def list_calls(
    conn: sqlite3.Connection, since: float | None = None, until: float | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Calls, newest first, as the CLI and JSON API show them."""
    where, params = [], []
    if since is not None:
        where.append("started_at >= ?")
        params.append(since)
    if until is not None:
        where.append("started_at < ?")
        params.append(until)
    sql = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = []
    for row in conn.execute(sql, params):
        d = dict(row)
        d["first_time"] = None if d["first_time"] is None else bool(d["first_time"])
        d["qualified"] = bool(d["qualified"])
        d["caller_anonymous"] = bool(d["caller_anonymous"])
        rows.append(d)
    return rows
