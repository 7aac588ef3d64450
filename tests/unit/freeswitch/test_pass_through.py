"""Pass-through on FreeSWITCH (a number's forward goto:CONTEXT[,EXTEN[,PRIORITY]]): ctrack
attributes the call, plays the consent prompt, starts record_session, then `transfer`s it into
the admin's own dialplan; the call log still makes one record with the disposition of what
happened there.

The route tests run against OutboundCall, which replays the captured outbound session and
models where socket_function sends the channel afterwards (socket_resume, transfer). The
call-log tests use the captured tracked leg, which really was transferred (public ->
calltrack, `variable_transfer_history`) and kept its UUID and variables across it.
"""

import dataclasses
import json
import logging

import pytest

from ctrack.calllog.freeswitch_events import CallState, completed_call
from ctrack.core import variables as v
from ctrack.core.model import Disposition, NumberKind, Source, TrackingNumber
from ctrack.freeswitch import esl_protocol as esl
from ctrack.freeswitch.outbound import OutboundSettings, serve_outbound, session_plan, transfer_target
from ctrack.route.rules import Catalog, decide
from ctrack.spam.rules import BlockList
from tests.support.freeswitch_peer import OUTBOUND, RAW, OutboundCall, adapt, received
from tests.unit.freeswitch.test_outbound import FS, multiset

# As a carrier delivers it. The captured call dialed 15551230001 (555-123 is no real number,
# so ctrack does not take it for a tracking number): the route handler here asks for this DID.
DID = "15035550142"
CATALOG = Catalog(
    numbers={
        "+15035550142": TrackingNumber(
            "+15035550142",
            NumberKind.STATIC,
            source="Google Ads",
            forward="goto:ivr-menu",
            record=True,
            whisper="custom/google-lead.wav",
        ),
    },
    sources={"Google Ads": Source("Google Ads", "paid_search")},
)


def router(forward="goto:ivr-menu", record=True):
    numbers = {n: dataclasses.replace(t, forward=forward, record=record) for n, t in CATALOG.numbers.items()}
    catalog = dataclasses.replace(CATALOG, numbers=numbers)

    async def handle(request):
        return decide(DID, request.uniqueid, request.at, catalog, FS)

    return handle


async def call_through(call: OutboundCall, handler, **settings) -> OutboundCall:
    server = await serve_outbound(handler, "127.0.0.1", 0, OutboundSettings(**settings))
    try:
        await call.run(server.sockets[0].getsockname()[1])
    finally:
        server.close()
    return call


@pytest.mark.parametrize(
    "goto, target",
    [
        ("ivr-menu,15551230001,1", "15551230001 XML ivr-menu"),
        ("public,+15035550101,1", "+15035550101 XML public"),
        ("ivr-3,s,menu", "s XML ivr-3"),  # FreeSWITCH has no priorities: left out
    ],
)
def test_transfer_target_is_exten_xml_context(goto, target):
    assert transfer_target(goto) == target


def test_plan_records_after_the_prompt_then_transfers_with_socket_resume_off():
    decision = decide(DID, "u-1", 1_795_798_228.0, CATALOG, FS)
    assert decision.goto == "ivr-menu,15035550142,1"  # the DID as dialed stays the extension
    plan = session_plan(decision, "/var/lib/freeswitch/recordings")
    assert [app for app, _ in plan] == ["multiset", "playback", "record_session", "set", "transfer"]
    assert plan[-2:] == [("set", "socket_resume=false"), ("transfer", "15035550142 XML ivr-menu")]
    values = multiset(plan[0][1])
    assert values[v.GOTO] == "ivr-menu,15035550142,1" and values[v.SOURCE] == "Google Ads"
    assert values["RECORD_ANSWER_REQ"] == "true"  # audio from whoever answers in the admin's dialplan
    assert "bridge_pre_execute_bleg_app" not in values  # whisper needs ctrack's own bridge, as on Asterisk


def test_a_plain_forward_has_no_transfer():
    decision = decide(DID, "u-1", 1_795_798_228.0, CATALOG, FS)
    plan = session_plan(dataclasses.replace(decision, goto=""), "/rec")
    assert "transfer" not in [app for app, _ in plan] and ("set", "socket_resume=false") not in plan


@pytest.mark.parametrize("capture", OUTBOUND)
async def test_the_call_continues_in_the_admins_context_after_prompt_and_recording(capture):
    call = await call_through(OutboundCall(capture, playback_seconds=0.3), router())
    assert [run.app for run in call.runs] == ["multiset", "playback", "record_session", "set", "transfer"]
    prompt, record, transfer = call.runs[1], call.runs[2], call.runs[4]
    assert not prompt.cut and prompt.ended - prompt.started >= 0.3  # heard whole
    assert record.started >= prompt.ended and transfer.started >= record.ended
    assert call.lines()[-1] == "exit"
    assert call.after_socket() == "transfer 15035550142 XML ivr-menu"


async def test_an_explicit_exten_and_an_unrecorded_number():
    call = await call_through(OutboundCall(), router("goto:ivr-3,s,1", record=False))
    assert call.executed()[1:] == [("set", "socket_resume=false"), ("transfer", "s XML ivr-3")]
    assert call.after_socket() == "transfer s XML ivr-3"


async def test_freeswitch_closing_the_socket_after_the_transfer_is_success(caplog):
    caplog.set_level(logging.INFO, logger="ctrack.freeswitch.outbound")
    call = await call_through(OutboundCall(playback_seconds=0.1, close_on_transfer=True), router())
    assert call.after_socket() == "transfer 15035550142 XML ivr-menu" and not call.closed_by_ctrack
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_refused_transfer_rings_the_business_line():
    call = await call_through(OutboundCall(playback_seconds=0.1, refuse="transfer"), router())
    assert call.executed()[-2:] == [("transfer", "15035550142 XML ivr-menu"), ("set", "socket_resume=true")]
    assert call.after_socket() == "ctrack extension"  # bridge ${CTRACK_FORWARD}: the business line


async def test_a_stuck_prompt_hands_back_without_transfer_or_recording():
    call = await call_through(OutboundCall(playback_seconds=float("inf")), router(), media_timeout=0.3)
    assert [app for app, _ in call.executed()] == ["multiset", "playback"]
    assert call.after_socket() == "ctrack extension"


async def test_caller_hanging_up_in_the_prompt_is_not_transferred():
    call = await call_through(OutboundCall(OUTBOUND[2], hangup_on="playback"), router())
    assert "transfer" not in [app for app, _ in call.executed()] and call.after_socket() is None


def test_a_blocked_caller_is_never_passed_through():
    catalog = dataclasses.replace(CATALOG, blocked=BlockList.of([("+15035550123", "number")]))
    decision = decide(DID, "u-1", 0.0, catalog, FS, caller="+15035550123")
    assert decision.goto == "" and "transfer" not in [app for app, _ in session_plan(decision, "/rec")]


# --- the call log after the transfer -------------------------------------------------------

SIP_LEG = RAW.parent / "hangup-complete-tracked-leg-sip.json"


def transferred_leg(**changes: str) -> dict[str, str]:
    """The captured tracked leg, which FreeSWITCH transferred (public -> calltrack) before it
    was bridged, marked as a pass-through number's call and then changed as the admin's
    dialplan would leave it."""
    event = {k.replace("calltrack_did", v.DID): val for k, val in json.loads(SIP_LEG.read_text()).items()}
    assert event["variable_transfer_history"].endswith(":bl_xfer:15551230001/calltrack/XML")
    event["variable_" + v.GOTO] = "calltrack,15551230001,1"
    event.update(changes)
    return event


def test_bridged_in_the_admins_dialplan_is_answered_at_the_bridge():
    event = transferred_leg()
    record = completed_call(event)
    assert record.uniqueid == event["Unique-ID"]  # the transfer kept the leg and its UUID
    assert record.disposition is Disposition.ANSWERED
    assert record.answered_at == int(event["variable_bridge_uepoch"]) / 1e6  # the person, not the IVR
    assert record.talk_seconds == 6


IVR_ONLY = dict(
    variable_bridge_uepoch="0",
    variable_DIALSTATUS="",
    variable_originate_disposition="",
    variable_last_app="read",
    variable_hangup_cause="NORMAL_CLEARING",
    variable_sip_hangup_disposition="recv_bye",
) | {"Caller-Channel-Bridged-Time": "0"}


@pytest.mark.parametrize(
    "changes, want",
    [
        ({}, Disposition.PBX_ANSWERED),  # the IVR answered, the caller left in the menu
        ({"variable_DIALSTATUS": "NOANSWER", "variable_originate_disposition": "NO_ANSWER"}, Disposition.MISSED),
        ({"variable_originate_disposition": "ORIGINATOR_CANCEL"}, Disposition.ABANDONED),
        ({"variable_last_app": "voicemail"}, Disposition.VOICEMAIL),
    ],
    ids=["ivr-only", "ring-group-no-answer", "hung-up-while-ringing", "voicemail"],
)
def test_what_the_admins_dialplan_did_without_a_bridge(changes, want):
    event = transferred_leg(**(IVR_ONLY | changes))
    record = completed_call(event)
    assert record.disposition is want
    if want is Disposition.PBX_ANSWERED:
        assert record.answered_at is None and record.talk_seconds == 0 and record.recording is None


def test_answered_without_bridge_on_ctracks_own_route_is_not_pbx_answered():
    event = transferred_leg(**IVR_ONLY)
    event["variable_" + v.GOTO] = ""
    assert completed_call(event).disposition is Disposition.ABANDONED


def captured_events(capture: str) -> list[dict[str, str]]:
    parser = esl.EslParser()
    out = []
    for msg in received(capture):
        for frame in parser.feed(adapt(msg)):
            if frame.content_type == "text/event-plain":
                out.append(esl.parse_event(frame.body).headers)
    return out


def test_the_event_stream_of_a_transferred_call_makes_one_record():
    """The captured answered call, with the tracked leg's events after ctrack's socket showing
    the pass-through: CTRACK_GOTO set and the leg now in the admin's context."""
    state, records = CallState(), []
    uid = "9204c0cf-cad3-4ef1-98b9-5379f5411439"
    for event in captured_events("inbound-answered"):
        if event.get("Unique-ID") == uid and event.get("variable_" + v.DID):
            event = {**event, "variable_" + v.GOTO: "ivr-menu,15551230001,1", "Caller-Context": "ivr-menu"}
        record = state.feed(event)
        if record is not None:
            records.append(record)
    (record,) = records
    assert record.uniqueid == uid and record.disposition is Disposition.ANSWERED
    assert record.recording == f"/var/lib/freeswitch/recordings/{uid}.wav"
    assert len(state) == 0
