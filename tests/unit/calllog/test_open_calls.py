"""Calls in progress across a ctrack restart: the tracker's state goes to JSON and back, a
call still up is followed to its real Hangup, one Asterisk no longer lists is closed once."""

import json

from ctrack.calllog.asterisk_events import CallTracker
from ctrack.calllog.store import load_open_calls, save_open_calls
from ctrack.core import variables as v
from ctrack.core.model import Disposition
from ctrack.store import db
from tests.unit.calllog.test_asterisk_events import IN, T0, dial, ev, leg, run, varset

ANSWERED = [
    ev("Newchannel", 0, IN),
    varset(0.1, IN, v.SOURCE, "Radio"),
    varset(0.1, IN, v.TRACKING_NUMBER, "+15035550102"),
    *dial(1, "ANSWER", end_at=3.0),
]


def restarted(tracker: CallTracker) -> CallTracker:
    """A new tracker that took back the old one's open calls, through JSON as stored."""
    states = [json.loads(json.dumps(tracker.state(lid))) for lid in tracker.open_inbound()]
    new = CallTracker(inbound_contexts={"from-trunk"})
    new.restore(states)
    return new


def test_a_restored_call_still_up_gets_its_real_hangup():
    _, tracker = run(ANSWERED, inbound_contexts={"from-trunk"})
    new = restarted(tracker)
    assert len(new) == 1 and new.close_unlisted({"1.1", "1.2"}, new.open_inbound(), {}, "ctrack_offline") == []
    [record] = new.process(ev("Hangup", 40, IN, Cause="16"))
    assert (record.uniqueid, record.disposition, record.source) == ("1.1", Disposition.ANSWERED, "Radio")
    assert (record.answered_at - T0, record.ended_at - T0, record.talk_seconds) == (3.0, 40.0, 37)
    assert record.tracking_number == "+15035550102" and "ended_by" not in record.extra
    assert len(new) == 0


def test_a_restored_call_asterisk_no_longer_lists_is_closed_once_when_last_seen_up():
    second = leg(2)
    _, tracker = run([*ANSWERED, ev("Newchannel", 5, second)], inbound_contexts={"from-trunk"})
    new = restarted(tracker)
    candidates = new.open_inbound()
    assert candidates == {"1.1": "1.1", "2.1": "2.1"}
    answered, ringing = new.close_unlisted(set(), candidates, {"1.1": T0 + 20.0}, "ctrack_offline")
    assert (answered.disposition, answered.ended_at - T0, answered.talk_seconds) == (Disposition.ANSWERED, 20.0, 17)
    assert answered.extra["ended_by"] == "ctrack_offline" and answered.hangup_cause is None
    assert (ringing.disposition, ringing.ended_at - T0) == (Disposition.FAILED, 5.0)  # its last known event
    assert len(new) == 0 and new.close_unlisted(set(), candidates, {}, "ctrack_offline") == []
    assert new.process(ev("Hangup", 50, IN)) == ()  # a stray late Hangup makes no second record


def test_a_call_that_ended_after_the_list_is_not_closed_twice():
    _, tracker = run(ANSWERED, inbound_contexts={"from-trunk"})
    candidates = tracker.open_inbound()
    [record] = tracker.process(ev("Hangup", 9, IN, Cause="16"))  # heard before the sweep's grace ran out
    assert tracker.close_unlisted(set(), candidates, {}, "ctrack_offline") == []
    assert "ended_by" not in record.extra


def test_touched_names_the_calls_that_changed():
    tracker = CallTracker(inbound_contexts={"from-trunk"})
    tracker.process(ev("Newchannel", 0, IN))
    tracker.process({"Event": "Unwatched", "Linkedid": "9.9"})
    assert tracker.take_touched() == {"1.1"} and tracker.take_touched() == set()


def test_open_calls_rows_round_trip_and_go_when_the_call_ends(ctrack_db):
    conn = db.connect(ctrack_db, create=True)
    db.upgrade(conn)
    _, tracker = run(ANSWERED, inbound_contexts={"from-trunk"})
    state = tracker.state("1.1")
    write = lambda job: db.write(conn, job)  # noqa: E731
    write(save_open_calls("east", [state], [], T0 + 4, seen=False))
    write(save_open_calls("east", [], [], T0 + 6, seen=True))
    [(loaded, seen_at)] = write(load_open_calls("east"))
    assert loaded == json.loads(json.dumps(state)) and seen_at == T0 + 6
    row = conn.execute("SELECT uniqueid, started_at, answered_at, last_event_at FROM open_calls").fetchone()
    assert tuple(row) == ("1.1", T0, T0 + 3.0, T0 + 4)
    # another site's daemon (one PostgreSQL) has its own open calls, even with the same linkedid
    assert write(load_open_calls("west")) == []
    write(save_open_calls("west", [state], [], T0 + 5, seen=False))
    write(save_open_calls("west", [], [], T0 + 7, seen=True))
    write(save_open_calls("east", [], ["1.1"], T0 + 8, seen=True))
    assert write(load_open_calls("east")) == []
    [(_, west_seen)] = write(load_open_calls("west"))
    assert west_seen == T0 + 7
    conn.close()
