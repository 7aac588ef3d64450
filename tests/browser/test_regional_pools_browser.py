"""Regional pools in real headless Chromium: Portland pages show a 503 number, Seattle pages a
206 one, chosen by path prefix, utm_campaign or data-ctrack-pool; the NAP block keeps the
published number; an unknown data-ctrack-pool still shows a (default) number."""

import logging

import pytest

from tests.browser.chromium import leased_number
from tests.support.database import rows
from tests.support.dni_env import POOL_NUMBERS, make_db
from tests.support.regional_pools import PORTLAND, SEATTLE, add_regional_pools, site_pages

pytestmark = pytest.mark.browser


@pytest.fixture
def db(ctrack_db):
    path = make_db(ctrack_db, site="example.test")
    add_regional_pools(path)
    return path


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
    regions = dict(rows(db, "SELECT number, pool_region FROM visits"))
    assert regions[portland] == "US-OR" and regions[seattle] == "US-WA"


async def test_an_unknown_data_ctrack_pool_still_shows_a_default_number(browser, dni, caplog):
    caplog.set_level(logging.WARNING, logger="ctrack.dni.service")
    async with site_pages(dni.base) as url:
        number, _ = await number_on(browser, url("/about?attr=spokane"))
    assert number in POOL_NUMBERS
    assert any("has no pool 'spokane'" in r.getMessage() for r in caplog.records)
