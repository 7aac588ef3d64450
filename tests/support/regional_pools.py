"""Regional pools for the HTTP and browser tests: on top of dni_env's default pool "web"
(503-555-010x), a Portland pool (/portland, US-OR) and a Seattle pool (/seattle or
utm_campaign seattle-spring, US-WA)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from aiohttp import web
from click.testing import CliRunner, Result

from ctrack.calllog.store import CallRules, save_call
from ctrack.cli import cli
from ctrack.core.model import CallRecord, Disposition
from ctrack.store import db as store_db
from tests.support.dni_env import make_db

PORTLAND = ["+15035550111", "+15035550112"]
SEATTLE = ["+12065550121", "+12065550122"]


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def ok(db: Path, *args: str) -> Result:
    result = run(db, *args)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def add_regional_pools(db: Path) -> None:
    ok(db, "pool", "add", "portland", "--site", "example.test", "--region", "us-or", "--path-prefix", "/Portland/")
    ok(db, "pool", "add", "seattle", "--site", "example.test", "--region", "US-WA", "--path-prefix", "/seattle")
    ok(db, "pool", "edit", "seattle", "--utm-campaign", "Seattle-Spring")
    for number in PORTLAND:
        ok(db, "number", "add", number, "--pool", "portland")
    for number in SEATTLE:
        ok(db, "number", "add", number, "--pool", "seattle")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Joe's Plumbing</title>
<script src="{dni}/ctrack.js" data-site="example.test"></script></head>
<body{attr}>
<header><a id="call" href="tel:+15035550100">(503) 555-0100</a></header>
<address id="nap">Joe's Plumbing, 1 Main St, Portland, OR &middot; <a id="nap-tel" href="tel:5035550100">503-555-0100</a></address>
</body></html>"""


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


def region_calls(now: float) -> list[CallRecord]:
    """An hour ago: three calls from Seattle pages (two Seattle callers), two to Portland numbers."""

    def call(uid, tracking, caller, pool_region, answered=True):
        record = CallRecord(uid, tracking, caller, started_at=now - 3600, ended_at=now - 3500)
        if answered:
            record.answered_at, record.disposition = now - 3590, Disposition.ANSWERED
        else:
            record.disposition = Disposition.MISSED
        if pool_region:
            record.extra["pool_region"] = pool_region
        return record

    return [
        call("s1", SEATTLE[0], "+12065550131", "US-WA"),  # Seattle page, Seattle caller
        call("s2", SEATTLE[1], "+12065550132", "US-WA", answered=False),
        call("s3", SEATTLE[0], "+15035550133", "US-WA"),  # Seattle page, Portland caller
        call("p1", PORTLAND[0], "+15035550134", "US-OR"),
        call("p2", PORTLAND[1], "+15035550135", None),  # no visit credited: the number's (pool's) region
    ]


def region_calls_db(path: Path) -> Path:
    """A database with the regional pools and region_calls saved as the call log saves them."""
    make_db(path)
    add_regional_pools(path)
    conn = store_db.connect(path)
    try:
        for record in region_calls(time.time()):
            store_db.write(conn, lambda c, r=record: save_call(c, r, CallRules()))
    finally:
        conn.close()
    return path
