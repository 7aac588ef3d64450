"""Real headless Chromium (Debian's package, driven by Playwright) and test pages served on a
loopback origin of their own. A missing Chromium fails the test; it never skips."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from aiohttp import web

CHROMIUM = os.environ.get("CTRACK_CHROMIUM", "/usr/bin/chromium")
PAGES = Path(__file__).parent / "pages"
# The test sites resolve to the loopback address: nothing leaves the machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=HttpsUpgrades",
    "--host-resolver-rules=MAP example.test 127.0.0.1, MAP *.example.test 127.0.0.1, MAP evil.test 127.0.0.1",
]


@contextlib.asynccontextmanager
async def chromium():
    """A launched browser; pytest.fail (not skip) when Chromium is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CTRACK_CHROMIUM)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def pages_server(dni_base: str, substitutions: dict[str, str] | None = None):
    """Serve tests/browser/pages with {DNI} replaced by the DNI base URL (and each
    `substitutions` key by its value, first); yields url(name, host="www.example.test")."""

    async def page(request: web.Request) -> web.Response:
        path = PAGES / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        html = path.read_text()
        for key, value in (substitutions or {}).items():
            html = html.replace(key, value)
        return web.Response(text=html.replace("{DNI}", dni_base), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield lambda name, host="www.example.test": f"http://{host}:{port}/{name}"
    finally:
        await runner.cleanup()


async def leased_number(
    page, selector: str = "#call", published_tel: str = "tel:+15035550100", timeout: float = 10_000
) -> str:
    """Wait until ctrack.js replaced the link's published number; return the leased E.164 (+1…)."""
    handle = await page.wait_for_function(
        """([sel, tel]) => { const a = document.querySelector(sel);
                              return a && a.getAttribute('href') !== tel && a.getAttribute('href'); }""",
        arg=[selector, published_tel],
        timeout=timeout,
    )
    digits = "".join(c for c in await handle.json_value() if c.isdigit())
    return "+1" + digits[-10:]
