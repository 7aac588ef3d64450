"""Calls by region: the caller's state and city from real numbers against the tracking number's region."""

import json

from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.geo.report import calls_by_region, served_regions


def row(caller_region, caller_city, number_region, pool_region, calls, answered):
    return {
        "caller_region": caller_region,
        "caller_city": caller_city,
        "number_region": number_region,
        "pool_region": pool_region,
        "calls": calls,
        "answered": answered,
    }


def test_calls_by_region_from_real_numbers():
    calls = [
        ("+12065550101", "+12065550123", True, None),  # Seattle number, Seattle caller ("Washington State")
        ("+12065550101", "+12065550124", False, None),
        ("+12065550101", "+15035550123", True, None),  # Seattle number, Portland caller
        ("+15035550101", "+14155550100", True, None),  # Portland number, San Francisco caller
        ("+15035550101", None, False, None),  # withheld caller id
        ("+15035550111", "+15035550124", True, "US-OR"),  # a Portland page's number, a Portland caller
    ]
    rows = calls_by_region(calls, {"+15035550101": "Portland"})
    assert rows == [
        row("US-WA", "", "US-WA", "", 2, 1),
        row("US-CA", "San Francisco", "Portland", "", 1, 1),
        row("US-OR", "", "US-OR", "US-OR", 1, 1),
        row("US-OR", "", "US-WA", "", 1, 1),
        row("unknown", "", "Portland", "", 1, 0),
    ]


def test_served_regions_count_the_callers_from_the_region_marketed_to():
    rows = [
        row("US-WA", "", "US-WA", "", 2, 1),  # the number's region when no pool page showed it
        row("US-OR", "", "US-WA", "", 1, 1),
        row("US-OR", "", "US-OR", "US-OR", 3, 3),
        row("US-WA", "", "US-OR", "US-WA", 1, 0),  # the pool's region wins over the number's
        row("unknown", "", "unknown", "", 1, 0),
    ]
    assert served_regions(rows) == [
        {"served_region": "US-WA", "calls": 4, "local_calls": 3, "local_share": 0.75},
        {"served_region": "US-OR", "calls": 3, "local_calls": 3, "local_share": 1.0},
        {"served_region": "unknown", "calls": 1, "local_calls": 0, "local_share": 0.0},
    ]


def test_report_regions_cli(ctrack_db):
    db = ctrack_db
    run = CliRunner()
    assert run.invoke(cli, ["--db", str(db), "init"]).exit_code == 0
    out = run.invoke(cli, ["--db", str(db), "report", "regions", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == []
    bad = run.invoke(cli, ["--db", str(db), "report", "regions", "--since", "yesterday-ish"])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
