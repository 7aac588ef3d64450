"""Regional pools for the HTTP and browser tests: on top of dni_env's default pool "web"
(503-555-010x), a Portland pool (/portland, US-OR) and a Seattle pool (/seattle or
utm_campaign seattle-spring, US-WA)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from ctrack.cli import cli

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
