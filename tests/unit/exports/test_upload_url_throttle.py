"""The Google Ads scheduled-upload URL under password guessing: its basic auth locks out a
user name and an address as the dashboard login does ([dashboard] login_* settings)."""

from __future__ import annotations

import asyncio
import base64

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ctrack import config as config_mod
from ctrack.services import Services
from ctrack.web.app import create_app
from tests.support.report_data import new_db

URL = "/exports/google-ads.csv"


def basic(user: str, password: str, address: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Forwarded-For": address}


@pytest.fixture
async def upload(tmp_path, ctrack_db):
    path = ctrack_db
    new_db(path).close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        "[google_ads]\nconversion_name = Booked call\nupload_user = googleads\nupload_password = s3cret-upload-pass\n"
        "[http]\ntrusted_proxies = 127.0.0.1\n"
        "[dashboard]\nlogin_user_failures = 3\nlogin_address_failures = 5\nlogin_lockout_seconds = 1\n"
    )
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    yield client
    await client.close()
    await services.writer.close()


async def test_guessing_the_upload_password_locks_it_out(upload, caplog):
    client = upload
    for i in range(3):
        resp = await client.get(URL, headers=basic("googleads", f"guess-{i}", f"198.51.100.{i}"))
        assert resp.status == 401
    resp = await client.get(URL, headers=basic("googleads", "s3cret-upload-pass", "203.0.113.1"))
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    assert any("locked" in r.getMessage() and "'googleads'" in r.getMessage() for r in caplog.records)
    await asyncio.sleep(1.1)
    resp = await client.get(URL, headers=basic("googleads", "s3cret-upload-pass", "203.0.113.1"))
    assert resp.status == 200 and resp.content_type == "text/csv"


async def test_one_address_guessing_user_names_is_locked_out(upload):
    client = upload
    for i in range(5):
        assert (await client.get(URL, headers=basic(f"user{i}", "guess", "198.51.100.7"))).status == 401
    assert (await client.get(URL, headers=basic("googleads", "s3cret-upload-pass", "198.51.100.7"))).status == 429
    assert (await client.get(URL, headers=basic("googleads", "s3cret-upload-pass", "198.51.100.8"))).status == 200


async def test_thirty_guesses_from_one_address_with_the_default_numbers(tmp_path, ctrack_db):
    path = ctrack_db
    new_db(path).close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        "[google_ads]\nconversion_name = Booked call\nupload_user = googleads\nupload_password = pw-123456\n"
    )
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    try:
        statuses = []
        for i in range(30):
            token = base64.b64encode(f"googleads:guess-{i}".encode()).decode()
            statuses.append((await client.get(URL, headers={"Authorization": f"Basic {token}"})).status)
        assert statuses == [401] * 5 + [429] * 25
        right = base64.b64encode(b"googleads:pw-123456").decode()
        assert (await client.get(URL, headers={"Authorization": f"Basic {right}"})).status == 429
    finally:
        await client.close()
        await services.writer.close()
