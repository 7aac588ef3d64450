"""Statements SQLite accepts and PostgreSQL refused, found by running the whole unit suite on
PostgreSQL (CTRACK_TEST_DB=postgresql): each on both backends here (the `database` fixture)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ctrack.alerts import store as alerts
from ctrack.cli import cli
from ctrack.spend.store import add_spend
from ctrack.store import db
from tests.support.report_data import add_sources, call, new_db, save_calls

G1 = "Cj0KCQjwOne_Conversion-1"


@pytest.fixture
def conn(database):
    conn = new_db(database)
    add_sources(conn)
    yield conn
    conn.close()


def test_an_alert_event_without_a_call_is_queued_once(conn):
    # `call_id IS ?` with a parameter is SQLite-only; the summary alert has no call
    assert db.write(conn, lambda c: alerts.queue_event(c, "alert_summary", None, "2026-12-01")) is True
    assert db.write(conn, lambda c: alerts.queue_event(c, "alert_summary", None, "2026-12-01")) is False
    assert conn.execute("SELECT count(*) FROM outbox WHERE kind = 'alert_summary'").fetchone()[0] == 1


def test_spend_added_twice_to_a_day_adds_up(conn):
    # the upsert's `amount = amount + excluded.amount` was ambiguous on PostgreSQL
    day = date(2024, 3, 5)
    assert add_spend(conn, "Radio", [(day, Decimal("10"))]) == 10.0
    assert add_spend(conn, "Radio", [(day, Decimal("2.5"))]) == 12.5


def test_the_google_ads_file_exports_a_conversion_once(database, conn, tmp_path):
    # a Python bool in `(? OR NOT EXISTS …)`: PostgreSQL wants a boolean there, not 0/1
    save_calls(database, [call("g1", "2024-03-10 07:30:00", "Google Ads", "+12125550001", "answered", 90, gclid=G1)])
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[ctrack]\ntimezone = America/New_York\n")

    def rows():
        result = CliRunner().invoke(
            cli,
            ["--config", str(ini), "--db", str(database), "export", "google-ads", "--conversion-name", "Booked call"],
        )
        assert result.exit_code == 0, result.output
        return [line for line in result.stdout.splitlines()[2:]]

    assert [line.split(",")[0] for line in rows()] == [G1]
    assert rows() == []


def test_a_caller_without_visits_is_exported_and_erased(database, conn):
    # `IN ()` (no visits, or no calls at all) is SQLite-only
    save_calls(database, [call("p1", "2024-03-10 07:30:00", "Radio", "+14155550100", "answered", 90)])

    def privacy(*args):
        result = CliRunner().invoke(cli, ["--db", str(database), "privacy", *args, "--caller", "+14155550100"])
        assert result.exit_code == 0, result.output
        return result.stdout

    exported = json.loads(privacy("export"))
    assert [c["uniqueid"] for c in exported["calls"]] == ["p1"] and exported["visits"] == []
    privacy("erase", "--yes")
    privacy("erase", "--yes")  # again: no calls left to match
    assert [tuple(r) for r in conn.execute("SELECT caller_number FROM calls")] == [(None,)]


def test_the_sources_report_filters_by_tag(database, conn, tmp_path):
    # the tagged calls' subquery in FROM needs a name on PostgreSQL 15
    save_calls(database, [call("t1", "2024-03-10 07:30:00", "Radio", "+14155550101", "answered", 90)])
    conn.execute("INSERT INTO call_tags(call_id, tag) SELECT id, 'estimate' FROM calls")
    ini = tmp_path / "ctrack.ini"
    ini.write_text("[ctrack]\ntimezone = America/New_York\n")
    result = CliRunner().invoke(
        cli,
        ["--config", str(ini), "--db", str(database), "report", "sources", "--since", "2024-03-01", "--until",
         "2024-03-31", "--json", "--tag", "estimate"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [(r["source"], r["calls"]) for r in json.loads(result.stdout)] == [("Radio", 1)]
