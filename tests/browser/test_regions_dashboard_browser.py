"""The dashboard's Regions page in real headless Chromium: reached from the navigation after
logging in, its two tables read as a marketer sees them, nothing loaded from elsewhere."""

from __future__ import annotations

import pytest
from aiohttp import web

from ctrack import config as config_mod
from ctrack.dashboard import users
from ctrack.dashboard.auth import hash_password
from ctrack.services import Services
from ctrack.store import db as store_db
from ctrack.web.app import create_app
from tests.support.regional_pools import region_calls_db

pytestmark = pytest.mark.browser

PASSWORD = "a long dashboard password"


@pytest.fixture
async def dashboard(tmp_path, ctrack_db):
    path = region_calls_db(ctrack_db)
    conn = store_db.connect(path)
    users.set_password(conn, "owner", hash_password(PASSWORD))
    conn.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[ctrack]\ntimezone = America/Los_Angeles\n")
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await services.writer.close()


async def rows(page, section):
    return [
        [cell.strip() for cell in await tr.locator("td").all_text_contents()]
        for tr in await page.locator(f"#{section} tbody tr").all()
    ]


async def test_the_regions_page_from_the_navigation(browser, dashboard):
    base = dashboard
    page = await browser.new_page()
    seen = []
    page.on("request", lambda req: seen.append(req.url))
    await page.goto(f"{base}/dashboard/")
    await page.fill("input[name=user]", "owner")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard/")
    await page.click("nav >> text=Regions")
    await page.wait_for_url(f"{base}/dashboard/regions?*")
    assert await rows(page, "served") == [["US-WA", "3", "2", "67 %"], ["US-OR", "2", "2", "100 %"]]
    assert (await rows(page, "regions"))[0] == ["US-WA", "–", "US-WA", "US-WA", "2", "1"]
    assert await page.locator("nav a.active").text_content() == "Regions"
    await page.click("text=30 days")
    await page.wait_for_url(f"{base}/dashboard/regions?days=30")
    assert len(await rows(page, "regions")) == 4
    assert all(url.startswith(base) for url in seen), seen
