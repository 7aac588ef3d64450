"""Browser tests: real headless Chromium (Debian's package) driven by Playwright, test pages
served on one loopback origin, the DNI app on another. Missing Chromium fails, never skips."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))   # the shared DNI setup

from dni_env import make_db, serve  # noqa: E402

CHROMIUM = os.environ.get("CTRACK_CHROMIUM", "/usr/bin/chromium")
PAGES = Path(__file__).parent / "pages"
# Test sites resolve to the loopback address; nothing leaves the machine.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=HttpsUpgrades",
                 "--host-resolver-rules=MAP example.test 127.0.0.1, MAP *.example.test 127.0.0.1, "
                 "MAP evil.test 127.0.0.1"]


@pytest.fixture
async def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CTRACK_CHROMIUM)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def db(tmp_path):
    return make_db(tmp_path / "ctrack.db", site="example.test")


@pytest.fixture
async def dni(db):
    """The daemon's HTTP app; yields (base URL, services)."""
    async with serve(db) as (base, services, _):
        yield base, services


async def serve_pages(dni_base: str):
    """Test pages with {DNI} replaced by the DNI base URL, on a loopback port of their own."""
    async def page(request: web.Request) -> web.Response:
        path = PAGES / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(text=path.read_text().replace("{DNI}", dni_base), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


@pytest.fixture
async def pages(dni):
    """Yields a function: page name -> URL on http://www.example.test:PORT."""
    runner, port = await serve_pages(dni[0])
    try:
        yield lambda name, host="www.example.test": f"http://{host}:{port}/{name}"
    finally:
        await runner.cleanup()
