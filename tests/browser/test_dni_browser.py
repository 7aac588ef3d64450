"""ctrack.js in real headless Chromium: number swapping, the NAP block, later content,
separate visitors, the lease cache, consent, CORS and a server that is down."""

import asyncio
import sqlite3
import time

import pytest

from tests.browser.chromium import leased_number, pages_server
from tests.support.dni_env import POOL_NUMBERS

pytestmark = pytest.mark.browser

PUBLISHED_TEL = "tel:+15035550100"


async def text(page, selector):
    return await page.locator(selector).text_content()


def visit_rows(db):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM visits ORDER BY first_seen")]
    finally:
        conn.close()


async def test_a_paid_visit_sees_a_pool_number_formatted_like_the_original(browser, pages, db, dni):
    page = await browser.new_page()
    await page.goto(pages("landing.html") + "?gclid=G-777&utm_term=blocked+drain")
    number = await leased_number(page)
    assert number in POOL_NUMBERS
    last4 = number[-4:]
    assert await page.get_attribute("#call", "href") == f"tel:{number}"
    assert await text(page, "#call") == f"(503) 555-{last4}"
    assert await text(page, "#text") == f"Call us at 503.555.{last4} today, or +1 503 555 {last4} from abroad (24/7)."
    assert await text(page, "#fax") == "Fax: (503) 555-0177"
    await dni.saved()
    [visit] = visit_rows(db)
    assert (visit["gclid"], visit["utm_term"], visit["source"], visit["number"]) == (
        "G-777",
        "blocked drain",
        "Google Ads",
        number,
    )
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["_ctrack"]["value"] == visit["id"]
    assert cookies["_ctrack"]["domain"] in ("example.test", ".example.test")  # first-party, whole site


async def test_nap_block_json_ld_and_kept_elements_keep_the_published_number(browser, pages):
    page = await browser.new_page()
    await page.goto(pages("landing.html") + "?utm_source=mailer&utm_medium=email")
    await leased_number(page)
    assert await text(page, "#keep") == "Office line: 503-555-0100"
    assert "503-555-0100" in await text(page, "#nap")
    assert await page.get_attribute("#nap-tel", "href") == "tel:5035550100"
    assert await text(page, "#vcard") == "(503) 555-0100"
    assert await text(page, "#microdata") == "(503) 555-0100"
    assert '"telephone": "(503) 555-0100"' in await text(page, "script[type='application/ld+json']")
    assert await page.title() == "Joe's Plumbing (503) 555-0100"


async def test_numbers_added_after_load_are_swapped(browser, pages):
    page = await browser.new_page()
    await page.goto(pages("landing.html"))
    number = await leased_number(page)
    await page.evaluate("""() => {
        document.querySelector('#later').innerHTML =
            '<p id="late">Book now: <a id="late-tel" href="tel:(503)%20555-0100">503 555 0100</a></p>';
        document.querySelector('#fax').firstChild.nodeValue = 'Main line: (503) 555-0100';
    }""")
    await page.wait_for_function("() => document.querySelector('#late-tel').textContent !== '503 555 0100'")
    assert await text(page, "#late-tel") == f"503 555 {number[-4:]}"
    assert await page.get_attribute("#late-tel", "href") == f"tel:(503) 555-{number[-4:]}"
    await page.wait_for_function("() => !document.querySelector('#fax').textContent.includes('0100')")
    assert await text(page, "#fax") == f"Main line: (503) 555-{number[-4:]}"


async def test_two_visitors_get_different_numbers(browser, pages):
    first, second = await browser.new_context(), await browser.new_context()
    a, b = await first.new_page(), await second.new_page()
    await a.goto(pages("landing.html") + "?gclid=A")
    await b.goto(pages("landing.html") + "?gclid=B")
    assert await leased_number(a) != await leased_number(b)


async def test_later_pages_show_the_cached_lease_before_the_server_answers(browser, pages, db, dni):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(pages("landing.html") + "?gclid=C")
    number = await leased_number(page)

    async def slow(route):
        await asyncio.sleep(3)
        await route.continue_()

    await context.route("**/dni/v1/lease", slow)
    started = time.monotonic()
    await page.goto(pages("next.html"), wait_until="domcontentloaded")
    assert await page.get_attribute("#call", "href") == f"tel:{number[2:5]}-{number[5:8]}-{number[8:]}"
    assert await text(page, "#call") == f"{number[2:5]}-{number[5:8]}-{number[8:]}"
    assert time.monotonic() - started < 2.5  # shown from the cache, not after the slow renewal
    assert await text(page, "#nap") == "Joe's Plumbing · (503) 555-0100"
    # the renewal kept the same visit and number
    await page.wait_for_function(
        f"() => JSON.parse(localStorage.getItem('ctrack:example.test')).lease_expires_at > {time.time() + 1790}",
        timeout=10_000,
    )
    await dni.saved()
    [visit] = visit_rows(db)
    assert visit["number"] == number and visit["gclid"] == "C"


async def test_the_heartbeat_renews_the_lease(browser, pages, db, dni):
    page = await browser.new_page()
    await page.clock.install()
    await page.goto(pages("landing.html"))
    await leased_number(page)
    await dni.saved()
    before = visit_rows(db)[0]["lease_expires_at"]
    await page.clock.run_for(301_000)  # the heartbeat is due after at most 5 minutes
    for _ in range(50):
        if visit_rows(db)[0]["lease_expires_at"] > before:
            break
        await asyncio.sleep(0.1)
    assert visit_rows(db)[0]["lease_expires_at"] > before


async def test_consent_is_awaited_when_the_site_asks(browser, pages, db):
    page = await browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/dni/" in r.url else None)
    await page.goto(pages("consent.html"))
    await page.wait_for_timeout(500)
    assert requests == [] and visit_rows(db) == []
    assert await page.get_attribute("#call", "href") == PUBLISHED_TEL
    assert not [c for c in await page.context.cookies() if c["name"] == "_ctrack"]
    await page.evaluate("() => window.ctrack.consent()")
    assert await leased_number(page) in POOL_NUMBERS


async def test_other_origins_get_no_number(browser, pages, db):
    page = await browser.new_page()
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto(pages("evil.html", host="evil.test"))
    for _ in range(50):
        if failed:
            break
        await asyncio.sleep(0.1)
    assert failed, "the cross-origin lease request should have been refused"
    assert await page.get_attribute("#call", "href") == PUBLISHED_TEL
    assert await text(page, "#call") == "(503) 555-0100"
    assert visit_rows(db) == []


async def test_with_the_server_down_the_page_is_intact(browser, pages):
    intact = "Call us at 503.555.0100 today, or +1 503 555 0100 from abroad (24/7)."
    # the daemon is down: not even the snippet loads
    async with pages_server("http://127.0.0.1:1") as down:  # nothing listens there
        page = await browser.new_page()
        await page.goto(down("landing.html") + "?gclid=D")
        await page.wait_for_timeout(1000)
        assert await page.get_attribute("#call", "href") == PUBLISHED_TEL
        assert await text(page, "#text") == intact
    # the snippet loaded but the lease API fails
    page = await browser.new_page()
    errors, failed = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.route("**/dni/v1/lease", lambda route: route.abort("connectionrefused"))
    await page.goto(pages("landing.html") + "?gclid=E")
    for _ in range(50):
        if failed:
            break
        await asyncio.sleep(0.1)
    assert failed and errors == []
    assert await page.get_attribute("#call", "href") == PUBLISHED_TEL
    assert await text(page, "#text") == intact
