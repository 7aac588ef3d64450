"""FreeSWITCH events -> call records, replaying the real inbound captures through the parser."""

import json

import pytest

from ctrack.calllog.freeswitch_events import EVENTS, CallState, classify, completed_call
from ctrack.core import variables as v
from ctrack.core.model import Disposition
from ctrack.freeswitch import esl_protocol as esl
from tests.support.freeswitch_peer import RAW, adapt, received

FIXTURES = RAW.parent

# What the captures show on the tracked leg (raw/README.md and its CHANNEL_HANGUP_COMPLETE).
EXPECTED = {
    "inbound-answered": dict(
        uniqueid="9204c0cf-cad3-4ef1-98b9-5379f5411439",
        disposition=Disposition.ANSWERED,
        started_at=1795799402.658142,
        answered_at=1795799402.818137,
        ended_at=1795799406.838142,
        ring=0,
        talk=4,
        hangup_cause=16,
    ),
    "inbound-missed": dict(
        uniqueid="f8990223-4004-44bf-89cb-259a98f51891",
        disposition=Disposition.MISSED,
        started_at=1795799410.878138,
        answered_at=None,
        ended_at=1795799414.038189,
        ring=3,
        talk=0,
        hangup_cause=19,
    ),
    "inbound-abandoned": dict(
        uniqueid="eb81a1bf-58ed-433c-89e7-3a5052c0916b",
        disposition=Disposition.ABANDONED,
        started_at=1795799418.078181,
        answered_at=None,
        ended_at=1795799420.258144,
        ring=2,
        talk=0,
        hangup_cause=16,
    ),
}


def events(capture: str, rename: bool = True, only=None) -> list[dict[str, str]]:
    parser = esl.EslParser()
    out = []
    for msg in received(capture):
        for frame in parser.feed(adapt(msg) if rename else msg):
            if frame.content_type == "text/event-plain":
                event = esl.parse_event(frame.body).headers
                if only is None or event["Event-Name"] in only:
                    out.append(event)
    return out


def replay(evs, state=None):
    state = CallState() if state is None else state
    return [r for r in (state.feed(e) for e in evs) if r is not None], state


@pytest.mark.parametrize("capture", sorted(EXPECTED))
def test_capture_makes_one_record(capture):
    want = EXPECTED[capture]
    records, state = replay(events(capture))
    assert len(records) == 1 and len(state) == 0  # the business-line leg is not a tracked call
    r = records[0]
    assert r.uniqueid == want["uniqueid"]
    assert r.disposition is want["disposition"]
    assert r.started_at == pytest.approx(want["started_at"])
    assert r.answered_at == (None if want["answered_at"] is None else pytest.approx(want["answered_at"]))
    assert r.ended_at == pytest.approx(want["ended_at"])
    assert (r.ring_seconds, r.talk_seconds) == (want["ring"], want["talk"])
    assert r.hangup_cause == want["hangup_cause"]
    if want["disposition"] is Disposition.ANSWERED:  # RECORD_START's file
        assert r.recording == f"/var/lib/freeswitch/recordings/{want['uniqueid']}.wav"
    else:  # the file holds ringing / early media only (record_ms 2580 / 1580 in the captures)
        assert r.recording is None
    assert r.tracking_number == "15551230001"  # 555-123-xxxx is not a real number: kept as dialed
    assert (r.caller_number, r.caller_name) == ("+15035550123", "Bob Caller")
    assert r.pbx == "freeswitch" and r.source is None


def test_all_three_calls_interleaved_in_one_stream():
    records, state = replay(events("inbound-answered") + events("inbound-missed") + events("inbound-abandoned"))
    assert [r.disposition for r in records] == [Disposition.ANSWERED, Disposition.MISSED, Disposition.ABANDONED]
    assert len(state) == 0


def test_only_the_subscribed_events_are_needed():
    everything = events("inbound-answered")
    subscribed = events("inbound-answered", only=set(EVENTS))
    assert len(subscribed) < len(everything)
    assert replay(subscribed)[0] == replay(everything)[0]


def test_calls_without_the_dialplan_marker_are_not_logged():
    records, state = replay(events("inbound-answered", rename=False))
    assert records == [] and len(state) == 0


def test_hangup_alone_makes_the_record():
    """A listener that connected mid-call sees only the hangup; the record is the same but for
    the recording, which then comes from CTRACK_RECORDING_FILE (set by the route)."""
    hangups = [e for e in events("inbound-answered") if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"]
    full = replay(events("inbound-answered"))[0][0]
    alone = replay(hangups)[0][0]
    assert (alone.disposition, alone.answered_at, alone.talk_seconds) == (full.disposition, full.answered_at, 4)
    assert alone.recording is None
    tracked = next(e for e in hangups if e["Unique-ID"] == full.uniqueid)
    with_file = dict(tracked, **{"variable_" + v.RECORDING_FILE: "/rec/a.wav"})
    assert completed_call(with_file).recording == "/rec/a.wav"
    assert completed_call(dict(with_file, variable_record_ms="0")).recording is None


@pytest.mark.parametrize(
    "changes",
    [
        {},  # missed, as captured: 2580 ms of ringing recorded
        {"variable_DIALSTATUS": "BUSY", "variable_hangup_cause": "USER_BUSY", "variable_record_ms": "20"},
        {"variable_DIALSTATUS": "CANCEL", "variable_record_ms": "5500"},
    ],
    ids=["missed", "busy", "abandoned"],
)
def test_an_unanswered_call_lists_no_recording(changes):
    """record_session starts before the bridge, so even RECORD_START's file is ringing only."""
    evs = events("inbound-missed")
    tracked = EXPECTED["inbound-missed"]["uniqueid"]
    for e in evs:
        if e.get("Unique-ID") == tracked:
            e.update(changes, **{"variable_" + v.RECORDING_FILE: f"/var/lib/freeswitch/recordings/{tracked}.wav"})
    (record,) = replay(evs)[0]
    assert record.answered_at is None and record.disposition is not Disposition.ANSWERED
    assert record.recording is None
    assert completed_call(next(e for e in reversed(evs) if e.get("Unique-ID") == tracked)).recording is None


def test_route_variables_become_attribution():
    tracked = next(
        e
        for e in events("inbound-missed")
        if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" and e.get("variable_" + v.DID)
    )
    record = completed_call(
        dict(
            tracked,
            **{
                "variable_" + v.SOURCE: "Google Ads",
                "variable_" + v.CHANNEL: "paid_search",
                "variable_" + v.VISIT_ID: "vis-1",
                "variable_" + v.TRACKING_NUMBER: "+15551230001",
            },
        )
    )
    assert (record.source, record.channel, record.visit_id) == ("Google Ads", "paid_search", "vis-1")


@pytest.mark.parametrize(
    "fixture", ["hangup-complete-tracked-leg-sip.json", "hangup-complete-tracked-leg-loopback.json"]
)
def test_answered_is_the_bridge_not_the_inbound_answer(fixture):
    event = {k.replace("calltrack_did", v.DID): val for k, val in json.loads((FIXTURES / fixture).read_text()).items()}
    record = completed_call(event)
    assert record.disposition is Disposition.ANSWERED
    assert record.answered_at == int(event["variable_bridge_uepoch"]) / 1e6
    assert record.answered_at > int(event["variable_answer_uepoch"]) / 1e6
    assert record.talk_seconds == 6 and record.ring_seconds == 0
    assert record.caller_number == "15559870002"


@pytest.mark.parametrize(
    "kw, want",
    [
        (dict(dialstatus="BUSY", originate="USER_BUSY", cause="USER_BUSY"), Disposition.BUSY),
        (
            dict(dialstatus="CHANUNAVAIL", originate="CHANNEL_UNACCEPTABLE", cause="CHANNEL_UNACCEPTABLE"),
            Disposition.FAILED,
        ),
        (dict(dialstatus="INVALIDARGS", originate="NO_ROUTE_DESTINATION", cause="NORMAL_CLEARING"), Disposition.FAILED),
        (dict(dialstatus=None, originate=None, cause="NORMAL_CLEARING", caller_hung_up=True), Disposition.ABANDONED),
        (dict(dialstatus=None, originate=None, cause="NORMAL_CLEARING", caller_hung_up=False), Disposition.FAILED),
        (dict(dialstatus=None, originate=None, cause="ORIGINATOR_CANCEL"), Disposition.ABANDONED),
        (dict(dialstatus="NOANSWER", originate="NO_ANSWER", cause="NORMAL_CLEARING"), Disposition.MISSED),
        (dict(dialstatus=None, originate=None, cause="NO_USER_RESPONSE"), Disposition.MISSED),
        (
            dict(dialstatus=None, originate=None, cause="DESTINATION_OUT_OF_ORDER", caller_hung_up=False),
            Disposition.FAILED,
        ),
    ],
)
def test_classify(kw, want):
    kw.setdefault("caller_hung_up", False)
    assert classify(bridged=False, last_app="hangup", **kw) is want


def test_classify_voicemail_and_answered():
    assert (
        classify(
            bridged=False,
            dialstatus="NOANSWER",
            originate="NO_ANSWER",
            cause="NORMAL_CLEARING",
            last_app="voicemail",
            caller_hung_up=True,
        )
        is Disposition.VOICEMAIL
    )
    assert (
        classify(
            bridged=True,
            dialstatus="SUCCESS",
            originate="SUCCESS",
            cause="NORMAL_CLEARING",
            last_app="bridge",
            caller_hung_up=True,
        )
        is Disposition.ANSWERED
    )


def test_voicemail_answer_time_is_kept():
    tracked = next(
        e
        for e in events("inbound-missed")
        if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" and e.get("variable_" + v.DID)
    )
    record = completed_call(dict(tracked, variable_last_app="voicemail", variable_answer_uepoch="1795799412000000"))
    assert record.disposition is Disposition.VOICEMAIL
    assert record.answered_at == 1795799412.0 and record.talk_seconds == 0  # with a person only
    # voicemail answered the leg, so RECORD_ANSWER_REQ let record_session write the message
    recorded = dict(tracked, variable_last_app="voicemail", variable_answer_uepoch="1795799412000000")
    recorded["variable_" + v.RECORDING_FILE] = "/rec/vm.wav"
    assert completed_call(recorded).recording == "/rec/vm.wav"


def create(uid: str, at_us: int, direction: str = "inbound") -> dict[str, str]:
    return {
        "Event-Name": "CHANNEL_CREATE",
        "Unique-ID": uid,
        "Call-Direction": direction,
        "Event-Date-Timestamp": str(at_us),
    }


def test_memory_is_bounded():
    state = CallState(max_calls=5)
    for i in range(20):
        state.feed(create(f"u{i}", 1_000_000 * i))
    assert len(state) == 5 and state.dropped == 15
    state.feed(create("b-leg", 1, direction="outbound"))
    assert len(state) == 5


def test_calls_without_hangup_expire():
    state = CallState(max_age=3600)
    state.feed(create("old", 1_000_000_000 * 1_000_000))
    state.feed(create("new", (1_000_000_000 + 3000) * 1_000_000))
    assert state.expire(1_000_000_000 + 3700) == []  # not tracked: forgotten
    assert len(state) == 1 and state.dropped == 1


def test_a_tracked_call_without_hangup_is_still_logged():
    """As on Asterisk: once given up, a call seen to be tracked comes out marked expired."""
    state = CallState(max_age=3600)
    answered = [
        e
        for e in events("inbound-answered")
        if e["Event-Name"] in EVENTS and e["Event-Name"] != "CHANNEL_HANGUP_COMPLETE"
    ]
    replay(answered, state)
    (record,) = state.expire(1795799402 + 3601)
    assert record.uniqueid == EXPECTED["inbound-answered"]["uniqueid"]
    assert record.extra == {"expired": "1"} and record.ended_at is None
    assert record.disposition is Disposition.ANSWERED
    assert record.answered_at == pytest.approx(EXPECTED["inbound-answered"]["answered_at"])
    assert record.recording.endswith("9204c0cf-cad3-4ef1-98b9-5379f5411439.wav")
    assert len(state) == 0
