"""A call is its site and PBX uniqueid (migration 0018): two PBX sites on one database may
number their calls alike, and neither call is lost; the same call saved again (a spool
replay, the CDR backstop) stays one. On both backends (the `database` fixture)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict

import pytest

from ctrack.calllog.reconcile import save_missing
from ctrack.calllog.service import _rules_json, replay_call, save_and_follow
from ctrack.calllog.store import CallFilter, CallRules, find_calls, known_uniqueids
from ctrack.core.model import CallRecord, Disposition
from ctrack.leads.store import call_id_of
from ctrack.store import db
from ctrack.transcription import store as transcripts
from tests.support.schema import migrate_to

EAST, WEST = CallRules(site="east"), CallRules(site="west")
NOW = time.time() - 3600


def record(uid: str, start: float = NOW, caller: str = "+15035551300", **over) -> CallRecord:
    values = {
        "tracking_number": "+15035551390",
        "caller_number": caller,
        "started_at": start,
        "answered_at": start + 4,
        "ended_at": start + 94,
        "disposition": Disposition.ANSWERED,
        **over,
    }
    return CallRecord(uid, **values)


def spooled(rec: CallRecord, rules: CallRules) -> dict:
    """The spool entry log_call writes for a call (calllog/service.py)."""
    return {"record": asdict(rec), "rules": _rules_json(rules), "origin": "ami", "missing_only": False}


def calls(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return sorted((r[0], r[1]) for r in conn.execute("SELECT site, uniqueid FROM calls"))


def test_two_sites_with_one_uniqueid_are_two_calls(conn):
    assert db.write(conn, lambda c: save_and_follow(c, record("1700000000.7"), EAST, "ami")) is True
    west_call = record("1700000000.7", NOW + 60, caller="+15035551301", answered_at=None, ended_at=NOW + 80)
    west_call.disposition = Disposition.MISSED
    assert db.write(conn, lambda c: save_and_follow(c, west_call, WEST, "ami")) is True
    assert calls(conn) == [("east", "1700000000.7"), ("west", "1700000000.7")]
    east_id = call_id_of(conn, "east", "1700000000.7")
    west_id = call_id_of(conn, "west", "1700000000.7")
    assert east_id is not None and west_id is not None and east_id != west_id
    # each site's call kept its own facts: neither overwrote the other
    rows = {r["id"]: r for r in find_calls(conn, CallFilter())}
    assert (rows[east_id]["disposition"], rows[west_id]["disposition"]) == ("answered", "missed")
    assert (rows[east_id]["caller_number"], rows[west_id]["caller_number"]) == ("+15035551300", "+15035551301")
    assert [r["id"] for r in find_calls(conn, CallFilter(site="west"))] == [west_id]
    assert conn.execute("SELECT sum(calls) FROM daily_rollup").fetchone()[0] == 2


def test_the_same_call_replayed_twice_per_site_is_one_call_per_site(conn):
    for rules in (EAST, WEST, EAST, WEST):
        db.write(conn, lambda c, r=rules: replay_call(c, spooled(record("1700000001.1"), r)))
    assert calls(conn) == [("east", "1700000001.1"), ("west", "1700000001.1")]
    assert conn.execute("SELECT sum(calls) FROM daily_rollup").fetchone()[0] == 2
    # a live record replaces the CDR's for that site only
    db.write(conn, lambda c: save_and_follow(c, record("1700000002.2", recording="/r/a.wav"), EAST, "cdr"))
    db.write(conn, lambda c: save_and_follow(c, record("1700000002.2"), WEST, "cdr"))
    db.write(conn, lambda c: replay_call(c, spooled(record("1700000002.2", recording="/r/b.wav"), EAST)))
    origins = dict(
        ((r[0], r[1]), r[2])
        for r in conn.execute("SELECT site, origin, recording FROM calls WHERE uniqueid = ?", ("1700000002.2",))
    )
    assert origins == {("east", "ami"): "/r/b.wav", ("west", "cdr"): None}


def test_the_cdr_backstop_fills_each_sites_gaps_only(conn):
    db.write(conn, lambda c: save_and_follow(c, record("1700000003.3"), EAST, "ami"))
    cdr = [record("1700000003.3"), record("1700000003.4", NOW + 30)]
    assert known_uniqueids(conn, "east", ["1700000003.3", "1700000003.4"]) == {"1700000003.3"}
    assert known_uniqueids(conn, "west", ["1700000003.3", "1700000003.4"]) == set()
    # west's CDR has its own 1700000003.3: another call than east's, recovered
    assert db.write(conn, save_missing(cdr, WEST)) == 2
    assert db.write(conn, save_missing(cdr, EAST)) == 1  # east lacked only .4
    assert db.write(conn, save_missing(cdr, WEST)) == 0  # again: nothing new
    assert calls(conn) == [
        ("east", "1700000003.3"),
        ("east", "1700000003.4"),
        ("west", "1700000003.3"),
        ("west", "1700000003.4"),
    ]


def test_a_caller_of_both_sites_is_a_repeat_at_the_second(conn):
    """First-time is across sites (one business): the other site's call with the same uniqueid
    counts as an earlier call, not as this call itself."""
    db.write(conn, lambda c: save_and_follow(c, record("1700000004.4", NOW, caller="+15035551302"), EAST, "ami"))
    later = record("1700000004.4", NOW + 600, caller="+15035551302")
    db.write(conn, lambda c: save_and_follow(c, later, WEST, "ami"))
    first = dict(conn.execute("SELECT site, first_time FROM calls WHERE caller_number = '+15035551302'").fetchall())
    assert first == {"east": 1, "west": 0}


def _schema(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    if db.is_postgresql(conn):
        rows = conn.execute(
            "SELECT 'index', indexname FROM pg_indexes WHERE tablename = 'calls' "
            "UNION SELECT 'trigger', tgname FROM pg_trigger WHERE tgrelid = 'calls'::regclass AND NOT tgisinternal"
        )
    else:
        rows = conn.execute("SELECT type, name FROM sqlite_master WHERE tbl_name = 'calls' AND type != 'table'")
    return {(r[0], r[1]) for r in rows}


def test_upgrading_a_database_with_calls_to_0018_keeps_them_and_their_links(database):
    conn = db.connect(database, create=True)
    migrate_to(conn, 17)
    conn.execute(  # as version 17 saved a call (its triggers queue a transcript and a lead event)
        "INSERT INTO calls(uniqueid, caller_number, source, started_at, talk_seconds, disposition, recording, "
        "lead_status) VALUES ('1700000005.5', '+15035551303', 'Radio', ?, 90, 'answered', '/r/5.wav', 'lead')",
        (NOW,),
    )
    call_id = conn.execute("SELECT id FROM calls WHERE uniqueid = '1700000005.5'").fetchone()[0]
    segment = {"speaker": "caller", "start": 0.0, "end": 2.0, "text": "the boiler is leaking"}
    result = {"segments": [segment], "language": "en", "duration": 2.0, "seconds_taken": 0.1}
    db.write(conn, lambda c: transcripts.save(c, call_id, result))
    conn.execute("INSERT INTO call_tags(call_id, tag) VALUES (?, 'boiler')", (call_id,))
    conn.execute(
        "INSERT INTO open_calls(linkedid, uniqueid, started_at, last_event_at, seen_at, state) "
        "VALUES ('9.9', '9.9', ?, ?, ?, '{}')",
        (NOW, NOW, NOW),
    )
    before = {
        "schema": _schema(conn),
        "rollup": [tuple(r) for r in conn.execute("SELECT day, source, calls, answered FROM daily_rollup")],
        "events": conn.execute("SELECT count(*) FROM outbox WHERE call_id = ?", (call_id,)).fetchone()[0],
    }
    assert db.upgrade(conn)[0] == 18  # and any later migration
    after = _schema(conn)
    if db.is_postgresql(conn):
        assert after - before["schema"] == {("index", "calls_site_uniqueid")}
        assert before["schema"] - after == {("index", "calls_uniqueid_key")}
    else:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on for this connection
        assert after - before["schema"] == {("index", "calls_site_uniqueid")}
        assert before["schema"] - after == {("index", "sqlite_autoindex_calls_1")}
    # the call kept its id, and with it its transcript, search, tags, events and roll-up
    assert call_id_of(conn, "", "1700000005.5") == call_id
    assert [r["id"] for r in find_calls(conn, CallFilter(words="boiler leaking"))] == [call_id]
    assert [s.text for s in transcripts.segments(conn, call_id)] == ["the boiler is leaking"]
    assert find_calls(conn, CallFilter(tag="boiler"))[0]["id"] == call_id
    assert conn.execute("SELECT count(*) FROM outbox WHERE call_id = ?", (call_id,)).fetchone()[0] == before["events"]
    assert [tuple(r) for r in conn.execute("SELECT day, source, calls, answered FROM daily_rollup")] == before["rollup"]
    assert conn.execute("SELECT site, linkedid FROM open_calls").fetchall()[0][0:2] == ("", "9.9")
    # the triggers work on the rebuilt table: another site's call of that uniqueid is counted
    assert db.write(conn, lambda c: save_and_follow(c, record("1700000005.5", recording="/r/w.wav"), WEST, "ami"))
    assert conn.execute("SELECT sum(calls) FROM daily_rollup").fetchone()[0] == 2
    west_id = call_id_of(conn, "west", "1700000005.5")
    assert conn.execute("SELECT status FROM transcript_jobs WHERE call_id = ?", (west_id,)).fetchone()[0] == "pending"
    # and the children still point at calls: its events keep it, and once they are gone,
    # deleting it takes its tags along
    with pytest.raises(sqlite3.IntegrityError):
        db.write(conn, lambda c: c.execute("DELETE FROM calls WHERE id = ?", (call_id,)))
    db.write(conn, lambda c: c.execute("DELETE FROM outbox WHERE call_id = ?", (call_id,)))
    db.write(conn, lambda c: c.execute("DELETE FROM calls WHERE id = ?", (call_id,)))
    assert conn.execute("SELECT count(*) FROM call_tags WHERE call_id = ?", (call_id,)).fetchone()[0] == 0
    assert conn.execute("SELECT sum(calls) FROM daily_rollup").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are enforced after the upgrade
        conn.execute("INSERT INTO call_tags(call_id, tag) VALUES (?, 'x')", (call_id,))
    conn.close()
