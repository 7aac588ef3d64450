"""The test PBX itself: real SIP calls reach the dialplan, AMI and the CDR show them."""

from __future__ import annotations

import asyncio
import itertools
import os

from tests.pbx.ami import AMIClient

_numbers = itertools.count(1)


def new_caller() -> str:
    """A caller number no other call of this session uses (AMI events are matched on it)."""
    return f"1971{os.getpid() % 1000:03d}{next(_numbers):04d}"


def is_inbound(caller):
    # the carrier leg: PJSIP/trunk-..., as opposed to the Local/...@business-line legs
    return lambda e: e.get("CallerIDNum") == caller and e.get("Channel", "").startswith("PJSIP/trunk-")


async def test_answered_call_reaches_dialplan_ami_and_cdr(pbx, ami):
    caller = new_caller()
    result = await asyncio.to_thread(pbx.call, "15035550101", caller, "Test Caller", 1)
    assert result.returncode == 0 and result.status == 200, result
    assert result.hangup_by == "caller", result

    new = await ami.wait_for(is_inbound(caller), Event="Newchannel")
    uid = new["Uniqueid"]
    assert new["Exten"] == "15035550101"
    await ami.wait_for(Event="Newexten", Uniqueid=uid, Context="ctrack-inbound")
    await ami.wait_for(Event="DialBegin", Uniqueid=uid)
    hangup = await ami.wait_for(Event="Hangup", Uniqueid=uid)
    assert hangup["Cause"] == "16"  # normal clearing

    # the CDR backstop: Master.csv has the call under the same uniqueid
    async def cdr_row():
        while True:
            rows = [r for r in pbx.cdr_rows() if r["uniqueid"] == uid]
            if rows:
                return rows
            await asyncio.sleep(0.05)

    rows = await asyncio.wait_for(cdr_row(), 10)
    assert rows[0]["dst"] == "15035550101" and rows[0]["src"] == caller
    assert rows[0]["disposition"] == "ANSWERED"


async def test_utf8_caller_name_arrives_intact(pbx, ami):
    caller = new_caller()
    result = await asyncio.to_thread(pbx.call, "15035550102", caller, "Zoë Müller", 1)
    assert result.status == 200, result
    new = await ami.wait_for(is_inbound(caller), Event="Newchannel")
    assert new["CallerIDName"] == "Zoë Müller"


async def test_abandoned_call_is_cancelled_while_ringing(pbx, ami, pbx_dialplan):
    pbx_dialplan("""
[ctrack-inbound]
exten => _X.,1,Dial(Local/s@business-noanswer,60)
 same => n,Hangup(19)
""")
    caller = new_caller()
    result = await asyncio.to_thread(pbx.cancel_call, "15035550103", caller, "Gone Away", 1)
    assert result.returncode == 0 and result.status == 487, result

    new = await ami.wait_for(is_inbound(caller), Event="Newchannel")
    uid = new["Uniqueid"]
    dial_end = await ami.wait_for(Event="DialEnd", Uniqueid=uid)
    assert dial_end["DialStatus"] == "CANCEL"
    await ami.wait_for(Event="Hangup", Uniqueid=uid)
    assert not ami.find(Event="BridgeEnter", Uniqueid=uid)


async def test_business_line_talk_time_and_busy(pbx, ami, pbx_dialplan):
    pbx_dialplan("""
[ctrack-inbound]
exten => 201,1,Dial(Local/talk-1@business-line,30)
 same => n,Hangup()
exten => 202,1,Dial(Local/s@business-busy,30)
 same => n,ExecIf($["${DIALSTATUS}" = "BUSY"]?Hangup(17))
""")
    talk, busy = await asyncio.gather(
        asyncio.to_thread(pbx.call, "201", new_caller(), "Talker", 30),
        asyncio.to_thread(pbx.call, "202", new_caller(), "Busy", 30),
    )
    assert talk.status == 200 and talk.hangup_by == "pbx", talk
    assert talk.seconds < 10, talk  # the business line hung up after ~1 s, not the caller at 30
    assert busy.status == 486, busy


async def test_twenty_parallel_calls(pbx, ami):
    callers = [new_caller() for _ in range(20)]
    handles = [pbx.call_async("15035550104", c, f"Caller {i}", talk=2) for i, c in enumerate(callers)]
    results = await asyncio.gather(*(asyncio.to_thread(h.result) for h in handles))
    assert [r.status for r in results] == [200] * 20, "\n".join(map(str, results))
    for caller in callers:
        new = await ami.wait_for(is_inbound(caller), Event="Newchannel")
        await ami.wait_for(Event="Hangup", Uniqueid=new["Uniqueid"])
    assert (
        len(
            {
                e["Uniqueid"]
                for e in ami.find(Event="Newchannel")
                if e["CallerIDNum"] in callers and e["Channel"].startswith("PJSIP/")
            }
        )
        == 20
    )


async def test_manager_include_adds_a_filtered_user(pbx):
    pbx.load_manager("""
[ctrack-test]
secret = s3cret
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = system,call
write =
eventfilter = Event: FullyBooted
eventfilter = Event: Hangup
""")
    try:
        async with AMIClient(pbx.ami_host, pbx.ami_port, "ctrack-test", "s3cret") as filtered:
            caller = new_caller()
            result = await asyncio.to_thread(pbx.call, "15035550105", caller, "Filtered", 0.5)
            assert result.status == 200, result
            await filtered.wait_for(Event="Hangup", CallerIDNum=caller)
            # a legacy eventfilter is a regex on the event text: "Event: Hangup" also lets
            # HangupRequest through (Asterisk 21+: eventfilter(name(Hangup)) = is exact)
            assert {e["Event"] for e in filtered.events} <= {"FullyBooted", "Hangup", "HangupRequest"}
            assert not any(e["Event"] in ("Newchannel", "VarSet", "Newexten") for e in filtered.events)
    finally:
        pbx.load_manager(None)
