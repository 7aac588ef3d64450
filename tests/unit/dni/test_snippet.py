"""GET /ctrack.js on a real loopback server: minified, gzip when asked, ETag, a long cache,
and within its size budget."""

import gzip
from pathlib import Path

import aiohttp
import pytest

from ctrack.dni.minify import minify
from ctrack.dni.snippet import accepts_gzip
from tests.support.dni_env import make_db, serve

SOURCE = Path(__file__).parents[3] / "ctrack" / "web" / "static" / "ctrack.js"
BUDGET = 4096  # bytes on the wire, gzipped


@pytest.fixture
def db(ctrack_db):
    return make_db(ctrack_db)


async def get(base, headers):
    async with (
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(f"{base}/ctrack.js", headers=headers) as r,
    ):
        return r.status, r.headers, await r.read()


async def test_gzip_is_sent_minified_within_budget_with_a_long_cache(db):
    async with serve(db) as (base, _, _):
        status, headers, body = await get(base, {"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(body) <= BUDGET, f"ctrack.js is {len(body)} bytes gzipped"
    assert gzip.decompress(body).decode() == minify(SOURCE.read_text())
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["Vary"] == "Accept-Encoding" and headers["ETag"].endswith('-gz"')
    cache = dict(p.strip().partition("=")[::2] for p in headers["Cache-Control"].split(","))
    assert "public" in cache and int(cache["max-age"]) >= 86400


async def test_identity_when_gzip_is_not_accepted(db):
    async with serve(db) as (base, _, _):
        for accept in ("identity", "gzip;q=0", "br"):
            status, headers, body = await get(base, {"Accept-Encoding": accept})
            assert status == 200 and "Content-Encoding" not in headers, accept
            assert body.decode() == minify(SOURCE.read_text())
            assert len(body) < 0.9 * SOURCE.stat().st_size  # comments and indentation gone


async def test_a_cached_copy_revalidates_with_a_304(db):
    async with serve(db) as (base, _, _):
        _, zipped, _ = await get(base, {"Accept-Encoding": "gzip"})
        _, plain, _ = await get(base, {"Accept-Encoding": "identity"})
        assert zipped["ETag"] != plain["ETag"]  # one per representation
        for etag in (zipped["ETag"], plain["ETag"], f"W/{zipped['ETag']}"):
            status, headers, body = await get(base, {"Accept-Encoding": "gzip", "If-None-Match": etag})
            assert status == 304 and body == b"" and headers["ETag"] == zipped["ETag"]
        status, _, _ = await get(base, {"Accept-Encoding": "gzip", "If-None-Match": '"stale"'})
        assert status == 200


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("deflate, x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0", False),
        ("gzip;q=nonsense", False),
        ("", False),
        ("br, deflate", False),
    ],
)
def test_accept_encoding(header, gzipped):
    assert accepts_gzip(header) is gzipped
