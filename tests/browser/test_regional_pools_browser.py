"""Regional pools in real headless Chromium: Portland pages show a 503 number, Seattle pages a
206 one, chosen by path prefix, utm_campaign or data-ctrack-pool; the NAP block keeps the
published number; an unknown data-ctrack-pool still shows a (default) number."""

import contextlib
import logging
import sqlite3

import pytest
from aiohttp import web

from tests.browser.chromium import leased_number
from tests.support.dni_env import POOL_NUMBERS, make_db
from tests.support.regional_pools import PORTLAND, SEATTLE, add_regional_pools

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Joe's Plumbing</title>
<script src="{dni}/ctrack.js" data-site="example.test"></script></head>
<body{attr}>
<header><a id="call" href="tel:+15035550100">(503) 555-0100</a></header>
<address id="nap">Joe's Plumbing, 1 Main St, Portland, OR &middot; <a id="nap-tel" href="tel:5035550100">503-555-0100</a></address>
</body></html>"""


@pytest.fixture
def db(tmp_path):
    path = make_db(tmp_path / "ctrack.db", site="example.test")
    add_regional_pools(path)
    return path


@contextlib.asynccontextmanager
async def site_pages(dni_base):
    """The business's site on loopback: every path is a page; ?attr=NAME puts
    data-ctrack-pool=NAME on its body (as a CMS template would)."""

    async def page(request: web.Request) -> web.Response:
        name = request.query.get("attr")
        attr = f' data-ctrack-pool="{name}"' if name else ""
        return web.Response(text=PAGE.format(dni=dni_base, attr=attr), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{path:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield lambda path: f"http://www.example.test:{port}{path}"
    finally:
        await runner.cleanup()


async def number_on(browser, url):
    """A new visitor opens `url`: the number ctrack.js shows, and the NAP block's link."""
    page = await browser.new_page()
    try:
        await page.goto(url)
        number = await leased_number(page)
        shown = await page.locator("#call").text_content()
        assert shown == f"({number[2:5]}) {number[5:8]}-{number[8:]}"  # formatted like the page's own
        return number, await page.get_attribute("#nap-tel", "href")
    finally:
        await page.context.close()


async def test_portland_pages_show_503_numbers_and_seattle_pages_206(browser, dni, db):
    async with site_pages(dni.base) as url:
        portland, portland_nap = await number_on(browser, url("/portland/water-heaters"))
        seattle, seattle_nap = await number_on(browser, url("/seattle/"))
        named, _ = await number_on(browser, url("/about?attr=seattle"))
        campaign, _ = await number_on(browser, url("/?utm_campaign=seattle-spring&utm_source=google"))
    assert portland in PORTLAND and portland.startswith("+1503")
    assert seattle in SEATTLE and seattle.startswith("+1206")
    assert named in SEATTLE and campaign in SEATTLE
    assert portland_nap == seattle_nap == "tel:5035550100"  # the NAP block is never swapped
    await dni.saved()
    conn = sqlite3.connect(db)
    try:
        regions = dict(conn.execute("SELECT number, pool_region FROM visits"))
    finally:
        conn.close()
    assert regions[portland] == "US-OR" and regions[seattle] == "US-WA"


async def test_an_unknown_data_ctrack_pool_still_shows_a_default_number(browser, dni, caplog):
    caplog.set_level(logging.WARNING, logger="ctrack.dni.service")
    async with site_pages(dni.base) as url:
        number, _ = await number_on(browser, url("/about?attr=spokane"))
    assert number in POOL_NUMBERS
    assert any("has no pool 'spokane'" in r.getMessage() for r in caplog.records)
