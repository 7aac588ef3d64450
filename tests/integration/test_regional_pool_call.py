"""End to end: a visitor reads a Seattle page in real Chromium and sees a 206 number from the
Seattle pool, calls it with SIPp on the real test PBX (from a Portland phone), and the call
is credited to the visit and carries the pool's region; the regions report shows it."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.browser.chromium import chromium, leased_number
from tests.integration.conftest import install_site
from tests.support.regional_pools import site_pages

DEFAULT = ["+15035550114", "+15035550115"]
SEATTLE = ["+12065550123", "+12065550124"]
CALLER = "15035550862"  # a caller no other test uses (the CDR backstop sees every call)

pytestmark = pytest.mark.browser


@pytest.fixture
def regional_site(pbx, tmp_path, suite_database):
    """ctrack on the test PBX with a default pool and a Seattle pool for example.test."""
    site = install_site(
        pbx,
        tmp_path,
        extra_config="[dni]\npublished_numbers = example.test=+15035550100\n",
        new_database=suite_database,
    )
    site.ctrack("pool", "add", "web", "--site", "example.test")
    site.ctrack("pool", "add", "seattle", "--site", "example.test", "--region", "US-WA", "--path-prefix", "/seattle")
    for number in DEFAULT:
        site.ctrack("number", "add", number, "--pool", "web")
    for number in SEATTLE:
        site.ctrack("number", "add", number, "--pool", "seattle")
    site.start()
    yield site
    code = site.stop()
    pbx.load_dialplan(None)
    pbx.load_manager(None)
    assert code == 0, f"ctrack serve exited {code} on SIGTERM:\n{site.log_tail()}"


async def test_a_seattle_pages_call_carries_the_seattle_region(regional_site):
    site = regional_site
    async with site_pages(f"http://127.0.0.1:{site.http_port}") as url, chromium() as browser:
        page = await browser.new_page()
        await page.goto(url("/seattle/drains"))
        number = await leased_number(page)
        assert number in SEATTLE
        visit_id = await page.evaluate("() => document.cookie.match(/_ctrack=([^;]+)/)[1]")

        result = await asyncio.to_thread(site.pbx.call, number[1:], CALLER, "Sea Visitor", 3)
        assert result.answered, result
        [call] = await asyncio.to_thread(site.wait_calls, "+" + CALLER)

    [row] = site.call_rows("uniqueid = ?", (call["uniqueid"],))
    assert (row["tracking_number"], row["visit_id"], row["pool_region"]) == (number, visit_id, "US-WA")
    report = json.loads(site.ctrack("report", "regions", "--json").stdout)
    mine = [r for r in report if r["pool_region"] == "US-WA"]
    assert mine == [
        {
            "caller_region": "US-OR",
            "caller_city": "",
            "number_region": "US-WA",
            "pool_region": "US-WA",
            "calls": 1,
            "answered": 1,
        }
    ]
