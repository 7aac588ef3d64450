"""Migration 0015 loosens calls.disposition's CHECK in place (no table rebuild)."""

import sqlite3

import pytest

from ctrack.store import db

pytestmark = pytest.mark.sqlite_only("rewrites a CHECK in SQLite's schema table")


def test_pbx_answered_is_accepted_by_every_connection_and_nonsense_still_refused(tmp_path, monkeypatch):
    path = tmp_path / "ctrack.db"
    conn = db.connect(path, create=True)
    shipped = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in shipped if m[0] < 15])
    db.upgrade(conn)
    monkeypatch.undo()
    before = db.connect(path)  # has parsed the old CHECK: must see the new one
    before.execute("SELECT count(*) FROM calls").fetchone()
    assert 15 in db.upgrade(conn)
    conn.execute("INSERT INTO calls(uniqueid, started_at, disposition) VALUES ('a', 1, 'pbx_answered')")
    before.execute(
        "INSERT INTO calls(uniqueid, started_at, disposition, queue_wait_seconds, voicemail_seconds, answered_by)"
        " VALUES ('b', 1, 'pbx_answered', 4, NULL, NULL)"
    )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO calls(uniqueid, started_at, disposition) VALUES ('c', 1, 'nonsense')")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA writable_schema").fetchone()[0] == 0
