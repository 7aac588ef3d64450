"""A blocked caller in the route decision, the FreeSWITCH session plan and the rendered
Asterisk dialplan; everyone else routes exactly as before."""

from __future__ import annotations

import dataclasses

from ctrack import config as config_mod
from ctrack.asterisk.dialplan import render_asterisk
from ctrack.core import variables as v
from ctrack.core.model import NumberKind, Source, TrackingNumber
from ctrack.freeswitch.outbound import OutboundSettings, RouteRequest, serve_outbound, session_plan
from ctrack.route.rules import Catalog, RouteSettings, decide
from ctrack.spam.rules import BlockList
from tests.support.freeswitch_peer import OutboundCall

BLOCKED = BlockList.of([("+15035550830", "number"), ("+1900", "prefix")])
CATALOG = Catalog(
    numbers={
        "+15035550101": TrackingNumber(
            "+15035550101", NumberKind.STATIC, source="Google", record=True, whisper="beep", forward="PJSIP/desk"
        )
    },
    sources={"Google": Source("Google", "paid_search")},
    blocked=BLOCKED,
)
SETTINGS = RouteSettings(default_forward="PJSIP/frontdesk", consent_prompt="custom/recorded")


def test_a_blocked_number_gets_busy_and_no_recording_or_whisper():
    d = decide("+15035550101", "u.1", 0, CATALOG, SETTINGS, caller="15035550830")
    variables = d.variables()
    assert variables[v.BLOCKED] == "busy"
    assert variables[v.RECORD] == "0" and variables[v.WHISPER] == "" and variables[v.CONSENT_PROMPT] == ""
    assert (d.source, variables[v.ROUTE_STATUS]) == ("Google", "ok")  # still attributed and logged
    assert set(variables) == set(v.ROUTE_VARIABLES)


def test_a_blocked_prefix_gets_the_treatment_too():
    hangup = dataclasses.replace(SETTINGS, spam_treatment="hangup")
    assert decide("+15035550101", "u.2", 0, CATALOG, hangup, caller="+19005550100").blocked == "hangup"


def test_a_dial_string_treatment_sends_the_caller_there():
    voicemail = dataclasses.replace(SETTINGS, spam_treatment="Local/spam@voicemail")
    d = decide("+15035550101", "u.3", 0, CATALOG, voicemail, caller="+15035550830")
    assert (d.blocked, d.forward, d.record) == ("dial", "Local/spam@voicemail", False)
    as_number = dataclasses.replace(SETTINGS, spam_treatment="+15035550199", dial_template="PJSIP/{number}@trunk")
    assert decide("+15035550101", "u.4", 0, CATALOG, as_number, caller="+15035550830").forward == (
        "PJSIP/+15035550199@trunk"
    )


def test_a_blocked_caller_of_a_pass_through_number_gets_the_treatment_not_the_admins_routing():
    passing = dataclasses.replace(
        CATALOG,
        numbers={"+15035550101": dataclasses.replace(CATALOG.numbers["+15035550101"], forward="goto:from-pstn")},
    )
    voicemail = dataclasses.replace(SETTINGS, spam_treatment="Local/spam@voicemail")
    assert decide("+15035550101", "u.7", 0, passing, SETTINGS, caller="+15035550831").goto == "from-pstn,+15035550101,1"
    d = decide("+15035550101", "u.8", 0, passing, voicemail, caller="+15035550830")
    assert (d.blocked, d.goto, d.forward) == ("dial", "", "Local/spam@voicemail")


def test_everyone_else_rings_as_before():
    for caller in ("+15035550831", None, "anonymous", "", "+1900"):
        d = decide("+15035550101", "u.5", 0, CATALOG, SETTINGS, caller=caller)
        assert (d.blocked, d.forward, d.record, d.whisper) == ("", "PJSIP/desk", True, "beep"), caller
    unblocked = decide("+15035550101", "u.6", 0, dataclasses.replace(CATALOG, blocked=BlockList()), SETTINGS)
    assert unblocked.variables()[v.BLOCKED] == ""


def test_freeswitch_plan_applies_busy_and_hangup():
    fs = dataclasses.replace(SETTINGS, default_forward="sofia/gateway/trunk/1")
    busy = session_plan(decide("+15035550101", "u.7", 0, CATALOG, fs, caller="+15035550830"), "/rec")
    assert [app for app, _ in busy] == ["multiset", "hangup"] and busy[1][1] == "USER_BUSY"
    hangup = dataclasses.replace(fs, spam_treatment="hangup")
    plan = session_plan(decide("+15035550101", "u.8", 0, CATALOG, hangup, caller="+15035550830"), "/rec")
    assert plan[1:] == [("answer", ""), ("hangup", "NORMAL_CLEARING")]
    ringing = session_plan(decide("+15035550101", "u.9", 0, CATALOG, fs, caller="+15035550831"), "/rec")
    assert "hangup" not in [app for app, _ in ringing]


def test_rendered_asterisk_dialplan_branches_on_the_treatment_only_when_routed():
    text = render_asterisk(config_mod.defaults())
    lines = text.splitlines()
    fallback = lines.index(" same => n,Set(CTRACK_BLOCKED=)")  # ctrack down: nobody is blocked
    routed = next(i for i, line in enumerate(lines) if "n(routed)" in line)
    busy = next(i for i, line in enumerate(lines) if '"${CTRACK_BLOCKED}" = "busy"' in line)
    assert fallback < routed < busy
    assert " same => n(spambusy),Hangup(17)" in lines
    assert lines[lines.index(" same => n(spamhangup),Answer()") + 1] == " same => n,Hangup(16)"


async def test_freeswitch_outbound_socket_sends_a_blocked_caller_busy():
    """Against a peer that plays FreeSWITCH's `socket` application (caller 15035550123)."""
    blocked = dataclasses.replace(CATALOG, blocked=BlockList.of([("+15035550123", "number")]))
    fs = dataclasses.replace(SETTINGS, default_forward="sofia/gateway/trunk/1")

    async def route(request: RouteRequest):
        return decide(request.did, request.uniqueid, request.at, blocked, fs, caller=request.caller_number)

    server = await serve_outbound(route, "127.0.0.1", 0, OutboundSettings())
    call = OutboundCall()
    try:
        await call.run(server.sockets[0].getsockname()[1])
    finally:
        server.close()
    (set_vars, hangup) = call.executed()
    assert set_vars[0] == "multiset" and f"{v.BLOCKED}=busy" in set_vars[1]
    assert hangup == ("hangup", "USER_BUSY")
