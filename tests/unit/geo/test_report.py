"""Calls by region: the caller's state and city from real numbers against the tracking number's region."""

import json

from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.geo.report import calls_by_region


def test_calls_by_region_from_real_numbers():
    calls = [
        ("+12065550101", "+12065550123", True),  # Seattle number, Seattle caller (geocoder: "Washington State")
        ("+12065550101", "+12065550124", False),
        ("+12065550101", "+15035550123", True),  # Seattle number, Portland caller
        ("+15035550101", "+14155550100", True),  # Portland number, San Francisco caller
        ("+15035550101", None, False),  # withheld caller id
    ]
    rows = calls_by_region(calls, {"+15035550101": "Portland"})
    assert rows == [
        {"caller_region": "US-WA", "caller_city": "", "number_region": "US-WA", "calls": 2, "answered": 1},
        {
            "caller_region": "US-CA",
            "caller_city": "San Francisco",
            "number_region": "Portland",
            "calls": 1,
            "answered": 1,
        },
        {"caller_region": "US-OR", "caller_city": "", "number_region": "US-WA", "calls": 1, "answered": 1},
        {"caller_region": "unknown", "caller_city": "", "number_region": "Portland", "calls": 1, "answered": 0},
    ]


def test_report_regions_cli(tmp_path):
    db = tmp_path / "ctrack.db"
    run = CliRunner()
    assert run.invoke(cli, ["--db", str(db), "init"]).exit_code == 0
    out = run.invoke(cli, ["--db", str(db), "report", "regions", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == []
    bad = run.invoke(cli, ["--db", str(db), "report", "regions", "--since", "yesterday-ish"])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
