"""Ad spend: CSV import (all or nothing, every bad line named), `spend add`, spreading."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.spend.rules import SpendError, parse_spend_csv, spread
from tests.support.report_data import add_sources, new_db


@pytest.fixture
def env(tmp_path, ctrack_db):
    conn = new_db(ctrack_db)
    add_sources(conn)
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[ctrack]\ntimezone = America/Chicago\n")

    def run(*args, input=None):
        return CliRunner().invoke(cli, ["--config", str(ini), "--db", str(ctrack_db), *args], input=input)

    def spend():
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT sp.day, s.name, sp.amount FROM spend sp JOIN sources s ON s.id = sp.source_id "
                "ORDER BY sp.day, s.name"
            )
        ]

    return run, spend, tmp_path


def test_parse_reports_every_bad_line_with_its_number():
    text = (
        "date,source,amount\n"
        "2024-03-01,Google Ads,120.50\n"
        "2024-02-30,Google Ads,10\n"  # line 3: no such date
        "2024-03-02,,abc\n"  # line 4: two problems
        "2024-03-01,Google Ads,5\n"  # line 5: duplicate of line 2
        "\n"
        "2024-03-03,Radio,-4\n"  # line 7: negative
        "2024-03-04,Radio\n"
    )  # line 8: a field short
    lines, problems = parse_spend_csv(text)
    assert [(ln.line, ln.day, ln.source, ln.amount) for ln in lines] == [
        (2, date(2024, 3, 1), "Google Ads", Decimal("120.50"))
    ]
    assert problems == [
        "line 3: date '2024-02-30' is not a date (use YYYY-MM-DD)",
        "line 4: source is empty; amount 'abc' is not a number such as 125 or 99.50",
        "line 5: Google Ads on 2024-03-01 is also on line 2",
        "line 7: amount '-4' is not a number such as 125 or 99.50",
        "line 8: expected 3 fields, got 2",
    ]


def test_parse_accepts_any_column_order_and_a_bom():
    lines, problems = parse_spend_csv("\ufeffAmount,Date,Source\r\n7,2024-01-02,Radio\r\n")
    assert problems == [] and [(ln.day, ln.source, ln.amount) for ln in lines] == [(date(2024, 1, 2), "Radio", 7)]
    assert parse_spend_csv("day,source,cost\n")[1] == [
        "line 1: header must be date,source,amount (got day,source,cost)"
    ]


def test_spread_adds_up_to_the_cent():
    parts = spread(Decimal("100.00"), date(2024, 3, 1), date(2024, 3, 3))
    assert parts == [
        (date(2024, 3, 1), Decimal("33.34")),
        (date(2024, 3, 2), Decimal("33.33")),
        (date(2024, 3, 3), Decimal("33.33")),
    ]
    assert sum(a for _, a in spread(Decimal("3100"), date(2024, 3, 1), date(2024, 3, 31))) == Decimal("3100")
    with pytest.raises(SpendError, match="fractions of a cent"):
        spread(Decimal("1.005"), date(2024, 3, 1), date(2024, 3, 2))


def test_import_is_all_or_nothing(env):
    run, spend, tmp = env
    bad = tmp / "bad.csv"
    bad.write_text("date,source,amount\n2024-03-01,Google Ads,10\n2024-03-02,Billboard,20\n2024-03-03,Radio,x\n")
    result = run("spend", "import", str(bad))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"ctrack: error: {bad}: line 4: amount 'x' is not a number such as 125 or 99.50"
    ]
    bad.write_text("date,source,amount\n2024-03-01,Google Ads,10\n2024-03-02,Billboard,20\n2024-03-03,Bus,1\n")
    result = run("spend", "import", str(bad))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"ctrack: error: {bad}: line 3: unknown source 'Billboard' (see `ctrack source list`)",
        f"ctrack: error: {bad}: line 4: unknown source 'Bus' (see `ctrack source list`)",
    ]
    assert spend() == []


def test_import_sets_and_replaces_days(env):
    run, spend, tmp = env
    good = tmp / "good.csv"
    good.write_text("date,source,amount\n2024-03-01,Google Ads,10\n2024-03-02,Radio,20.25\n")
    result = run("spend", "import", str(good))
    assert (result.exit_code, result.output) == (0, f"imported 2 spend lines from {good} (2 new, 0 replaced)\n")
    good.write_text("date,source,amount\n2024-03-01,Google Ads,12\n2024-03-03,Radio,5\n")
    result = run("spend", "import", str(good))
    assert result.output == f"imported 2 spend lines from {good} (1 new, 1 replaced)\n"
    assert spend() == [("2024-03-01", "Google Ads", 12.0), ("2024-03-02", "Radio", 20.25), ("2024-03-03", "Radio", 5.0)]


def test_import_refuses_missing_file_and_empty_file(env):
    run, spend, tmp = env
    result = run("spend", "import", str(tmp / "nope.csv"))
    assert result.exit_code == 1 and "cannot read (No such file or directory)" in result.output
    empty = tmp / "empty.csv"
    empty.write_text("date,source,amount\n")
    assert run("spend", "import", str(empty)).output == f"ctrack: error: {empty}: no spend lines in the file\n"


def test_add_adds_to_a_day_and_spreads_over_days(env):
    run, spend, _ = env
    assert (
        run("spend", "add", "Radio", "10", "--date", "2024-03-05").output
        == "added 10.00 for 'Radio' on 2024-03-05; its spend there is now 10.00\n"
    )
    assert (
        run("spend", "add", "Radio", "2.5", "--date", "2024-03-05").output
        == "added 2.50 for 'Radio' on 2024-03-05; its spend there is now 12.50\n"
    )
    result = run("spend", "add", "Google Ads", "100", "--since", "2024-03-01", "--until", "2024-03-03")
    assert result.output == (
        "added 100.00 for 'Google Ads' over 3 days 2024-03-01 – 2024-03-03; its spend there is now 100.00\n"
    )
    assert spend() == [
        ("2024-03-01", "Google Ads", 33.34),
        ("2024-03-02", "Google Ads", 33.33),
        ("2024-03-03", "Google Ads", 33.33),
        ("2024-03-05", "Radio", 12.5),
    ]
    listed = json.loads(run("spend", "list", "--since", "2024-03-01", "--until", "2024-03-04", "--json").output)
    assert [(r["day"], r["source"], r["channel"], r["amount"]) for r in listed] == [
        ("2024-03-01", "Google Ads", "paid_search", 33.34),
        ("2024-03-02", "Google Ads", "paid_search", 33.33),
        ("2024-03-03", "Google Ads", "paid_search", 33.33),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (("Nope", "5"), "unknown source 'Nope' (see `ctrack source list`)"),
        (("Radio", "1e3"), "amount '1e3' is not a number such as 125 or 99.50"),
        (("Radio", "5", "--date", "2024-3-5"), "--date '2024-3-5': not a date (use YYYY-MM-DD)"),
        (("Radio", "5", "--since", "2024-03-01"), "give both --since and --until to spread an amount"),
        (("Radio", "5", "--date", "2024-03-01", "--until", "2024-03-02"), "give either --date or --since/--until"),
    ],
)
def test_add_refuses_bad_input_and_changes_nothing(env, args, message):
    run, spend, _ = env
    result = run("spend", "add", *args)
    assert (result.exit_code, result.output) == (1, f"ctrack: error: {message}\n")
    assert spend() == []
