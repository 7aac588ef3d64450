"""The dashboard's regions page over HTTP: calls by the caller's region against the number's
and the pool's region, and the share of callers from each region marketed to."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ctrack import config as config_mod
from ctrack.dashboard import users
from ctrack.dashboard.auth import hash_password
from ctrack.services import Services
from ctrack.store import db as store_db
from ctrack.web.app import create_app
from tests.support.regional_pools import region_calls_db

PASSWORD = "correct horse battery"


@pytest.fixture
async def board(tmp_path, ctrack_db):
    path = region_calls_db(ctrack_db)
    conn = store_db.connect(path)
    users.set_password(conn, "alice", hash_password(PASSWORD))
    conn.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[ctrack]\ntimezone = America/Los_Angeles\n")
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    form = await client.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    await client.post("/dashboard/login", data={"user": "alice", "password": PASSWORD, "csrf": token, "next": ""})
    yield client
    await client.close()
    await services.writer.close()


def table(html: str, section: str) -> list[list[str]]:
    body = re.search(rf'<section class="card" id="{section}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_the_regions_page_compares_callers_with_the_regions_marketed_to(board):
    resp = await board.get("/dashboard/regions?days=7")
    assert resp.status == 200
    html = await resp.text()
    assert table(html, "served") == [["US-WA", "3", "2", "67 %"], ["US-OR", "2", "2", "100 %"]]
    assert table(html, "regions") == [
        ["US-WA", "–", "US-WA", "US-WA", "2", "1"],
        ["US-OR", "–", "US-OR", "–", "1", "1"],
        ["US-OR", "–", "US-OR", "US-OR", "1", "1"],
        ["US-OR", "–", "US-WA", "US-WA", "1", "1"],
    ]
    assert 'href="/dashboard/regions?days=7" class="active"' in html


async def test_the_regions_page_needs_a_login_and_refuses_a_bad_period(board, tmp_path):
    bad = await board.get("/dashboard/regions?days=many")
    assert bad.status == 400 and "days &#39;many&#39;: not a whole number" in await bad.text()
    empty = await board.get("/dashboard/regions?since=2001-01-01&until=2001-01-02")
    assert empty.status == 200 and (await empty.text()).count("No calls in this period.") == 2
    board.session.cookie_jar.clear()
    assert (await board.get("/dashboard/regions", allow_redirects=False)).status == 303
