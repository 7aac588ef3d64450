"""Alert events and deliveries in the outbox, and what the alerts say, in SQL."""

from __future__ import annotations

import sqlite3
from typing import Any

from ctrack.alerts.rules import DELIVERY_KINDS, EVENT_KINDS, LEAD, MISSED, SUMMARY
from ctrack.core.model import MISSED as MISSED_DISPOSITIONS
from ctrack.core.model import Disposition

_ACTIVE = "sent_at IS NULL AND gave_up_at IS NULL"
_KINDS = ", ".join(f"'{k}'" for k in EVENT_KINDS)
_MISSED_OR_ABANDONED = (*MISSED_DISPOSITIONS, Disposition.ABANDONED)
ALERT_CALL_COLUMNS = (
    "id",
    "caller_number",
    "caller_name",
    "tracking_number",
    "source",
    "channel",
    "started_at",
    "disposition",
    "ring_seconds",
    "talk_seconds",
    "first_time",
    "lead_status",
    "value",
)
NEW_EVENTS = f"SELECT 1 FROM outbox WHERE {_ACTIVE} AND kind IN ({_KINDS}) LIMIT 1"


def queue_event(conn: sqlite3.Connection, kind: str, call_id: int | None, target: str = "") -> bool:
    """Leave one alert event in the outbox (never twice for the same call or day)."""
    cur = conn.execute(
        """INSERT INTO outbox(kind, call_id, target, payload) SELECT ?, ?, ?, '{}'
           WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = ? AND call_id IS ? AND target = ?)""",
        (kind, call_id, target, kind, call_id, target),
    )
    return cur.rowcount > 0


def alert_call(conn: sqlite3.Connection, call_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(ALERT_CALL_COLUMNS)} FROM calls WHERE id = ?", (call_id,)).fetchone()
    return None if row is None else dict(row)


def is_missed(disposition: str | None) -> bool:
    return disposition in _MISSED_OR_ABANDONED


def pending_events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            f"SELECT id, kind, call_id, target, created_at FROM outbox WHERE {_ACTIVE} AND kind IN ({_KINDS}) "
            "ORDER BY id LIMIT 200"
        )
    ]


def call_alerts_since(conn: sqlite3.Connection, since: float) -> int:
    """Call alerts (missed, lead) handed to email or chat since then: what the rate limit counts."""
    return conn.execute(
        "SELECT count(*) FROM outbox WHERE kind IN (?, ?) AND gave_up_at IS NULL AND sent_at >= ?",
        (MISSED, LEAD, since),
    ).fetchone()[0]


def add_delivery(conn: sqlite3.Connection, kind: str, call_id: int | None, target: str, payload: str) -> None:
    conn.execute(
        "INSERT INTO outbox(kind, call_id, target, payload) VALUES (?, ?, ?, ?)", (kind, call_id, target, payload)
    )


def summary_rows(conn: sqlite3.Connection, since: float, until: float) -> list[dict[str, Any]]:
    """Per source: calls, leads and missed (spam left out) and the spam calls, for the summary."""
    marks = ", ".join("?" * len(_MISSED_OR_ABANDONED))
    sql = f"""
        SELECT coalesce(source, 'untracked') AS source,
               sum(CASE WHEN coalesce(lead_status, '') != 'spam' THEN 1 ELSE 0 END) AS calls,
               sum(CASE WHEN lead_status = 'lead' THEN 1 ELSE 0 END) AS leads,
               sum(CASE WHEN coalesce(lead_status, '') != 'spam' AND disposition IN ({marks}) THEN 1 ELSE 0 END)
                   AS missed,
               sum(CASE WHEN lead_status = 'spam' THEN 1 ELSE 0 END) AS spam
        FROM calls WHERE started_at >= ? AND started_at < ?
        GROUP BY 1 ORDER BY calls DESC, source"""
    return [dict(r) for r in conn.execute(sql, (*_MISSED_OR_ABANDONED, since, until))]


def summary_queued(conn: sqlite3.Connection, day: str) -> bool:
    return conn.execute("SELECT 1 FROM outbox WHERE kind = ? AND target = ?", (SUMMARY, day)).fetchone() is not None


DELIVERY_KINDS_SQL = ", ".join(f"'{k}'" for k in DELIVERY_KINDS)
