"""Consent by region on the real test PBX: a business in Oregon (one-party consent); a caller
from California (all-party) hears the recording prompt, one from New York does not, and each
call logs whether the prompt played and why."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conftest import install_site

RECORDED = "15035550101"


@pytest.fixture(scope="module")
def oregon(pbx, tmp_path_factory, suite_database):
    site = install_site(
        pbx,
        tmp_path_factory.mktemp("consent"),
        "[business]\nregion = US-OR\n[recording]\nconsent = by_region\n",
        new_database=suite_database,
    )
    site.ctrack("number", "add", "+15035550107", "--source", "Radio", "--record", "--consent", "never")
    site.start()
    yield site
    assert site.stop() == 0, site.log_tail()
    pbx.load_dialplan(None)
    pbx.load_manager(None)


def prompts(events: list[dict], caller: str) -> list[str]:
    """The Playbacks in ctrack's call context on the channel of one caller's call."""
    channels = {e.get("Channel") for e in events if e.get("CallerIDNum") == caller}
    return [
        e.get("AppData", "")
        for e in events
        if e.get("Event") == "Newexten"
        and e.get("Application") == "Playback"
        and e.get("Context") == "ctrack-call"
        and e.get("Channel") in channels
    ]


async def test_a_california_caller_hears_the_prompt_a_new_york_caller_does_not(oregon, ami):
    mark = len(ami.events)
    ca = await asyncio.to_thread(oregon.pbx.call, RECORDED, "14155550123", "Cal Caller", 2)
    ny = await asyncio.to_thread(oregon.pbx.call, RECORDED, "12125550123", "Nye Caller", 2)
    assert ca.answered and ny.answered, (ca, ny)
    [ca_call] = await asyncio.to_thread(oregon.wait_calls, "+14155550123")
    [ny_call] = await asyncio.to_thread(oregon.wait_calls, "+12125550123")
    events = ami.events[mark:]
    assert prompts(events, "14155550123") == ["hello-world,noanswer"]
    assert prompts(events, "12125550123") == []
    assert (ca_call["consent_played"], ca_call["consent_reason"]) == (True, "caller US-CA all-party")
    assert (ny_call["consent_played"], ny_call["consent_reason"]) == (False, "caller US-NY, business US-OR one-party")
    assert ca_call["recording"] and ny_call["recording"]  # both recorded; only one was told


async def test_a_number_set_to_never_stays_silent_for_an_all_party_caller(oregon, ami):
    mark = len(ami.events)
    result = await asyncio.to_thread(oregon.pbx.call, "15035550107", "12065550123", "Sea Caller", 2)
    assert result.answered, result
    [call] = await asyncio.to_thread(oregon.wait_calls, "+12065550123")
    assert prompts(ami.events[mark:], "12065550123") == []
    assert (call["consent_played"], call["consent_reason"]) == (False, "number never")
