"""Dispositions behind the admin's routing, from the AMI events the test PBX sent (reduced to
the headers the tracker reads; tests/integration/test_dispositions.py makes the real calls)."""

from ctrack.calllog.asterisk_events import CallTracker, endpoint_of

IN = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "100.1", "Linkedid": "100.1"}


def ev(event: str, at: float, **fields: str) -> dict[str, str]:
    return {**IN, "Event": event, "Timestamp": str(at), **fields}


def start(did: str = "15035550891") -> list[dict[str, str]]:
    return [
        ev("Newchannel", 100.0, Context="from-trunk", Exten=did, CallerIDNum="15035550890"),
        ev("VarSet", 100.01, Variable="CTRACK_INBOUND", Value="1"),
        ev("VarSet", 100.02, Variable="CTRACK_SOURCE", Value="Yelp"),
    ]


def run(events: list[dict[str, str]]):
    tracker = CallTracker()
    records = [r for e in events for r in tracker.process(e)]
    assert len(records) == 1 and len(tracker) == 0
    return records[0]


def test_caller_leaving_the_ivr_was_answered_by_the_pbx_only():
    record = run(
        [
            *start(),
            ev("Newstate", 100.1, ChannelState="6", ChannelStateDesc="Up"),
            ev("HangupRequest", 104.1),
            ev("Hangup", 104.2, Cause="16"),
        ]
    )
    assert (record.disposition, record.answered_at, record.talk_seconds, record.ring_seconds) == (
        "pbx_answered",
        None,
        0,
        4,
    )


def test_queue_member_answers_and_the_wait_is_kept():
    agent = {"Channel": "PJSIP/qa2-00000004", "Uniqueid": "100.4", "Linkedid": "100.1"}
    record = run(
        [
            *start(),
            ev("Newstate", 100.1, ChannelState="6"),
            ev("Newexten", 100.2, Application="Queue", AppData="f1-sales"),
            ev("DialBegin", 100.3, DestChannel="PJSIP/qa2-00000004"),
            ev("DialEnd", 102.2, DialStatus="ANSWER", DestChannel="PJSIP/qa2-00000004"),
            ev("BridgeEnter", 102.3, BridgeUniqueid="b1", BridgeNumChannels="2"),
            {**agent, "Event": "Hangup", "Timestamp": "108.0"},
            ev("Hangup", 108.1, Cause="16"),
        ]
    )
    assert (record.disposition, record.ring_seconds, record.talk_seconds) == ("answered", 2, 6)
    assert record.extra["queue_wait_seconds"] == "2" and record.extra["answered_by"] == "PJSIP/qa2"


def test_caller_hanging_up_in_the_queue_abandoned_it():
    record = run(
        [
            *start(),
            ev("Newstate", 100.1, ChannelState="6"),
            ev("Newexten", 100.1, Application="Queue", AppData="f1-wait"),
            ev("HangupRequest", 104.1),
            ev("Cdr", 104.2, UniqueID="100.1", LastApplication="Queue", Disposition="ANSWERED"),
            ev("Hangup", 104.2, Cause="0"),
        ]
    )
    assert (record.disposition, record.talk_seconds, record.extra["queue_wait_seconds"]) == ("abandoned", 0, "4")
    assert "answered_by" not in record.extra


def test_voicemail_after_the_ring_group_keeps_the_time_until_the_message_was_saved():
    record = run(
        [
            *start(),
            ev("DialBegin", 100.1, DestChannel="Local/s@business-noanswer-00000000;1"),
            ev("DialEnd", 103.1, DialStatus="NOANSWER", DestChannel="Local/s@business-noanswer-00000000;1"),
            ev("Newexten", 103.1, Application="VoiceMail", AppData="100@f1,su"),
            ev("Newstate", 103.1, ChannelState="6"),
            ev("HangupRequest", 110.1),
            ev("VarSet", 110.1, Variable="VM_MESSAGEFILE", Value="/var/spool/asterisk/voicemail/f1/100/INBOX/msg0000"),
            ev("Hangup", 110.2, Cause="0"),
        ]
    )
    assert (record.disposition, record.ring_seconds, record.talk_seconds) == ("voicemail", 3, 0)
    assert record.extra["voicemail_seconds"] == "7"


def test_blind_transfer_keeps_one_call_and_names_the_last_person():
    record = run(
        [
            *start(),
            ev("DialBegin", 100.1, DestChannel="PJSIP/tx1-00000001"),
            ev("DialEnd", 101.1, DialStatus="ANSWER", DestChannel="PJSIP/tx1-00000001"),
            ev("BridgeEnter", 101.1, BridgeUniqueid="b1", BridgeNumChannels="2"),
            ev("DialBegin", 104.0, DestChannel="PJSIP/tx2-00000002"),  # transferred: a new Dial
            ev("DialEnd", 105.0, DialStatus="ANSWER", DestChannel="PJSIP/tx2-00000002"),
            ev("Hangup", 111.1, Cause="16"),
        ]
    )
    assert (record.disposition, record.ring_seconds, record.talk_seconds) == ("answered", 1, 10)
    assert record.extra["answered_by"] == "PJSIP/tx2"


def test_endpoint_of_drops_the_channel_instance():
    assert endpoint_of("PJSIP/qa2-0000001a") == "PJSIP/qa2"
    assert endpoint_of("Local/s@business-line-00000000;1") == "Local/s@business-line"
    assert endpoint_of(None) is None
