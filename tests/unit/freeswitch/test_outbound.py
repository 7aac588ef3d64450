"""The outbound ESL route server, driven by a peer that plays FreeSWITCH's `socket` application
with the captured channel data and FreeSWITCH's replies and events."""

import asyncio
import dataclasses
import time

import pytest

from ctrack.core import variables as v
from ctrack.core.model import NumberKind, Source, TrackingNumber
from ctrack.freeswitch.outbound import OutboundSettings, RouteRequest, serve_outbound
from ctrack.route.rules import Catalog, RouteSettings, decide
from tests.support.freeswitch_peer import OUTBOUND, OutboundCall

FS = RouteSettings(
    default_forward="sofia/gateway/trunk/15035550100",
    dial_template="sofia/gateway/trunk/{number}",
    ring_timeout=25,
    consent_prompt="ivr/ivr-this_call_may_be_recorded.wav",
)
CATALOG = Catalog(
    numbers={
        "+15035550142": TrackingNumber(
            "+15035550142",
            NumberKind.STATIC,
            source="Google Ads",
            forward="+15035550199",
            record=True,
            whisper="custom/google-lead.wav",
        )
    },
    sources={"Google Ads": Source("Google Ads", "paid_search")},
)


def multiset(arg: str) -> dict[str, str]:
    assert arg.startswith("^^")
    delim = arg[2]
    return dict(pair.split("=", 1) for pair in arg[3:].split(delim))


class Router:
    """A route handler like the daemon's: decide() over a catalog, with a knob for trouble."""

    def __init__(self, did_override=None, delay=0.0, fail=False):
        self.requests: list[RouteRequest] = []
        self.did_override, self.delay, self.fail = did_override, delay, fail

    async def __call__(self, request: RouteRequest):
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("catalog unavailable")
        return decide(self.did_override or request.did, request.uniqueid, request.at, CATALOG, FS)


async def serve(router, **kw):
    server = await serve_outbound(router, "127.0.0.1", 0, OutboundSettings(**kw))
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("capture", OUTBOUND)
async def test_untracked_number_gets_defaults_and_is_handed_back(capture):
    router = Router()
    server, port = await serve(router)
    call = OutboundCall(capture)
    try:
        await call.run(port)
    finally:
        server.close()
    (request,) = router.requests
    assert request.did == "15551230001"  # CTRACK_DID from the dialplan
    assert (
        request.uniqueid
        == {
            "outbound-socket-session": "9204c0cf-cad3-4ef1-98b9-5379f5411439",
            "outbound-socket-session-missed": "f8990223-4004-44bf-89cb-259a98f51891",
            "outbound-socket-session-abandoned": "eb81a1bf-58ed-433c-89e7-3a5052c0916b",
        }[capture]
    )
    assert (request.caller_number, request.caller_name) == ("15035550123", "Bob Caller")
    assert call.lines() == ["connect", "myevents", "sendmsg", "exit"]
    ((app, arg),) = call.executed()
    assert app == "multiset"
    values = multiset(arg)
    assert values[v.ROUTE_STATUS] == "ok" and values[v.TRACKED] == "0"
    assert values[v.FORWARD] == "sofia/gateway/trunk/15035550100" and values[v.RING_TIMEOUT] == "25"
    assert values[v.UNIQUEID] == request.uniqueid
    assert "RECORD_ANSWER_REQ" not in values and "RECORD_STEREO" not in values


async def test_tracked_recorded_number_plays_consent_then_records():
    router = Router(did_override="5035550142")
    server, port = await serve(router, recording_directory="/var/lib/freeswitch/recordings")
    call = OutboundCall(playback_seconds=0.1)
    try:
        await call.run(port)
    finally:
        server.close()
    (set_vars, consent, record) = call.executed()
    values = multiset(set_vars[1])
    assert values[v.SOURCE] == "Google Ads" and values[v.CHANNEL] == "paid_search"
    assert values[v.TRACKING_NUMBER] == "+15035550142" and values[v.TRACKED] == "1"
    assert values[v.FORWARD] == "sofia/gateway/trunk/+15035550199"
    assert values["bridge_pre_execute_bleg_app"] == "playback"
    assert values["bridge_pre_execute_bleg_data"] == "custom/google-lead.wav"
    assert values[v.RECORDING_FILE].startswith("/var/lib/freeswitch/recordings/ctrack-")
    assert values["RECORD_ANSWER_REQ"] == "true"  # no audio before the business line answers
    assert values["RECORD_STEREO"] == "true"  # caller left, business right: transcribed apart
    assert consent == ("playback", "ivr/ivr-this_call_may_be_recorded.wav")
    assert record == ("record_session", values[v.RECORDING_FILE])
    assert call.lines()[-1] == "exit"


async def test_the_consent_prompt_is_heard_whole_before_recording_starts():
    """A 2 s prompt plays its 2 s; record_session starts only after it, then ctrack exits."""
    router = Router(did_override="5035550142")
    server, port = await serve(router)
    call = OutboundCall(playback_seconds=2.0)
    try:
        await call.run(port)
    finally:
        server.close()
    runs = {run.app: run for run in call.runs}
    prompt, record = runs["playback"], runs["record_session"]
    assert not prompt.cut and prompt.ended - prompt.started >= 2.0
    assert record.started >= prompt.ended  # not run inside the playback
    assert record.ended is not None and not record.cut
    assert [run.app for run in call.runs] == ["multiset", "playback", "record_session"]
    assert call.lines()[-1] == "exit"


async def test_a_stuck_consent_prompt_hands_the_call_back_unrecorded():
    """A step that never completes is bounded: ctrack exits (the dialplan rings the phone)
    without starting the recording the caller was not told about."""
    router = Router(did_override="5035550142")
    server, port = await serve(router, media_timeout=0.3)
    call = OutboundCall(playback_seconds=float("inf"))
    started = time.monotonic()
    try:
        await call.run(port)
    finally:
        server.close()
    assert time.monotonic() - started < 1.5
    assert [app for app, _ in call.executed()] == ["multiset", "playback"]
    assert call.lines()[-1] == "exit"
    (prompt,) = [run for run in call.runs if run.app == "playback"]
    assert prompt.cut


@pytest.mark.parametrize("router", [Router(delay=1.0), Router(fail=True)], ids=["slow", "failing"])
async def test_a_slow_or_failing_route_hands_back_at_once_with_nothing_set(router):
    server, port = await serve(router, route_timeout=0.2)
    call = OutboundCall()
    started = time.monotonic()
    try:
        await call.run(port)
    finally:
        server.close()
    assert time.monotonic() - started < 0.9
    assert call.lines() == ["connect", "myevents"] and call.closed_by_ctrack
    assert call.executed() == []  # the dialplan's defaults ring the business line


async def test_caller_hangs_up_during_the_consent_prompt():
    router = Router(did_override="5035550142")
    server, port = await serve(router)
    call = OutboundCall("outbound-socket-session-abandoned", hangup_on="playback")
    try:
        await call.run(port)
        await asyncio.sleep(0.05)
        assert "exit" not in call.lines()
        again = OutboundCall(playback_seconds=0.1)  # the server is still there for the next call
        await again.run(port)
        assert again.lines()[-1] == "exit"
    finally:
        server.close()


async def test_a_value_freeswitch_would_expand_is_refused():
    catalog_source = "Spring ${system(touch /tmp/x)}"

    async def router(request):
        decision = decide("5035550142", request.uniqueid, request.at, CATALOG, FS)
        return dataclasses.replace(decision, source=catalog_source)

    server, port = await serve(router)
    call = OutboundCall()
    try:
        await call.run(port)
    finally:
        server.close()
    assert call.executed() == [] and call.closed_by_ctrack


async def test_garbage_and_stalled_clients_do_not_delay_a_real_call():
    router = Router()
    server, port = await serve(router, reply_timeout=1.5)
    try:
        stalled = await asyncio.open_connection("127.0.0.1", port)  # says nothing, ever
        half_r, half_w = await asyncio.open_connection("127.0.0.1", port)  # half a connect reply
        await half_r.readuntil(b"connect\n\n")
        half_w.write(b"Event-Name: CHANNEL_DATA\nUnique-ID: abc")
        junk_r, junk_w = await asyncio.open_connection("127.0.0.1", port)  # not ESL at all
        junk_w.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 50 + b"\n\n")
        await junk_w.drain()
        assert (await asyncio.wait_for(junk_r.read(), 1)).endswith(b"connect\n\n")  # then closed by ctrack
        started = time.monotonic()
        call = OutboundCall()
        await call.run(port)
        assert time.monotonic() - started < 0.5
        assert call.lines() == ["connect", "myevents", "sendmsg", "exit"]
        assert await asyncio.wait_for(half_r.read(), 3) == b""  # dropped after reply_timeout
        assert await asyncio.wait_for(stalled[0].read(), 3) == b"connect\n\n"
        assert len(router.requests) == 1
    finally:
        server.close()
        for w in (stalled[1], half_w, junk_w):
            w.close()
