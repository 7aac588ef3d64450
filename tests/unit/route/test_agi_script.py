"""The classic AGI script (agi_scripts/ctrack-route.agi) as Asterisk runs it: a process per
call, the AGI environment then one reply per command on stdin, commands on stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctrack.catalog import store as catalog
from ctrack.core.variables import ROUTE_VARIABLES
from ctrack.store import db

SCRIPT = Path(__file__).resolve().parents[3] / "agi_scripts" / "ctrack-route.agi"
OK = b"200 result=1\n"
# The daemon's side: a script started per call must not pay for any of it.
DAEMON_ONLY = {
    "asyncio",
    "aiosqlite",
    "aiohttp",
    "click",
    "jinja2",
    "panoramisk",
    "ssl",
    "socket",
    "ctrack.services",
    "ctrack.store.writer",
    "ctrack.calllog.store",
    "ctrack.web",
    "ctrack.cli",
}
NETWORK = {"asyncio", "ssl", "socket"}  # what psycopg needs to reach a PostgreSQL database


def env_block(did: str = "15035550101", name: bytes = b"Ann Caller") -> bytes:
    return (
        b"agi_request: ctrack-route.agi\nagi_channel: PJSIP/trunk-00000001\nagi_language: en\n"
        b"agi_type: PJSIP\nagi_uniqueid: 1795798665.12\nagi_version: 22.10.1\n"
        b"agi_callerid: 15035550123\nagi_calleridname: " + name + b"\nagi_callingpres: 0\n"
        b"agi_dnid: " + did.encode() + b"\nagi_rdnis: unknown\nagi_context: ctrack-call\n"
        b"agi_extension: " + did.encode() + b"\nagi_priority: 4\nagi_enhanced: 0.0\n"
        b"agi_accountcode: \nagi_threadid: 140001\nagi_arg_1: " + did.encode() + b"\n\n"
    )


@pytest.fixture
def site(tmp_path, ctrack_db):
    path = ctrack_db
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    catalog.add_source(conn, "Google Ads", "paid_search")
    catalog.add_number(
        conn, catalog.NumberSpec("+15035550101", source="Google Ads", record=True, forward="Local/s@business-noanswer")
    )
    conn.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ndatabase = {path}\n[business]\ndefault_forward = Local/s@business-line\n")
    return ini


def run(ini: Path, stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "CTRACK_CONFIG": str(ini), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, *args, str(SCRIPT)], input=stdin, capture_output=True, env=env, cwd="/", timeout=30
    )


def commands(proc: subprocess.CompletedProcess) -> dict[str, str]:
    out = {}
    for line in proc.stdout.decode().splitlines():
        name, value = re.fullmatch(r'SET VARIABLE (\w+) "(.*)"', line).groups()
        out[name] = value
    return out


def test_routes_a_tracking_number(site):
    proc = run(site, env_block() + OK * len(ROUTE_VARIABLES))
    assert proc.returncode == 0 and proc.stderr == b""
    got = commands(proc)
    assert list(got)[-1] == "CTRACK_ROUTE_STATUS" and got["CTRACK_ROUTE_STATUS"] == "ok"
    assert got["CTRACK_SOURCE"] == "Google Ads" and got["CTRACK_CHANNEL"] == "paid_search"
    assert got["CTRACK_FORWARD"] == "Local/s@business-noanswer" and got["CTRACK_RECORD"] == "1"
    assert got["CTRACK_UNIQUEID"] == "1795798665.12"


def test_imports_nothing_of_the_daemon(site, ctrack_db):
    proc = run(site, env_block() + OK * len(ROUTE_VARIABLES), "-X", "importtime")
    assert commands(proc)["CTRACK_ROUTE_STATUS"] == "ok"
    imported = {
        line.rpartition("|")[2].strip() for line in proc.stderr.decode().splitlines() if line.startswith("import time:")
    }
    assert "ctrack.route.rules" in imported and "asterisk.agi" in imported
    allowed = NETWORK if db.is_url(ctrack_db) else set()
    daemon = {m for m in imported if m in DAEMON_ONLY or m.split(".")[0] in DAEMON_ONLY}
    assert not {m for m in daemon if m.split(".")[0] not in allowed}


def test_an_unknown_number_rings_the_business_line(site):
    got = commands(run(site, env_block("15035550999") + OK * len(ROUTE_VARIABLES)))
    assert got["CTRACK_ROUTE_STATUS"] == "ok" and got["CTRACK_TRACKED"] == "0" and got["CTRACK_SOURCE"] == ""
    assert got["CTRACK_FORWARD"] == "Local/s@business-line"


@pytest.mark.sqlite_only("damages the SQLite file the script reads")
@pytest.mark.parametrize("damage", ["missing", "garbage", "directory"])
def test_no_usable_database_sets_nothing(site, damage):
    path = site.parent / "ctrack.db"
    path.unlink()
    if damage == "garbage":
        path.write_bytes(b"this is not a database\n" * 100)
    elif damage == "directory":
        path.mkdir()
    proc = run(site, env_block() + OK * len(ROUTE_VARIABLES))
    assert proc.returncode == 0 and proc.stdout == b""  # the dialplan takes the default line
    assert b"ctrack-route:" in proc.stderr


def test_a_caller_name_in_latin1_or_with_quotes_still_routes(site):
    for name in (b"M\xfcller \xe9t\xe9", b'Bob "<666>" O\'Neil; ${EXTEN}, |&', "\u2028\x85\tZo\u00eb".encode()):
        got = commands(run(site, env_block(name=name) + OK * len(ROUTE_VARIABLES)))
        assert got["CTRACK_ROUTE_STATUS"] == "ok" and got["CTRACK_SOURCE"] == "Google Ads"


@pytest.mark.parametrize(
    "reply", [b"511 Command Not Permitted on a dead channel or intercept routine\n", b"200 result=-1\n", b""]
)
def test_a_hangup_midway_leaves_the_route_unset(site, reply):
    proc = run(site, env_block() + OK * 3 + reply)
    assert proc.returncode == 0
    got = commands(proc)
    assert len(got) == 4 and "CTRACK_ROUTE_STATUS" not in got
