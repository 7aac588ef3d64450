"""Schema 10 on a database with calls: qualified calls become leads, reports count the same."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from ctrack.core.period import Period
from ctrack.reports import store as reports
from ctrack.reports.rollups import ensure_timezone
from ctrack.store import db

TZ = "America/New_York"


def at_version(conn: sqlite3.Connection, last: int) -> None:
    for version, _, sql in db.migrations():
        if version > last:
            break
        conn.execute("BEGIN IMMEDIATE")
        for statement in db._statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")


@pytest.mark.sqlite_only("a SQLite file from before schema 10; no PostgreSQL database predates PostgreSQL support")
def test_upgrade_keeps_qualified_calls_as_leads_and_the_report_figures(ctrack_db):
    conn = db.connect(ctrack_db, create=True)
    at_version(conn, 9)
    rows = [
        # uniqueid, source, channel, started (2024-03-10 12:00 UTC + i h), talk, disposition, qualified
        (f"u{i}", src, chan, 1710072000 + 3600 * i, talk, disp, int(disp == "answered" and talk >= 60))
        for i, (src, chan, talk, disp) in enumerate(
            [
                ("Google Ads", "paid_search", 120, "answered"),
                ("Google Ads", "paid_search", 30, "answered"),
                ("Google Ads", "paid_search", 0, "missed"),
                ("Radio", "radio", 61, "answered"),
                (None, None, 500, "answered"),
            ]
        )
    ]
    conn.execute("BEGIN")
    conn.executemany(
        """INSERT INTO calls(uniqueid, source, channel, started_at, answered_at, ended_at, talk_seconds,
                             disposition, qualified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [(u, s, c, t, t + 5, t + 5 + talk, talk, d, q) for u, s, c, t, talk, d, q in rows],
    )
    conn.execute("COMMIT")
    old = {
        (s or None): q
        for s, q in conn.execute("SELECT source, sum(qualified) FROM daily_rollup GROUP BY source").fetchall()
    }
    old_outbox = conn.execute("SELECT kind, call_id FROM outbox ORDER BY id").fetchall()
    assert old == {"Google Ads": 1, "Radio": 1, None: 1} and len(old_outbox) == 3

    assert db.upgrade(conn)[0] == 10 and db.schema_version(conn) == db.latest_version()
    status = dict(conn.execute("SELECT uniqueid, lead_status FROM calls").fetchall())
    assert status == {"u0": "lead", "u1": None, "u2": None, "u3": "lead", "u4": "lead"}
    assert "tags" not in {r[1] for r in conn.execute("PRAGMA table_xinfo(calls)")}
    assert conn.execute("SELECT count(*) FROM lead_rules").fetchone()[0] == 1
    assert conn.execute("SELECT kind, call_id FROM outbox ORDER BY id").fetchall() == old_outbox
    ensure_timezone(conn, TZ)
    rows_now = reports.sources_report(conn, Period(date(2024, 3, 10), date(2024, 3, 10), TZ))
    assert {r["source"]: r["leads"] for r in rows_now} == old
    assert "qualified" not in {r[1] for r in conn.execute("PRAGMA table_xinfo(calls)")}  # one name: lead_status
