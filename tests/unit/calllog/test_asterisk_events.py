"""The call state machine: the real captures, then one synthetic call per rule."""

import pytest

from ctrack.asterisk.ami_protocol import AmiParser
from ctrack.calllog.asterisk_events import CallTracker, unescape
from ctrack.core import variables as v
from ctrack.core.model import Disposition
from tests.support.fixtures_ami import load, renamed, wire


def run(events, tracker=None, **options):
    tracker = CallTracker(**options) if tracker is None else tracker
    records = [record for event in events for record in tracker.process(event)]
    return records, tracker


# -- the captures ------------------------------------------------------------------------


def test_sipp_answered_with_the_route_down():
    """As captured: no CTRACK_* variables, so the call is found by its context alone."""
    [call], tracker = run(load("sipp-answered"), inbound_contexts={"from-trunk"})
    assert len(tracker) == 0
    assert call.uniqueid == "1795798665.12"
    assert call.disposition is Disposition.ANSWERED
    assert call.tracking_number == "15551230001"  # 555-123 numbers do not parse: kept as dialed
    assert (call.caller_number, call.caller_name) == ("+15035550123", "Bob Caller")
    assert call.source is None and call.visit_id is None
    assert call.started_at == pytest.approx(1795798665.007900)  # Newchannel
    assert call.answered_at == pytest.approx(1795798665.010710)  # DialEnd ANSWER
    assert call.ended_at == pytest.approx(1795798669.447831)  # the trunk's Hangup
    assert (call.ring_seconds, call.talk_seconds) == (0, 4)  # the CDR says billsec 4
    assert call.hangup_cause == 16
    assert call.recording == "/var/spool/asterisk/monitor/ct-15551230001-1795798665.12.wav"
    assert call.extra == {
        "dial_status": "ANSWER",
        "cdr_disposition": "ANSWERED",
        "answered_by": "Local/s@business-line",
    }


def heard_late(events, delay_from: str, delay: float):
    """The events without Timestamp headers (manager.conf timestampevents = no), as a clock
    reads them on arrival: on time until the first `delay_from` event, then `delay` s late."""
    clock = {"now": 0.0}
    late = 0.0
    out = []
    for event in events:
        if event.get("Event") == delay_from:
            late = delay
        stamp = float(event["Timestamp"])
        out.append((stamp + late, {k: val for k, val in event.items() if k != "Timestamp"}))
    return out, clock


@pytest.mark.parametrize("cdr_first", [True, False], ids=["cdr-before-hangup", "cdr-after-hangup"])
def test_without_event_timestamps_durations_are_asterisks_own(cdr_first):
    """A daemon that hears the hangup 10 s late still stores the call's own talk time, from
    the Dial CDR's Duration and BillableSeconds, whether that CDR comes before or after it."""
    events, clock = heard_late(load("sipp-answered"), "Hangup", 10.0)
    if not cdr_first:  # move the trunk's Dial CDR after its Hangup
        cdr = next(
            i for i, (_, e) in enumerate(events) if e.get("Event") == "Cdr" and e.get("LastApplication") == "Dial"
        )
        hangup = max(i for i, (_, e) in enumerate(events) if e.get("Event") == "Hangup")
        events.insert(hangup, events.pop(cdr))
    tracker = CallTracker(inbound_contexts={"from-trunk"}, clock=lambda: clock["now"])
    records = []
    for at, event in events:
        clock["now"] = at
        records += tracker.process(event)
    [call] = records
    assert call.started_at == pytest.approx(1795798665.007900)  # heard on time
    assert call.ended_at == pytest.approx(1795798665.007900 + 4)  # the CDR's Duration, not +10 s
    assert (call.ring_seconds, call.talk_seconds) == (0, 4)


def test_without_event_timestamps_or_cdr_the_times_are_as_heard():
    """cdr_manager off: the call waits CDR_WAIT_SECONDS for a CDR that never comes, then is
    saved with the times it was heard at."""
    events, clock = heard_late([e for e in load("sipp-answered") if e.get("Event") != "Cdr"], "Hangup", 10.0)
    tracker = CallTracker(inbound_contexts={"from-trunk"}, clock=lambda: clock["now"])
    records = []
    for at, event in events:
        clock["now"] = at
        records += tracker.process(event)
    assert records == []
    clock["now"] += 6
    [call] = tracker.expire()
    assert call.ended_at == pytest.approx(1795798669.447831 + 10)
    assert call.disposition is Disposition.ANSWERED


def test_sipp_answered_with_the_route():
    [call], _ = run(renamed(load("sipp-answered")), inbound_contexts={"from-trunk"})
    assert call.source == "google-ads"
    assert call.disposition is Disposition.ANSWERED


def test_sipp_missed():
    [call], tracker = run(renamed(load("sipp-missed")))  # found by its CTRACK_DID, no context needed
    assert len(tracker) == 0
    assert call.uniqueid == "1795798671.15"
    assert call.disposition is Disposition.MISSED  # DialEnd NOANSWER, cause 19
    assert call.source == "facebook"
    assert call.tracking_number == "15551230002"
    assert call.answered_at is None
    assert call.ended_at - call.started_at == pytest.approx(4.004674)
    assert (call.ring_seconds, call.talk_seconds) == (4, 0)
    assert call.hangup_cause == 19
    assert call.extra == {"dial_status": "NOANSWER", "cdr_disposition": "NO ANSWER"}


def test_originate_through_local_channels():
    """The Local ;2 half ran the dialplan and the route: it is the inbound leg, not the ;1 root."""
    [call], tracker = run(renamed(load("originate-answered")), inbound_contexts={"from-trunk"})
    assert len(tracker) == 0
    assert call.uniqueid == "1795798651.1"  # = agi_uniqueid = its CDR UniqueID
    assert call.extra == {"linkedid": "1795798651.0", "dial_status": "ANSWER", "answered_by": "Local/s@business-line"}
    assert (call.caller_number, call.caller_name) == ("+15035550111", "Alice Example")
    assert call.disposition is Disposition.ANSWERED
    assert call.source == "google-ads"
    assert call.answered_at == pytest.approx(1795798651.751192)
    assert call.ended_at == pytest.approx(1795798656.174411)
    assert call.talk_seconds == 4
    assert call.recording == "/var/spool/asterisk/monitor/ct-15551230001-1795798651.1.wav"


def test_calls_nobody_claims_leave_nothing_behind():
    for name in ("sipp-answered", "sipp-missed", "originate-answered"):
        records, tracker = run(load(name))  # no inbound context, no ctrack variable
        assert records == [] and len(tracker) == 0


@pytest.mark.parametrize("size", [1, 13, 4096])
def test_from_wire_bytes_to_records(size):
    data = b"".join(wire(name, banner=(name == "sipp-answered")) for name in ("sipp-answered", "sipp-missed"))
    parser, tracker = AmiParser(), CallTracker(inbound_contexts={"from-trunk"})
    records = []
    for i in range(0, len(data), size):
        for message in parser.feed(data[i : i + size]):
            records += tracker.process(message)
    assert [r.disposition for r in records] == [Disposition.ANSWERED, Disposition.MISSED]


# -- synthetic calls, one rule each ------------------------------------------------------

T0 = 1800000000.0
IN = {
    "Channel": "PJSIP/trunk-00000001",
    "Uniqueid": "1.1",
    "Linkedid": "1.1",
    "Context": "from-trunk",
    "Exten": "15035550101",
    "CallerIDNum": "5035550123",
    "CallerIDName": "Bob",
}
OUT = {
    "Channel": "Local/s@business-line-00000001;1",
    "Uniqueid": "1.2",
    "Linkedid": "1.1",
    "Context": "business-line",
    "Exten": "s",
    "CallerIDNum": "15035550101",
    "CallerIDName": "<unknown>",
}
OUT2 = {**OUT, "Channel": "Local/s@business-line-00000001;2", "Uniqueid": "1.3"}


def ev(name, at, leg, **headers):
    return {"Event": name, "Timestamp": f"{T0 + at:.6f}", **leg, **headers}


def call(*middle, cause="16", end=10.0, **options):
    """One inbound call: Newchannel at 0, the given events, the inbound Hangup at `end`."""
    events = [
        ev("Newchannel", 0, IN),
        ev("Newchannel", 0.1, OUT),
        ev("Newchannel", 0.1, OUT2),
        *middle,
        ev("Hangup", end, IN, Cause=cause),
    ]
    records, tracker = run(events, inbound_contexts={"from-trunk"}, **options)
    assert len(tracker) == 0
    [record] = records
    return record


def dial(at, status, end_at=None):
    return [
        ev("DialBegin", at, IN, DestUniqueid="1.2"),
        ev("DialEnd", end_at if end_at is not None else at + 0.5, IN, DestUniqueid="1.2", DialStatus=status),
    ]


def test_answered_by_dial():
    record = call(*dial(1, "ANSWER", end_at=4.0), ev("BridgeEnter", 4.1, IN, BridgeUniqueid="b", BridgeNumChannels="2"))
    assert record.disposition is Disposition.ANSWERED
    assert (record.answered_at - T0, record.ring_seconds, record.talk_seconds) == (4.0, 4, 6)
    assert record.caller_number == "+15035550123" and record.tracking_number == "+15035550101"


@pytest.mark.parametrize("first, second", [(OUT, IN), (IN, OUT)])
def test_answered_by_bridge_without_dial_events(first, second):
    record = call(
        ev("BridgeEnter", 3.0, first, BridgeUniqueid="b", BridgeNumChannels="1"),
        ev("BridgeEnter", 3.5, second, BridgeUniqueid="b", BridgeNumChannels="2"),
    )
    assert record.disposition is Disposition.ANSWERED
    assert record.answered_at == T0 + 3.5


def test_a_bridge_alone_is_not_an_answer():
    record = call(
        ev("BridgeEnter", 3.0, IN, BridgeUniqueid="hold", BridgeNumChannels="1"),
        ev("BridgeEnter", 3.5, OUT, BridgeUniqueid="other", BridgeNumChannels="2"),
        ev("HangupRequest", 9, IN),
    )
    assert record.disposition is Disposition.ABANDONED and record.answered_at is None


@pytest.mark.parametrize(
    "status, cause, disposition",
    [
        ("NOANSWER", "19", Disposition.MISSED),
        ("BUSY", "17", Disposition.BUSY),
        ("CANCEL", "16", Disposition.ABANDONED),
        ("CHANUNAVAIL", "34", Disposition.FAILED),
        ("CONGESTION", "34", Disposition.FAILED),
    ],
)
def test_dial_status_decides_unanswered_calls(status, cause, disposition):
    record = call(*dial(1, status, end_at=5), cause=cause)
    assert record.disposition is disposition
    assert record.answered_at is None and record.talk_seconds == 0 and record.ring_seconds == 10
    assert record.hangup_cause == int(cause)
    assert record.extra["dial_status"] == status


def test_caller_hangs_up_while_ringing_without_a_dialend():
    assert call(ev("DialBegin", 1, IN)).disposition is Disposition.ABANDONED


def test_forked_dial_last_status_and_answer_wins():
    busy_then_noanswer = [
        ev("DialBegin", 1, IN),
        ev("DialBegin", 1, IN),
        ev("DialEnd", 1.2, IN, DialStatus="BUSY"),
        ev("DialEnd", 9, IN, DialStatus="NOANSWER"),
    ]
    assert call(*busy_then_noanswer, cause="19").disposition is Disposition.MISSED
    answer_then_cancel = [
        ev("DialBegin", 1, IN),
        ev("DialBegin", 1, IN),
        ev("DialEnd", 2, IN, DialStatus="ANSWER"),
        ev("DialEnd", 2, IN, DialStatus="CANCEL"),
    ]
    assert call(*answer_then_cancel).disposition is Disposition.ANSWERED


def test_caller_hangs_up_before_any_dial_is_abandoned():
    # e.g. during the recording consent prompt: HangupRequest = the caller's side hung up
    record = call(ev("HangupRequest", 4, IN, Cause="16"), ev("SoftHangupRequest", 4, IN, Cause="16"))
    assert record.disposition is Disposition.ABANDONED


@pytest.mark.parametrize(
    "cause, disposition",
    [
        ("16", Disposition.FAILED),
        ("34", Disposition.FAILED),
        ("17", Disposition.BUSY),
        ("19", Disposition.MISSED),
        ("", Disposition.FAILED),
    ],
)
def test_the_pbx_ending_a_call_that_never_dialed(cause, disposition):
    record = call(ev("SoftHangupRequest", 2, IN, Cause="16"), cause=cause)
    assert record.disposition is disposition
    assert record.hangup_cause == (int(cause) if cause else None)


def test_voicemail_after_no_answer():
    record = call(*dial(1, "NOANSWER", end_at=20), ev("Newexten", 20.1, IN, Application="VoiceMail"), end=45)
    assert record.disposition is Disposition.VOICEMAIL
    assert record.answered_at == T0 + 20.1  # VoiceMail answered
    assert (record.ring_seconds, record.talk_seconds) == (20, 0)  # talk seconds are with a person only


def test_voicemail_behind_a_local_channel():
    record = call(
        ev("DialBegin", 1, IN),
        ev("Newexten", 15, OUT2, Application="Voicemail"),
        ev("DialEnd", 15.01, IN, DialStatus="ANSWER"),
        end=40,
    )
    assert record.disposition is Disposition.VOICEMAIL
    assert record.answered_at == T0 + 15.01


def test_voicemail_after_a_conversation_is_still_answered():
    record = call(*dial(1, "ANSWER"), ev("Newexten", 30, OUT2, Application="VoiceMail"), end=60)
    assert record.disposition is Disposition.ANSWERED


def varset(at, leg, name, value):
    return ev("VarSet", at, leg, Variable=name, Value=value)


def test_route_variables_fill_the_record():
    record = call(
        varset(0.01, IN, v.INBOUND, "1"),
        varset(0.01, IN, "__" + v.DID, "15035550101"),
        varset(0.02, IN, v.UNIQUEID, "1.1"),
        varset(0.02, IN, v.TRACKING_NUMBER, "+15035550109"),
        varset(0.02, IN, v.SOURCE, "Google Ads"),
        varset(0.02, IN, v.CHANNEL, "paid_search"),
        varset(0.02, IN, v.VISIT_ID, "v-42"),
        varset(0.02, IN, v.RECORD, "1"),
        varset(0.02, IN, v.RECORDING_FILE, "ctrack-x.wav"),
        varset(0.02, IN, v.ROUTE_STATUS, "ok"),
        varset(0.03, OUT, "__" + v.DID, "15035550101"),  # inherited copy on the callee leg
        *dial(1, "ANSWER"),
    )
    assert record.tracking_number == "+15035550109"  # the route's number wins over the DID
    assert (record.source, record.channel, record.visit_id) == ("Google Ads", "paid_search", "v-42")
    assert record.recording == "ctrack-x.wav"  # no MixMonitor seen: the route's name
    assert record.extra["route"] == "ok"


def test_mixmonitor_path_wins_and_empty_values_are_none():
    record = call(
        varset(0.02, IN, v.SOURCE, ""),
        varset(0.02, IN, v.RECORD, "1"),
        varset(0.02, IN, v.RECORDING_FILE, "ctrack-x.wav"),
        varset(0.5, IN, "MIXMONITOR_FILENAME", "/var/spool/asterisk/monitor/ctrack-x.wav"),
        varset(0.6, OUT, "MIXMONITOR_FILENAME", "/var/spool/asterisk/monitor/other.wav"),
    )
    assert record.recording == "/var/spool/asterisk/monitor/ctrack-x.wav"
    assert record.source is None


def test_recording_only_when_asked():
    record = call(varset(0.02, IN, v.RECORD, "0"), varset(0.02, IN, v.RECORDING_FILE, "ctrack-x.wav"))
    assert record.recording is None


def test_did_from_the_dialplan_when_exten_is_s():
    leg = {**IN, "Exten": "s"}
    events = [ev("Newchannel", 0, leg), varset(0.01, leg, "__" + v.DID, "+15035550101"), ev("Hangup", 5, leg)]
    [record], _ = run(events)  # claimed by CTRACK_DID alone
    assert record.tracking_number == "+15035550101"
    no_did = [ev("Newchannel", 0, leg), varset(0.01, leg, v.INBOUND, "1"), ev("Hangup", 5, leg)]
    assert run(no_did)[0][0].tracking_number is None


def test_inbound_marker_claims_the_leg_and_zero_does_not():
    unmarked = [ev("Newchannel", 0, IN), varset(0.01, IN, v.INBOUND, "0"), ev("Hangup", 5, IN)]
    records, tracker = run(unmarked)
    assert records == [] and len(tracker) == 0
    marked = [ev("Newchannel", 0, IN), varset(0.01, IN, v.INBOUND, "1"), ev("Hangup", 5, IN)]
    assert run(marked)[0][0].uniqueid == "1.1"


def test_a_later_leg_takes_over_only_from_a_context_guess():
    # the root was guessed from its context; the ;2 leg then ran ctrack's dialplan
    events = [
        ev("Newchannel", 0, IN),
        ev("Newchannel", 0.1, OUT2),
        varset(0.2, OUT2, v.INBOUND, "1"),
        ev("Hangup", 5, IN),
        ev("Hangup", 5.1, OUT2),
    ]
    [record], _ = run(events, inbound_contexts={"from-trunk"})
    assert record.uniqueid == "1.3" and record.started_at == T0 + 0.2 and record.ended_at == T0 + 5.1
    # once a leg has claimed the call, nobody else can
    events = [
        ev("Newchannel", 0, IN),
        varset(0.01, IN, v.INBOUND, "1"),
        ev("Newchannel", 0.1, OUT2),
        varset(0.2, OUT2, v.INBOUND, "1"),
        ev("Hangup", 5, OUT2),
        ev("Hangup", 6, IN),
    ]
    [record], _ = run(events)
    assert record.uniqueid == "1.1" and record.ended_at == T0 + 6


def test_other_legs_hanging_up_do_not_end_the_call():
    record = call(*dial(1, "ANSWER"), ev("Hangup", 8, OUT2, Cause="16"), ev("Hangup", 8, OUT, Cause="16"))
    assert record.ended_at == T0 + 10


def cdr(at, disposition, billsec, app="Dial", uid="1.1"):
    return {
        "Event": "Cdr",
        "Timestamp": f"{T0 + at:.6f}",
        "UniqueID": uid,
        "LastApplication": app,
        "Disposition": disposition,
        "BillableSeconds": billsec,
    }


def test_cdr_stands_in_for_missing_dial_events():
    record = call(cdr(9.99, "ANSWERED", "7"))
    assert record.disposition is Disposition.ANSWERED and record.answered_at == T0 + 3
    assert record.extra["cdr_disposition"] == "ANSWERED"
    assert call(cdr(9.99, "NO ANSWER", "0")).disposition is Disposition.MISSED
    assert call(ev("HangupRequest", 9, IN), cdr(9.99, "NO ANSWER", "0")).disposition is Disposition.ABANDONED
    assert call(cdr(9.99, "BUSY", "0"), cause="16").disposition is Disposition.BUSY


def test_only_the_inbound_dial_cdr_counts():
    record = call(cdr(9.9, "ANSWERED", "7", app="Playback"), cdr(9.9, "ANSWERED", "7", uid="1.3"))
    assert record.disposition is Disposition.FAILED and "cdr_disposition" not in record.extra
    # the missed capture's second CDR (LastApplication=Hangup) does not overwrite the Dial one
    record = call(*dial(1, "NOANSWER"), cdr(9.9, "NO ANSWER", "0"), cdr(9.95, "FAILED", "0", app="Hangup"))
    assert record.extra["cdr_disposition"] == "NO ANSWER"


def test_cdr_disagreeing_with_events_is_reported_not_trusted():
    record = call(*dial(1, "ANSWER"), cdr(9.9, "NO ANSWER", "0"))
    assert record.disposition is Disposition.ANSWERED
    assert record.extra["cdr_disposition"] == "NO ANSWER"


def test_unrelated_events_are_ignored_cheaply():
    tracker = CallTracker(inbound_contexts={"from-trunk"})
    for event in [
        {"Event": "TestEvent", "State": ["a", "b"]},
        {"Event": "FullyBooted"},
        {},
        {"Response": "Success"},
        ev("Hangup", 1, IN),
        ev("DialEnd", 1, IN, DialStatus="ANSWER"),
        {"Event": "VarSet"},
        ev("VarSet", 1, IN, Variable="SIPDOMAIN", Value="x"),
        {"Event": "Cdr", "UniqueID": "9.9"},
        {"Event": "DialBegin", "DestUniqueid": "1.1"},
        {"Event": "Newchannel"},
    ]:
        assert tracker.process(event) == ()
    assert len(tracker) == 0


def test_missing_timestamps_use_the_clock():
    events = [
        {k: v for k, v in e.items() if k != "Timestamp"}
        for e in [ev("Newchannel", 0, IN), ev("Hangup", 1, IN, Cause="16")]
    ]
    [record], _ = run(events, inbound_contexts={"from-trunk"}, clock=lambda: 1234.5)
    assert (record.started_at, record.ended_at) == (1234.5, 1234.5)


def test_callers_without_a_number_or_name():
    leg = {**IN, "CallerIDNum": "anonymous", "CallerIDName": "<unknown>"}
    [record], _ = run([ev("Newchannel", 0, leg), ev("Hangup", 1, leg)], inbound_contexts={"from-trunk"})
    assert (record.caller_number, record.caller_name) == (None, None)
    assert record.extra["caller_anonymous"] == "1"  # withheld, not absent
    nobody = {**IN, "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>"}
    [record], _ = run([ev("Newchannel", 0, nobody), ev("Hangup", 1, nobody)], inbound_contexts={"from-trunk"})
    assert record.caller_number is None and "caller_anonymous" not in record.extra


# -- memory bounds -----------------------------------------------------------------------


def leg(n, context="from-trunk"):
    return {**IN, "Uniqueid": f"{n}.1", "Linkedid": f"{n}.1", "Context": context}


def test_calls_without_a_hangup_expire():
    tracker = CallTracker(inbound_contexts={"from-trunk"}, max_call_seconds=3600)
    run(
        [
            ev("Newchannel", 0, leg(1)),
            *dial(1, "ANSWER"),
            ev("Newchannel", 10, leg(2, "internal")),
            ev("Newchannel", 3000, leg(3)),
        ],
        tracker,
    )
    assert len(tracker) == 3
    assert tracker.expire(now=T0 + 3599) == []
    [expired] = tracker.expire(now=T0 + 3611)  # call 2 is not inbound: dropped silently
    assert expired.uniqueid == "1.1" and expired.extra["expired"] == "1"
    assert expired.ended_at is None and expired.hangup_cause is None
    assert len(tracker) == 1
    assert tracker.process(ev("Hangup", 3700, leg(1))) == ()  # too late: already emitted
    [last] = tracker.process(ev("Hangup", 3700, leg(3)))
    assert last.uniqueid == "3.1" and "expired" not in last.extra
    assert len(tracker) == 0


def test_expiry_uses_the_clock_by_default():
    tracker = CallTracker(inbound_contexts={"from-trunk"}, max_call_seconds=60, clock=lambda: T0 + 61)
    tracker.process(ev("Newchannel", 0, leg(1)))
    assert [r.uniqueid for r in tracker.expire()] == ["1.1"]


def test_too_many_calls_expire_the_oldest():
    tracker = CallTracker(inbound_contexts={"from-trunk"}, max_calls=2)
    assert tracker.process(ev("Newchannel", 0, leg(1))) == ()
    assert tracker.process(ev("Newchannel", 1, leg(2, "internal"))) == ()
    [evicted] = tracker.process(ev("Newchannel", 2, leg(3)))
    assert evicted.uniqueid == "1.1" and evicted.extra["expired"] == "1"
    assert tracker.process(ev("Newchannel", 3, leg(4))) == ()  # call 2 goes silently
    assert len(tracker) == 2


# Strings exactly as Asterisk 22 sent them over AMI on the test PBX: it C-escapes caller
# names and VarSet values (ast_escape_c), the AGI environment is raw.
ESCAPED_NAME = r"O\'Brien\? Zoë"
ESCAPED_SOURCE = r"Google \"Ads\" \\ back\\slash O\'Brien\? tab\there"


def test_unescape():
    assert unescape(ESCAPED_NAME) == "O'Brien? Zoë"
    assert unescape(ESCAPED_SOURCE) == 'Google "Ads" \\ back\\slash O\'Brien? tab\there'
    assert unescape(r"a\nb\\n\x") == "a\nb\\nx"
    assert unescape("trailing\\") == "trailing\\"
    assert unescape("plain") == "plain"


def test_escaped_names_and_values_come_out_as_set():
    leg = {**IN, "CallerIDName": ESCAPED_NAME}
    [record], _ = run(
        [ev("Newchannel", 0, leg), varset(0.1, leg, v.SOURCE, ESCAPED_SOURCE), ev("Hangup", 1, leg)],
        inbound_contexts={"from-trunk"},
    )
    assert record.caller_name == "O'Brien? Zoë"
    assert record.source == 'Google "Ads" \\ back\\slash O\'Brien? tab\there'


# -- Asterisk killed mid-call ----------------------------------------------------------------


def booted(at, uptime):
    return {"Event": "FullyBooted", "Timestamp": f"{T0 + at:.6f}", "Status": "Fully Booted", "Uptime": str(uptime)}


def test_a_new_asterisk_process_closes_the_calls_the_old_one_had_up():
    tracker = CallTracker(inbound_contexts={"from-trunk"})
    second = {**IN, "Uniqueid": "2.1", "Linkedid": "2.1"}
    records, _ = run(
        [
            booted(-100, 500),  # this Asterisk started at T0 - 600
            ev("Newchannel", 0, IN),
            *dial(1, "ANSWER", end_at=3.0),
            ev("Newchannel", 5, second),
            ev("DialBegin", 6, second, DestUniqueid="2.2"),  # still ringing
            ev("Newchannel", 7, leg(3, "internal")),  # not inbound: forgotten silently
            booted(20, 620),  # an AMI reconnect to the same process: nothing ends
        ],
        tracker,
    )
    assert records == [] and len(tracker) == 3
    tracker.connection_lost(T0 + 40.0)  # SIGKILL: the AMI socket closes at once
    answered, ringing = tracker.process(booted(45, 2))  # a new process, up since T0 + 43
    assert len(tracker) == 0
    assert (answered.uniqueid, answered.disposition) == ("1.1", Disposition.ANSWERED)
    assert (answered.answered_at - T0, answered.ended_at - T0, answered.talk_seconds) == (3.0, 40.0, 37)
    assert answered.extra["ended_by"] == "pbx_restart" and answered.hangup_cause is None
    assert answered.caller_number == "+15035550123" and answered.tracking_number == "+15035550101"
    assert (ringing.uniqueid, ringing.disposition, ringing.ring_seconds) == ("2.1", Disposition.FAILED, 35)
    assert ringing.extra["ended_by"] == "pbx_restart"
    # the old process's Hangups can no longer come; the new one's calls are tracked afresh
    assert tracker.process(ev("Hangup", 50, IN)) == ()
    assert tracker.process(booted(60, 17)) == ()


def test_a_restart_without_a_lost_link_ends_calls_at_their_last_event():
    tracker = CallTracker(inbound_contexts={"from-trunk"})
    run([booted(0, 10), ev("Newchannel", 1, IN), *dial(2, "ANSWER", end_at=4.0)], tracker)
    [record] = tracker.process(booted(3600, 5))
    assert (record.ended_at - T0, record.talk_seconds, record.extra["ended_by"]) == (4.0, 0, "pbx_restart")


def test_uptime_within_the_tolerance_is_the_same_process():
    tracker = CallTracker(inbound_contexts={"from-trunk"})
    run([booted(0, 100), ev("Newchannel", 1, IN)], tracker)
    assert tracker.process(booted(50.9, 148)) == ()  # whole seconds, a late delivery
    assert tracker.process({"Event": "FullyBooted", "Status": "Fully Booted"}) == ()  # no Uptime: no judgement
    assert len(tracker) == 1


def test_sip_display_names_lose_their_quoted_pairs():
    # CallerIDName as AMI sent it for the SIP display name "Bob \"The Builder\" O\\Brien"
    leg = {**IN, "CallerIDName": 'Bob \\\\\\"The Builder\\\\\\" O\\\\\\\\Brien'}
    [record], _ = run([ev("Newchannel", 0, leg), ev("Hangup", 1, leg)], inbound_contexts={"from-trunk"})
    assert record.caller_name == 'Bob "The Builder" O\\Brien'
