"""One error base: every refusal a person sees is a CtrackError, and the CLI and the HTTP app
each translate it once, at their boundary (no per-command or per-handler decorators)."""

from __future__ import annotations

import re

import aiohttp
import click
import pytest
from click.testing import CliRunner

from ctrack.asterisk.dialplan import RenderError
from ctrack.catalog.store import CatalogError
from ctrack.cli import cli
from ctrack.config import ConfigError
from ctrack.core.period import PeriodError
from ctrack.core.phone import InvalidNumber
from ctrack.dashboard import users
from ctrack.dashboard.auth import AuthError, hash_password
from ctrack.dni.attribution import BadRequest
from ctrack.errors import CtrackError
from ctrack.exports import ExportError
from ctrack.freeswitch.dialplan import DialplanError
from ctrack.reports.store import ReportError
from ctrack.spend.rules import SpendError
from ctrack.store import db
from tests.support.dni_env import make_db, serve

USER_FACING = (
    ConfigError,
    CatalogError,
    InvalidNumber,
    PeriodError,
    ReportError,
    SpendError,
    ExportError,
    AuthError,
    RenderError,
    DialplanError,
    BadRequest,
    db.DatabaseError,
)


@pytest.mark.parametrize("error", USER_FACING, ids=lambda e: e.__name__)
def test_every_refusal_shares_the_base(error):
    assert issubclass(error, CtrackError)


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_no_command_wraps_its_own_error_translation():
    """Translation happens in the group (CtrackGroup.invoke), not in a decorator per command."""

    def ctrack_wrappers(fn):
        while hasattr(fn, "__wrapped__"):  # click's pass_ctx wraps too: only ctrack's own count
            if "/ctrack/" in fn.__code__.co_filename:
                yield fn
            fn = fn.__wrapped__

    wrapped = [name for name, command in _commands(cli) if any(ctrack_wrappers(command.callback))]
    assert wrapped == []


@pytest.fixture
def run(tmp_path, ctrack_db, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)

    def invoke(*args):
        return CliRunner().invoke(cli, ["--db", str(ctrack_db), *args])

    assert invoke("init").exit_code == 0
    return invoke


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("number", "add", "+1 503 555 0101", "--source", "Nobody"), "unknown source 'Nobody'"),
        (("report", "sources", "--since", "2026-13-01"), "since '2026-13-01': not a date (use YYYY-MM-DD)"),
        (("spend", "add", "Nobody", "12.50"), "Nobody"),
        (("dashboard", "remove", "mallory"), "no dashboard user 'mallory'"),
    ],
)
def test_a_cli_refusal_is_one_line_and_exit_1(run, args, reason):
    result = run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrack: error: ") and reason in lines[0]
    assert result.stdout == ""


def test_a_configuration_refusal_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[business]\nring_timeout = soon\n")
    result = CliRunner().invoke(cli, ["--config", str(ini), "source", "list"])
    assert result.exit_code == 2
    assert re.fullmatch(r"ctrack: error: .*ring_timeout.*\n", result.stderr)


async def test_an_http_refusal_is_a_400_with_the_reason(ctrack_db):
    """A CtrackError a handler does not catch is answered by the app's one middleware."""
    path = make_db(ctrack_db)
    conn = db.connect(path)
    users.set_password(conn, "alice", hash_password("correct horse battery"))
    conn.close()
    async with (
        serve(path) as (base, _services, _app),
        aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        form = await (await http.get("/dashboard/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        login = {"user": "alice", "password": "correct horse battery", "csrf": token, "next": ""}
        assert (await http.post("/dashboard/login", data=login, allow_redirects=False)).status == 303
        resp = await http.get("/dashboard/reports/sources.json?since=2026-13-01")
        assert resp.status == 400
        assert resp.headers["Cache-Control"] == "no-store"
        assert await resp.json() == {"error": "--since '2026-13-01': not a date (use YYYY-MM-DD)"}
        assert (await http.get("/healthz")).status == 200  # and the app keeps serving
