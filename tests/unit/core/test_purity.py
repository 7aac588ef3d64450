"""The pure core: the modules that hold rules import no I/O (asyncio, sockets, SQLite, HTTP)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "ctrack"
# The pure rules of each feature, and the shared core.
PURE = sorted(
    [*(PACKAGE / "core").glob("*.py")]
    + [
        PACKAGE / p
        for p in (
            "route/rules.py",
            "catalog/snapshot.py",
            "calllog/asterisk_events.py",
            "calllog/freeswitch_events.py",
            "calllog/asterisk_cdr.py",
            "dni/attribution.py",
            "dni/clients.py",
            "dni/pools.py",
            "dni/ratelimit.py",
            "dni/minify.py",
            "dni/selection.py",
            "spend/rules.py",
            "dashboard/auth.py",
            "freeswitch/acl.py",
            "geo/regions.py",
            "privacy/consent.py",
            "store/dialect.py",
            "privacy/retention.py",
            "geo/report.py",
            "nap/extract.py",
            "transcription/rules.py",
            "exports/conversions.py",
            "spam/rules.py",
            "alerts/rules.py",
            "leads/rules.py",
        )
    ]
)
BANNED = {
    "asyncio",
    "socket",
    "sqlite3",
    "aiosqlite",
    "aiohttp",
    "panoramisk",
    "asterisk",
    "selectors",
    "subprocess",
    "ctrack.store",
    "ctrack.asterisk",
    "ctrack.freeswitch",
    "ctrack.web",
}


def test_pure_modules_exist():
    assert all(path.is_file() for path in PURE)


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_no_io(path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not any(name == b or name.startswith(b + ".") for b in BANNED), f"{path.name} imports {name}"
