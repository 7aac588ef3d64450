"""The spam step of every call-save path: block list and heuristics mark calls spam after
they end, on a real database."""

from __future__ import annotations

import pytest

from ctrack.calllog import service as calllog_service
from ctrack.calllog.reconcile import save_missing
from ctrack.calllog.service import save_and_follow
from ctrack.calllog.store import CallRules
from ctrack.core.model import CallRecord, Disposition
from ctrack.leads import service as leads
from ctrack.spam.rules import SpamRules
from ctrack.spam.store import add_block
from ctrack.store import db
from tests.support.report_data import new_db

T0 = 1_764_633_600.0  # 2025-12-02 00:00 UTC
RULES = CallRules(spam=SpamRules(repeat_calls=3, repeat_minutes=10, repeat_talk_seconds=5, anonymous_talk_seconds=3))


def record(uid: str, at: float, caller: str | None, talk: float = 0, anonymous: bool = False) -> CallRecord:
    answered = at + 5 if talk else None
    return CallRecord(
        uid,
        tracking_number="+15035550101",
        caller_number=caller,
        started_at=at,
        answered_at=answered,
        ended_at=(answered or at + 5) + talk,
        disposition=Disposition.ANSWERED if talk else Disposition.MISSED,
        extra={"caller_anonymous": "1"} if anonymous else {},
    )


@pytest.fixture
def conn(ctrack_db):
    c = new_db(ctrack_db)
    yield c
    c.close()


def save(conn, *records, origin="ami"):
    return [db.write(conn, lambda c, r=r: save_and_follow(c, r, RULES, origin)) for r in records]


def marks(conn) -> dict[str, tuple]:
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT uniqueid, lead_status, spam_reason FROM calls")}


def test_a_blocked_caller_is_logged_as_spam(conn):
    db.write(conn, lambda c: add_block(c, "+15035550830", "number", None))
    db.write(conn, lambda c: add_block(c, "+1900", "prefix", None))
    save(
        conn,
        record("b1", T0, "+15035550830"),
        record("b2", T0, "+19005550100", talk=30),
        record("ok", T0, "+15035550831"),
    )
    assert marks(conn) == {"b1": ("spam", "blocked"), "b2": ("spam", "blocked"), "ok": (None, None)}


def test_more_than_n_short_calls_in_m_minutes_are_spam(conn):
    caller = "+15035550832"
    save(conn, *(record(f"r{i}", T0 + i * 120, caller, talk=2) for i in range(3)))
    assert set(marks(conn).values()) == {(None, None)}  # three is not "more than three"
    save(conn, record("long", T0 + 400, caller, talk=40))  # a real conversation: not counted, not marked
    save(conn, record("r3", T0 + 480, caller))  # the fourth short call within 10 minutes
    found = marks(conn)
    assert [found[f"r{i}"] for i in range(4)] == [("spam", "repeat")] * 4
    assert found["long"] == (None, None)
    save(conn, record("later", T0 + 480 + 11 * 60, caller))  # the window has moved on
    assert marks(conn)["later"] == (None, None)


def test_anonymous_hang_ups_are_spam(conn):
    save(conn, record("a1", T0, None, anonymous=True), record("a2", T0, None, talk=10, anonymous=True))
    assert marks(conn) == {"a1": ("spam", "anonymous"), "a2": (None, None)}


def test_a_decided_call_keeps_its_status(conn):
    db.write(conn, lambda c: add_block(c, "+15035550833", "number", None))
    save(conn, record("p1", T0, "+15035550834"), origin="cdr")
    call_id = conn.execute("SELECT id FROM calls WHERE uniqueid = 'p1'").fetchone()[0]
    db.write(conn, lambda c: leads.mark(c, call_id, leads.Mark("lead"), who="cli:alice"))  # a person marked it
    conn.execute("UPDATE calls SET caller_number = '+15035550833' WHERE uniqueid = 'p1'")
    save(conn, record("p1", T0, "+15035550833"))  # the live record replaces the CDR one
    assert marks(conn)["p1"] == ("lead", None)


def test_spam_wins_over_the_rules(conn):
    db.write(conn, lambda c: add_block(c, "+15035550837", "number", None))
    save(conn, record("r1", T0, "+15035550837", talk=95))  # the default rule would make it a lead
    assert marks(conn)["r1"] == ("spam", "blocked")
    assert conn.execute("SELECT who FROM call_changes ORDER BY id DESC LIMIT 1").fetchone()[0] == "spam:blocked"


def test_cdr_recovered_calls_are_judged_too(conn):
    db.write(conn, lambda c: add_block(c, "+15035550835", "number", None))
    assert db.write(conn, save_missing([record("c1", T0, "+15035550835")], RULES)) == 1
    assert marks(conn)["c1"] == ("spam", "blocked")


def test_a_failing_step_never_costs_the_call(conn, monkeypatch):
    def broken(*args):
        raise RuntimeError("bug in a step")

    monkeypatch.setattr(calllog_service.spam, "on_call_saved", broken)
    assert save(conn, record("f1", T0, "+15035550836")) == [True]
    assert marks(conn) == {"f1": (None, None)}
