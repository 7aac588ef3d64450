"""Regional pools over HTTP on a real loopback server, and their CLI: a page chooses its pool
by data-ctrack-pool, utm_campaign or path prefix; visits and calls carry the pool's region."""

import json
import logging
import time

import aiohttp
import pytest

from ctrack.calllog.store import save_call
from ctrack.core.model import CallRecord
from tests.support.database import dicts
from tests.support.dni_env import POOL_NUMBERS, make_db, saved, serve
from tests.support.regional_pools import PORTLAND, SEATTLE, add_regional_pools, ok, run

ORIGIN = "https://www.example.test"


@pytest.fixture
def db(ctrack_db):
    path = make_db(ctrack_db)  # pool "web": the site's default, 503-555-010x
    add_regional_pools(path)
    return path


async def lease(http, base, page_url, **fields):
    body = {"site": "example.test", "page_url": page_url, **fields}
    async with http.post(f"{base}/dni/v1/lease", data=json.dumps(body), headers={"Origin": ORIGIN}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def rows(db, sql, *params):
    return dicts(db, sql, params)


async def test_each_page_leases_from_its_regions_pool(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        portland = await lease(http, base, "https://www.example.test/portland/roofing")
        seattle = await lease(http, base, "https://www.example.test/Seattle")
        elsewhere = await lease(http, base, "https://www.example.test/portlandia")
        home = await lease(http, base, "https://www.example.test/")
        assert portland["number"] in PORTLAND and portland["formatted"].startswith("(503)")
        assert seattle["number"] in SEATTLE and seattle["formatted"].startswith("(206)")
        assert elsewhere["number"] in POOL_NUMBERS and home["number"] in POOL_NUMBERS
        await saved(app)
        regions = {r["id"]: r["pool_region"] for r in rows(db, "SELECT id, pool_region FROM visits")}
        assert regions == {
            portland["visit_id"]: "US-OR",
            seattle["visit_id"]: "US-WA",
            elsewhere["visit_id"]: None,
            home["visit_id"]: None,
        }
        listed = {v["id"]: v["pool_region"] for v in json.loads(ok(db, "dni", "visits", "--json").output)}
        assert listed == regions


async def test_data_ctrack_pool_beats_utm_campaign_which_beats_the_path(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        named = await lease(http, base, "https://www.example.test/seattle?utm_campaign=seattle-spring", pool="portland")
        assert named["number"] in PORTLAND
        by_campaign = await lease(
            http,
            base,
            "https://www.example.test/portland?utm_campaign=SEATTLE-SPRING",
            params={"utm_campaign": "SEATTLE-SPRING"},
        )
        assert by_campaign["number"] in SEATTLE
        # The visitor clicks on to a page without the campaign: the visit's campaign still chooses.
        later = await lease(http, base, "https://www.example.test/portland/contact", visit_id=by_campaign["visit_id"])
        assert later["visit_id"] == by_campaign["visit_id"] and later["number"] == by_campaign["number"]


async def test_an_unknown_data_ctrack_pool_gets_the_default_pool_and_is_logged_once(db, caplog):
    caplog.set_level(logging.WARNING, logger="ctrack.dni.service")
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        first = await lease(http, base, "https://www.example.test/", pool="portlnd")
        second = await lease(http, base, "https://www.example.test/", pool="portlnd")
        seattle = await lease(http, base, "https://www.example.test/seattle/", pool="portlnd")
    assert first["number"] in POOL_NUMBERS and second["number"] in POOL_NUMBERS
    assert seattle["number"] in SEATTLE  # an unknown name is ignored, the page's path still counts
    warnings = [r.getMessage() for r in caplog.records if "portlnd" in r.getMessage()]
    assert warnings == ["DNI: example.test has no pool 'portlnd' (data-ctrack-pool); its pages use the default pool"]


async def test_a_pool_name_that_is_not_text_is_a_400(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        body = {"site": "example.test", "pool": ["portland"]}
        async with http.post(f"{base}/dni/v1/lease", data=json.dumps(body), headers={"Origin": ORIGIN}) as r:
            assert r.status == 400 and (await r.json())["error"] == "pool: expected a string"


async def test_a_call_carries_the_region_of_the_pool_whose_number_was_dialed(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        seattle = await lease(http, base, "https://www.example.test/seattle")
        # The same visitor then reads a Portland page: they hold a number of each pool.
        portland = await lease(http, base, "https://www.example.test/portland", visit_id=seattle["visit_id"])
        assert portland["visit_id"] == seattle["visit_id"] and portland["number"] in PORTLAND
        await saved(app)
        now = time.time()
        for uniqueid, number in (("c-wa", seattle["number"]), ("c-or", portland["number"])):
            record = CallRecord(uniqueid, tracking_number=number, caller_number="+12065550142", started_at=now)
            await services.writer.run(lambda conn, r=record: save_call(conn, r, services.call_rules))
        calls = {r["uniqueid"]: r for r in rows(db, "SELECT uniqueid, visit_id, pool_region FROM calls")}
        assert calls["c-wa"] == {"uniqueid": "c-wa", "visit_id": seattle["visit_id"], "pool_region": "US-WA"}
        assert calls["c-or"] == {"uniqueid": "c-or", "visit_id": seattle["visit_id"], "pool_region": "US-OR"}


async def test_amp_pages_choose_by_path_too(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        query = {"site": "example.test", "page_url": "https://www.example.test/seattle/amp", "client_id": "amp-1"}
        async with http.get(f"{base}/dni/v1/amp", params=query, headers={"AMP-Same-Origin": "true"}) as r:
            assert r.status == 200
            assert (await r.json())["phoneNumber"] in SEATTLE


async def test_editing_a_pool_reaches_the_running_daemon(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        assert (await lease(http, base, "https://www.example.test/pdx"))["number"] in POOL_NUMBERS
        ok(db, "pool", "edit", "portland", "--path-prefix", "/pdx")
        services.catalog.refresh()
        assert (await lease(http, base, "https://www.example.test/pdx"))["number"] in PORTLAND


# --- the CLI -----------------------------------------------------------------------------


def snapshot(db):
    return rows(db, "SELECT * FROM pools ORDER BY name")


def test_pool_list_shows_the_region_and_what_chooses_each_pool(db):
    listed = {p["name"]: p for p in json.loads(ok(db, "pool", "list", "--json").output)}
    assert {n: (p["region"], p["path_prefix"], p["utm_campaign"]) for n, p in listed.items()} == {
        "portland": ("US-OR", "/portland", None),
        "seattle": ("US-WA", "/seattle", "seattle-spring"),
        "web": (None, None, None),
    }
    ok(db, "pool", "edit", "seattle", "--path-prefix", "", "--utm-campaign", "")
    cleared = {p["name"]: p for p in json.loads(ok(db, "pool", "list", "--json").output)}["seattle"]
    assert (cleared["region"], cleared["path_prefix"], cleared["utm_campaign"]) == ("US-WA", None, None)


@pytest.mark.parametrize(
    "args, reason",
    [
        (("pool", "add", "tacoma", "--site", "example.test", "--path-prefix", "tacoma"), "must start with /"),
        (("pool", "add", "tacoma", "--site", "example.test", "--path-prefix", "/"), "matches every page"),
        (("pool", "add", "tacoma", "--site", "example.test", "--path-prefix", "/t?x=1"), "a path alone"),
        (("pool", "add", "tacoma", "--site", "example.test", "--region", "US-XX"), "unknown region 'US-XX'"),
        (("pool", "add", "tacoma", "--site", "example.test", "--utm-campaign", " "), "must not be empty"),
        (
            ("pool", "add", "pdx", "--site", "example.test", "--path-prefix", "/portland"),
            "pool 'portland' of example.test already has the path prefix '/portland'",
        ),
        (
            ("pool", "edit", "portland", "--utm-campaign", "seattle-spring"),
            "pool 'seattle' of example.test already has the utm campaign 'seattle-spring'",
        ),
        (("pool", "edit", "portland", "--path-prefix", "portland"), "must start with /"),
        (("pool", "edit", "nowhere", "--region", "US-OR"), "unknown pool 'nowhere'"),
        (("pool", "edit", "portland"), "nothing to change"),
    ],
)
def test_bad_pool_input_is_one_line_and_changes_nothing(db, args, reason):
    before = snapshot(db)
    result = run(db, *args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrack: error: ") and reason in lines[0], result.stderr
    assert snapshot(db) == before


def test_the_same_prefix_on_another_site_is_fine(db):
    ok(db, "pool", "add", "other-portland", "--site", "other.test", "--path-prefix", "/portland")
    assert {p["name"] for p in snapshot(db)} == {"other-portland", "portland", "seattle", "web"}
