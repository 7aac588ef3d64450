"""`ctrack block add|list|remove`: the happy paths, and every refusal a one-line reason with a
non-zero exit that leaves the database unchanged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ctrack.catalog.store import load_catalog
from ctrack.cli import cli
from ctrack.services import CatalogCache
from ctrack.store import db as db_mod
from tests.support.database import digest as snapshot


@pytest.fixture
def run(tmp_path, ctrack_db, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    db = ctrack_db

    def invoke(*args, ok=True):
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    invoke("init")
    invoke.db = db
    return invoke


def test_add_list_remove(run):
    assert run("block", "add", "(503) 555-0830", "--note", "robocaller").output == "blocked number +15035550830\n"
    entry = json.loads(run("block", "add", "+1 900", "--prefix", "--json").output)
    assert (entry["pattern"], entry["kind"], entry["note"]) == ("+1900", "prefix", None)
    rows = json.loads(run("block", "list", "--json").output)
    assert [(r["pattern"], r["kind"], r["note"]) for r in rows] == [
        ("+15035550830", "number", "robocaller"),
        ("+1900", "prefix", None),
    ]
    assert rows[0]["added_at"].endswith("+00:00")  # in [ctrack] timezone
    table = run("block", "list").output.splitlines()
    assert table[0].split() == ["PATTERN", "KIND", "NOTE", "ADDED_AT"]
    assert run("block", "remove", "+15035550830").output == "unblocked +15035550830\n"
    assert run("block", "remove", "+1900", "--prefix").output == "unblocked +1900\n"
    assert run("block", "list").output == "(no blocked callers)\n"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("block", "add", "555-08"), "'555-08' is not a valid phone number (block a prefix with --prefix)"),
        (("block", "add", "1900", "--prefix"), "'1900' is not a number prefix: use + and digits, such as +1900"),
        (("block", "add", "+999", "--prefix"), "'+999' does not start with a country code"),
        (("block", "add", "+15035550840"), "+15035550840 is already blocked"),
        (("block", "remove", "+15035550841"), "+15035550841 is not on the block list (see `ctrack block list`)"),
        (("block", "remove", "not a number"), "is not a phone number"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(run, args, reason):
    run("block", "add", "+15035550840")
    before = snapshot(run.db)
    result = run(*args, ok=False)
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("ctrack: error: ") and reason in line, line
    assert snapshot(run.db) == before


def test_the_route_catalog_follows_the_block_list(run):
    """The daemon's in-memory catalog reloads on a block-list change (catalog_version)."""
    cache = CatalogCache(run.db)
    try:
        assert cache.refresh() and not cache.catalog.blocked
        assert not cache.refresh()  # nothing changed
        run("block", "add", "+15035550842")
        run("block", "add", "+1900", "--prefix")
        assert cache.refresh()
        assert cache.catalog.blocked.match("+15035550842") and cache.catalog.blocked.match("+19005550000")
        run("block", "remove", "+15035550842")
        assert cache.refresh() and cache.catalog.blocked.match("+15035550842") is None
    finally:
        cache.close()


def test_an_unreadable_block_list_routes_everyone(run):
    conn = db_mod.connect(run.db)
    try:
        run("block", "add", "+15035550843")
        conn.execute("ALTER TABLE blocked_callers RENAME TO gone")  # as if the table were broken
        catalog = load_catalog(conn)
        assert not catalog.blocked
    finally:
        conn.close()
