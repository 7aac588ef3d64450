"""End to end: a visitor from a Google Ads click sees a pool number in real Chromium, calls it
with SIPp on the real test PBX, and the call record carries the visit's source and gclid."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser.chromium import chromium, leased_number, pages_server
from tests.integration.conftest import install_site

POOL = ["+15035550111", "+15035550112", "+15035550113"]
CALLER = "15035550861"  # a caller no other test uses (the CDR backstop sees every call)

pytestmark = pytest.mark.browser


@pytest.fixture
def dni_site(pbx, tmp_path, suite_database):
    """ctrack on the test PBX with a DNI pool for example.test; the daemon running."""
    site = install_site(
        pbx,
        tmp_path,
        extra_config="[dni]\npublished_numbers = example.test=+15035550100\n",
        new_database=suite_database,
    )
    site.ctrack("pool", "add", "web", "--site", "example.test", "--fallback", "+15035550199")
    for number in POOL:
        site.ctrack("number", "add", number, "--pool", "web")
    site.start()
    yield site
    code = site.stop()
    pbx.load_dialplan(None)
    pbx.load_manager(None)
    assert code == 0, f"ctrack serve exited {code} on SIGTERM:\n{site.log_tail()}"


async def test_a_visit_and_its_call(dni_site):
    site = dni_site
    async with pages_server(f"http://127.0.0.1:{site.http_port}") as url, chromium() as browser:
        page = await browser.new_page()
        await page.goto(url("landing.html") + "?gclid=E2E-GCLID-42&utm_term=burst+pipe")
        number = await leased_number(page)
        assert number in POOL
        assert await page.locator("#call").text_content() == f"(503) 555-{number[-4:]}"
        visit_id = await page.evaluate("() => document.cookie.match(/_ctrack=([^;]+)/)[1]")

        result = await asyncio.to_thread(site.pbx.call, number[1:], CALLER, "Vi Visitor", 6)
        assert result.answered, result
        [call] = await asyncio.to_thread(site.wait_calls, "+" + CALLER)

    assert (call["tracking_number"], call["source"], call["disposition"]) == (number, "Google Ads", "answered")
    [row] = site.call_rows("uniqueid = ?", (call["uniqueid"],))
    assert (row["visit_id"], row["channel"], row["visit_ambiguous"]) == (visit_id, "paid_search", 0)
    assert (row["gclid"], row["keyword"]) == ("E2E-GCLID-42", "burst pipe")
    assert row["landing_page"].endswith("/landing.html?gclid=E2E-GCLID-42&utm_term=burst+pipe")
    assert row["lead_status"] == "lead"  # 6 s of talk, qualified_seconds = 5
    visits = site.ctrack("dni", "visits", "--json").stdout
    assert f'"id": "{visit_id}"' in visits and '"calls": 1' in visits
