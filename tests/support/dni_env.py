"""A DNI test setup shared by the HTTP, store and browser tests: a database with one pool,
and the daemon's HTTP app (services, writer, DNI) on a loopback port."""

from __future__ import annotations

import contextlib
from pathlib import Path

from aiohttp import web
from click.testing import CliRunner

from ctrack import config
from ctrack.cli import cli
from ctrack.dni.http import DNI
from ctrack.services import Services
from ctrack.web.app import create_app

POOL_NUMBERS = ["+15035550101", "+15035550102", "+15035550103"]
FALLBACK = "+15035550199"
PUBLISHED = "+15035550100"


def make_config(ini: str = "") -> config.Config:
    values = config.defaults().as_dict()
    values.update(config.parse_text(ini, "test.ini"))
    return config.build(values)


def make_db(
    path: Path, site: str = "example.test", numbers=POOL_NUMBERS, overflow: str = "fallback", lease_seconds: int = 1800
) -> Path:
    def run(*args):
        result = CliRunner().invoke(cli, ["--db", str(path), *args])
        assert result.exit_code == 0, result.output + result.stderr

    run("init")
    run(
        "pool",
        "add",
        "web",
        "--site",
        site,
        "--fallback",
        FALLBACK,
        "--overflow",
        overflow,
        "--lease-seconds",
        str(lease_seconds),
    )
    for number in numbers:
        run("number", "add", number, "--pool", "web")
    return path


@contextlib.asynccontextmanager
async def serve(db_path: Path, ini: str = "", host: str = "127.0.0.1", port: int = 0):
    """The HTTP app as `ctrack serve` runs it; yields (base URL, services, app)."""
    cfg = make_config(f"[business]\npublished_number = {PUBLISHED}\n" + ini)
    services = Services(cfg, db_path)
    services.catalog.refresh()
    await services.writer.start()
    app = create_app(services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}", services, app
    finally:
        await runner.cleanup()
        await services.writer.close()
        services.catalog.close()


async def saved(app: web.Application) -> None:
    """Wait until the leases answered so far are committed (they are written behind)."""
    await app[DNI].saver.drain(5)
