"""Reports: every figure checked against the hand-worked call log in report_data.py."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from datetime import date, timedelta
from functools import partial

import pytest
from click.testing import CliRunner

from ctrack.calllog.store import CallFilter, CallRules, find_calls
from ctrack.cli import cli
from ctrack.core.model import CallRecord, Disposition
from ctrack.core.period import Period, PeriodError, offset_segments, period_from
from ctrack.leads import service as leads
from ctrack.reports import store as reports
from ctrack.reports.rollups import HOURLY_COLUMNS, ensure_timezone, rebuild, rebuild_statements, rollup_timezone
from ctrack.store import db
from tests.support.report_data import CALLS, TZ, call, new_db, save_calls, seeded, utc

PERIOD = Period(date(2024, 3, 9), date(2024, 3, 11), TZ)


@pytest.fixture
def conn(database):
    conn = seeded(database)
    ensure_timezone(conn, TZ)
    yield conn
    conn.close()


def test_sources_report_by_source_matches_hand_computed_figures(conn):
    rows = reports.sources_report(conn, PERIOD)
    assert rows == [
        # c1, c2, c3, c9: 3 answered (c1, c3, c9), c2 missed; first-time c1, c2 (c3 repeats c1,
        # c9 has no number); qualified c1 (120 s) and c9 (exactly 60 s); talk 120+30+60 = 210;
        # spend 40 + 60 (the 999 of 03-12 is outside) = 100.
        {
            "source": "Google Ads",
            "channel": "paid_search",
            "calls": 4,
            "answered": 3,
            "missed": 1,
            "abandoned": 0,
            "first_time": 2,
            "leads": 2,
            "talk_seconds": 210,
            "avg_talk_seconds": 70.0,
            "value": 0.0,
            "spend": 100.0,
            "cost_per_call": 25.0,
            "cost_per_lead": 50.0,
            "roi": 0.0,
        },
        # c4 abandoned at 23:59:59 EDT on 03-10, c5 answered 300 s at 00:00 EDT on 03-11.
        {
            "source": "Radio",
            "channel": "radio",
            "calls": 2,
            "answered": 1,
            "missed": 0,
            "abandoned": 1,
            "first_time": 2,
            "leads": 1,
            "talk_seconds": 300,
            "avg_talk_seconds": 300.0,
            "value": 0.0,
            "spend": 25.5,
            "cost_per_call": 12.75,
            "cost_per_lead": 25.5,
            "roi": 0.0,
        },
        # c6: voicemail counts as missed.
        {
            "source": None,
            "channel": None,
            "calls": 1,
            "answered": 0,
            "missed": 1,
            "abandoned": 0,
            "first_time": 1,
            "leads": 0,
            "talk_seconds": 0,
            "avg_talk_seconds": None,
            "value": 0.0,
            "spend": None,
            "cost_per_call": None,
            "cost_per_lead": None,
            "roi": None,
        },
        # spend without calls: the cost per call is unknown, not zero.
        {
            "source": "Yelp",
            "channel": "referral",
            "calls": 0,
            "answered": 0,
            "missed": 0,
            "abandoned": 0,
            "first_time": 0,
            "leads": 0,
            "talk_seconds": 0,
            "avg_talk_seconds": None,
            "value": 0.0,
            "spend": 10.0,
            "cost_per_call": None,
            "cost_per_lead": None,
            "roi": 0.0,
        },
    ]


def test_totals_recompute_averages_and_costs(conn):
    total = reports.totals(reports.sources_report(conn, PERIOD))
    assert total == {
        "calls": 7,
        "answered": 4,
        "missed": 2,
        "abandoned": 1,
        "first_time": 5,
        "leads": 3,
        "talk_seconds": 510,
        "value": 0.0,
        "spend": 135.5,
        "avg_talk_seconds": 127.5,
        "cost_per_call": 19.36,  # 135.50 / 7 = 19.357…
        "cost_per_lead": 45.17,
        "roi": 0.0,
    }  # 135.50 / 3 = 45.166…


def test_sources_report_by_channel(conn):
    rows = {r["channel"]: r for r in reports.sources_report(conn, PERIOD, by="channel")}
    assert list(rows) == ["paid_search", "radio", None, "referral"]
    assert (rows["paid_search"]["calls"], rows["paid_search"]["spend"], rows["paid_search"]["cost_per_lead"]) == (
        4,
        100.0,
        50.0,
    )
    assert (rows["radio"]["calls"], rows["radio"]["cost_per_call"]) == (2, 12.75)
    assert (rows["referral"]["calls"], rows["referral"]["spend"]) == (0, 10.0)
    assert set(rows["paid_search"]) == set(reports.CHANNEL_COLUMNS)


def test_heatmap_buckets_local_weekday_and_hour_across_spring_forward(conn):
    cells = reports.heatmap(conn, PERIOD)
    assert len(cells) == 168
    busy = {(c["weekday"], c["hour"]): (c["calls"], c["missed"]) for c in cells if c["calls"]}
    assert busy == {
        (5, 23): (1, 0),  # c1 Sat 23:30 EST
        (6, 1): (1, 1),  # c2 Sun 01:30 EST, missed
        (6, 3): (1, 0),  # c3 Sun 03:30 EDT (02:xx does not exist that night)
        (6, 23): (1, 0),  # c4 Sun 23:59:59 EDT
        (0, 0): (1, 0),  # c5 Mon 00:00 EDT
        (0, 9): (1, 1),  # c6 Mon 09:15 EDT, voicemail
        (0, 14): (1, 0),  # c9 Mon 14:00 EDT
    }


def test_daily_report_per_day_and_source(conn):
    rows = reports.daily_report(conn, PERIOD)
    brief = [
        (
            r["day"],
            r["source"],
            r["calls"],
            r["answered"],
            r["missed"],
            r["abandoned"],
            r["first_time"],
            r["leads"],
            r["spend"],
        )
        for r in rows
    ]
    assert brief == [
        ("2024-03-09", "Google Ads", 1, 1, 0, 0, 1, 1, 40.0),
        ("2024-03-10", "Google Ads", 2, 1, 1, 0, 1, 0, 60.0),
        ("2024-03-10", "Radio", 1, 0, 0, 1, 1, 0, None),
        ("2024-03-10", "Yelp", 0, 0, 0, 0, 0, 0, 10.0),
        ("2024-03-11", "Google Ads", 1, 1, 0, 0, 0, 1, None),
        ("2024-03-11", "Radio", 1, 1, 0, 0, 1, 1, 25.5),
        ("2024-03-11", None, 1, 0, 1, 0, 1, 0, None),
    ]


def test_trend_fills_every_day_of_the_period(conn):
    wider = Period(date(2024, 3, 8), date(2024, 3, 12), TZ)
    days = reports.trend(reports.daily_report(conn, wider), wider)
    assert [(d["day"], d["calls"], d["leads"]) for d in days] == [
        ("2024-03-08", 1, 1),
        ("2024-03-09", 1, 1),
        ("2024-03-10", 3, 0),
        ("2024-03-11", 3, 2),
        ("2024-03-12", 1, 0),
    ]


def test_fall_back_hour_and_25_hour_day(database):
    conn = new_db(database)
    save_calls(
        database,
        [
            call("a", "2024-11-03 05:30:00", "X", "+12125550100", "answered", 10),  # 01:30 EDT
            call("b", "2024-11-03 06:30:00", "X", "+12125550101", "missed"),  # 01:30 EST, the hour again
            call("c", "2024-11-04 04:30:00", "X", "+12125550102", "missed"),  # 23:30 EST, still 11-03
            call("d", "2024-11-03 04:00:00", "X", "+12125550103", "missed"),  # 00:00 EDT, 11-03 begins
            call("e", "2024-11-03 03:59:59", "X", "+12125550104", "missed"),  # 23:59:59 EDT on 11-02
        ],
    )
    ensure_timezone(conn, TZ)
    day = Period(date(2024, 11, 3), date(2024, 11, 3), TZ)
    assert day.end_ts - day.start_ts == 25 * 3600
    cells = {(c["weekday"], c["hour"]): (c["calls"], c["missed"]) for c in reports.heatmap(conn, day) if c["calls"]}
    assert cells == {(6, 0): (1, 1), (6, 1): (2, 1), (6, 23): (1, 1)}
    assert [(r["day"], r["calls"]) for r in reports.daily_report(conn, day)] == [("2024-11-03", 4)]


def test_half_hour_zone(database):
    conn = new_db(database)
    save_calls(
        database,
        [
            call("a", "2024-01-01 18:29:59", "X", "+912255500001", "answered", 5),  # 23:59:59 IST
            call("b", "2024-01-01 18:30:00", "X", "+912255500002", "answered", 5),  # 00:00 IST on 01-02
        ],
    )
    ensure_timezone(conn, "Asia/Kolkata")
    period = Period(date(2024, 1, 1), date(2024, 1, 2), "Asia/Kolkata")
    assert [(r["day"], r["calls"]) for r in reports.daily_report(conn, period)] == [
        ("2024-01-01", 1),
        ("2024-01-02", 1),
    ]
    cells = {(c["weekday"], c["hour"]): c["calls"] for c in reports.heatmap(conn, period) if c["calls"]}
    assert cells == {(0, 23): 1, (1, 0): 1}  # Mon 23h, Tue 0h


def test_changing_the_time_zone_rebuckets_every_call(conn):
    assert rollup_timezone(conn) == TZ
    assert ensure_timezone(conn, "UTC") is True
    assert ensure_timezone(conn, "UTC") is False
    utc_period = Period(date(2024, 3, 9), date(2024, 3, 11), "UTC")
    daily = {(r["day"], r["source"]): r["calls"] for r in reports.daily_report(conn, utc_period)}
    # In UTC c7 (03-09 04:59Z) is inside the period and c1 (03-10 04:30Z) moves to the 10th.
    assert daily == {
        ("2024-03-09", "Google Ads"): 1,
        ("2024-03-10", "Google Ads"): 3,
        ("2024-03-11", "Radio"): 2,
        ("2024-03-11", None): 1,
        ("2024-03-11", "Google Ads"): 1,
        ("2024-03-10", "Yelp"): 0,
    }
    with pytest.raises(reports.ReportError, match="bucketed in UTC, not America/New_York"):
        reports.sources_report(conn, PERIOD)


def test_offset_segments_find_transitions_to_the_second():
    segments = dict(offset_segments(TZ))
    assert segments[utc("2024-03-10 07:00:00")] == -4 * 3600  # 02:00 EST → 03:00 EDT
    assert segments[utc("2024-11-03 06:00:00")] == -5 * 3600  # 02:00 EDT → 01:00 EST
    assert offset_segments("UTC") == ((-1e18, 0),)


def _rollups(conn: sqlite3.Connection) -> tuple[list, list, list]:
    return (
        [
            dict(r)
            for r in conn.execute(
                "SELECT * FROM daily_rollup WHERE calls != 0 ORDER BY day, site, source, channel, lead_status"
            )
        ],
        [
            dict(r)
            for r in conn.execute(
                f"SELECT * FROM hourly_rollup WHERE {' + '.join(HOURLY_COLUMNS)} != 0 ORDER BY day, site, lead_status"
            )
        ],
        [
            dict(r)
            for r in conn.execute(
                "SELECT * FROM block_rollup WHERE calls != 0 ORDER BY block, site, source, channel, lead_status"
            )
        ],
    )


def test_triggers_keep_rollups_equal_to_a_rebuild_through_every_kind_of_write(database):
    """CDR rows replaced by live ones with another source or outcome, late CDR calls that
    turn later calls into repeats, deletes: the trigger-kept roll-ups equal a full rebuild."""
    path = database
    conn = new_db(path)
    ensure_timezone(conn, TZ)
    rnd = random.Random(7)
    base = utc("2024-03-01 00:00:00")

    def record(i: int, disposition: str, source: str | None) -> CallRecord:
        start = base + rnd.randrange(0, 40 * 86400)
        answered = start + 5 if disposition == "answered" else None
        return CallRecord(
            f"u{i}",
            caller_number=f"+1212555{rnd.randrange(30):04d}",
            source=source,
            channel=source and source.lower(),
            started_at=start,
            answered_at=answered,
            ended_at=(answered or start) + rnd.randrange(0, 200),
            disposition=Disposition(disposition),
        )

    dispositions = [d.value for d in Disposition]
    sources = ["A", "B", None]
    cdr = [record(i, rnd.choice(dispositions), rnd.choice(sources)) for i in range(150)]
    save_calls(path, cdr, origin="cdr")
    live = [record(i, rnd.choice(dispositions), rnd.choice(sources)) for i in range(0, 150, 3)]
    save_calls(path, live, origin="ami")  # replaces a third of the CDR rows
    save_calls(path, [record(i, "answered", "B") for i in range(150, 170)], origin="cdr")
    gone = "(SELECT id FROM calls WHERE uniqueid IN ('u1', 'u2', 'u151'))"
    conn.execute(f"DELETE FROM outbox WHERE call_id IN {gone}")
    conn.execute(f"DELETE FROM calls WHERE id IN {gone}")
    # people mark calls: a lead status and a value move them between roll-up rows
    for call_id, status, value in conn.execute("SELECT id, 'spam', 12.5 FROM calls WHERE id % 7 = 0").fetchall():
        db.write(conn, partial(leads.mark, call_id=call_id, request=leads.Mark(status, value=value), who="cli:t"))
    kept = _rollups(conn)
    assert sum(r["calls"] for r in kept[0]) == 167
    assert {r["lead_status"] for r in kept[0]} >= {"spam", "lead", ""} and sum(r["value"] for r in kept[0]) > 0
    for sql, params in rebuild_statements(TZ):
        conn.execute(sql, params)
    assert _rollups(conn) == kept


def test_reports_read_from_blocks_and_hour_columns_equal_the_call_log_itself(database):
    """Periods over many 16-day blocks (0019): the sources, status and heatmap reports from
    the roll-ups equal the same reports worked out from the calls (a tag every call has),
    for every site and lead-status filter, whatever days the period starts and ends on."""
    conn = new_db(database)
    ensure_timezone(conn, TZ)  # before the calls: the triggers fill the roll-ups
    rnd = random.Random(19)
    base = utc("2024-01-01 05:00:00")
    records = []
    for i in range(400):
        start = base + rnd.randrange(0, 100 * 86400)
        outcome = rnd.choice(["answered", "answered", "missed", "abandoned", "voicemail"])
        source = rnd.choice(["A", "B", "C", None])
        answered = start + 5 if outcome == "answered" else None
        records.append(
            CallRecord(
                f"b{i}",
                caller_number=f"+1212555{rnd.randrange(80):04d}",
                source=source,
                channel=source and f"ch-{source.lower()}",
                started_at=start,
                answered_at=answered,
                ended_at=(answered or start) + rnd.randrange(0, 300),
                disposition=Disposition(outcome),
            )
        )
    for site in ("east", "west"):
        save_calls(database, records[: len(records) // 2] if site == "east" else records[len(records) // 2 :],
                   CallRules(site=site))  # fmt: skip
    for call_id, status, value in conn.execute("SELECT id, 'not_lead', 7.5 FROM calls WHERE id % 5 = 0").fetchall():
        db.write(conn, partial(leads.mark, call_id=call_id, request=leads.Mark(status, value=value), who="cli:t"))
    conn.execute("INSERT INTO call_tags(call_id, tag) SELECT id, 'every' FROM calls")
    assert conn.execute("SELECT count(*) FROM block_rollup").fetchone()[0] > 0
    for _ in range(12):
        first = date(2024, 1, 1) + timedelta(days=rnd.randrange(0, 40))
        period = Period(first, first + timedelta(days=rnd.randrange(0, 70)), TZ)
        for site in (None, "east"):
            for statuses in (reports.DEFAULT_STATUSES, ("none",), ("lead", "not_lead")):
                rolled = reports.ReportFilter(statuses, site=site)
                called = reports.ReportFilter(statuses, tag="every", site=site)
                assert reports.sources_report(conn, period, filters=rolled) == reports.sources_report(
                    conn, period, filters=called
                ), (period, site, statuses)
                assert reports.status_report(conn, period, rolled) == reports.status_report(conn, period, called)
                assert reports.heatmap(conn, period, rolled) == reports.heatmap(conn, period, called)
                assert reports.daily_report(conn, period, filters=rolled) == reports.daily_report(
                    conn, period, filters=called
                )
    whole = Period(date(2024, 1, 1), date(2024, 4, 30), TZ)
    assert (
        sum(
            r["calls"]
            for r in reports.sources_report(conn, whole, filters=reports.ReportFilter(reports.STATUS_CHOICES))
        )
        == 400
    )


def test_upgrading_to_0019_carries_the_roll_ups_into_blocks_and_hour_columns(database, monkeypatch):
    every = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: [m for m in every if m[0] < 19])
    conn = new_db(database)
    for sql, params in rebuild_statements(TZ):  # the zone only: v17 has no block_rollup yet, and no calls
        if "rollup" not in sql:
            conn.execute(sql, params)
    save_calls(database, CALLS, CallRules(site="east"))
    monkeypatch.undo()
    assert db.upgrade(conn) == [19]
    carried = _rollups(conn)
    assert sum(r["calls"] for r in carried[2]) == len(CALLS)
    assert sum(r[c] for r in carried[1] for c in HOURLY_COLUMNS if c.startswith("calls_")) == len(CALLS)
    rebuild(conn, TZ)
    assert _rollups(conn) == carried
    cells = {(c["weekday"], c["hour"]): c["calls"] for c in reports.heatmap(conn, PERIOD) if c["calls"]}
    assert cells == {(5, 23): 1, (6, 1): 1, (6, 3): 1, (6, 23): 1, (0, 0): 1, (0, 9): 1, (0, 14): 1}


def test_period_parsing():
    today = date(2024, 3, 31)
    assert period_from(None, None, TZ, today, 30) == Period(date(2024, 3, 2), today, TZ)
    assert period_from("2024-03-01", None, TZ, today) == Period(date(2024, 3, 1), today, TZ)
    with pytest.raises(PeriodError, match=r"--since '2024-13-01': not a date \(use YYYY-MM-DD\)"):
        period_from("2024-13-01", None, TZ, today)
    with pytest.raises(PeriodError, match=r"starts .* after it ends"):
        period_from("2024-04-02", "2024-04-01", TZ, today)


def test_call_list_filters(conn):
    def ids(**f):
        return [r["id"] for r in find_calls(conn, CallFilter(since=PERIOD.start_ts, until=PERIOD.end_ts, **f))]

    uid = dict(conn.execute("SELECT id, uniqueid FROM calls").fetchall())

    def names(**f):
        return [uid[i] for i in ids(**f)]

    assert names() == ["c9", "c6", "c5", "c4", "c3", "c2", "c1"]
    assert names(disposition="missed") == ["c6", "c2"]
    assert names(disposition="abandoned") == ["c4"]
    assert names(source="Radio") == ["c5", "c4"]
    assert names(lead_status="lead") == ["c9", "c5", "c1"]
    assert names(lead_status="none") == ["c6", "c4", "c3", "c2"]
    assert names(first_time=False) == ["c3"]
    assert names(search="5550001") == ["c3", "c1"]
    assert names(search="%") == []
    assert [
        uid[r["id"]]
        for r in find_calls(conn, CallFilter(since=PERIOD.start_ts, until=PERIOD.end_ts), limit=2, offset=2)
    ] == ["c5", "c4"]


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path):
    seeded(tmp_path / "r.db").close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ntimezone = {TZ}\n")

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(ini), "--db", str(tmp_path / "r.db"), *args])

    return run


def test_cli_site_filter_combines_with_lead_status(run, tmp_path):
    period = ["--since", "2024-03-09", "--until", "2024-03-11"]
    conn = db.connect(tmp_path / "r.db")
    conn.execute("UPDATE calls SET site = 'east' WHERE source = 'Google Ads'")
    conn.close()
    leads_east = run("report", "sources", *period, "--site", "east", "--lead-status", "lead", "--json")
    assert leads_east.exit_code == 0, leads_east.output
    assert [(r["source"], r["calls"], r["leads"], r["spend"]) for r in json.loads(leads_east.output)] == [
        ("Google Ads", 2, 2, None)  # spend is not kept per site
    ]
    unnamed = json.loads(run("report", "leads", *period, "--site", "", "--json").output)  # calls of site ''
    assert {r["lead_status"]: r["calls"] for r in unnamed} == {"lead": 1, "not_lead": 0, "none": 2}


def test_cli_sources_json_csv_and_table(run):
    period = ["--since", "2024-03-09", "--until", "2024-03-11"]
    result = run("report", "sources", *period, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["source"], r["calls"], r["leads"], r["cost_per_lead"]) for r in rows] == [
        ("Google Ads", 4, 2, 50.0),
        ("Radio", 2, 1, 25.5),
        (None, 1, 0, None),
        ("Yelp", 0, 0, None),
    ]
    result = run("report", "sources", *period, "--csv")
    parsed = list(csv.DictReader(io.StringIO(result.output)))
    assert parsed[0] == {
        "source": "Google Ads",
        "channel": "paid_search",
        "calls": "4",
        "answered": "3",
        "missed": "1",
        "abandoned": "0",
        "first_time": "2",
        "leads": "2",
        "talk_seconds": "210",
        "avg_talk_seconds": "70.0",
        "value": "0.0",
        "spend": "100.0",
        "cost_per_call": "25.0",
        "cost_per_lead": "50.0",
        "roi": "0.0",
    }
    table = run("report", "sources", *period).output.splitlines()
    assert table[0].split()[:3] == ["SOURCE", "CHANNEL", "CALLS"]
    assert table[-1].split() == [
        "TOTAL",
        "-",
        "7",
        "4",
        "2",
        "1",
        "5",
        "3",
        "510",
        "127.50",
        "0.00",
        "135.50",
        "19.36",
        "45.17",
        "0.00",
    ]


def test_cli_heatmap_and_daily(run):
    period = ["--since", "2024-03-09", "--until", "2024-03-11"]
    cells = json.loads(run("report", "heatmap", *period, "--json").output)
    assert sum(c["calls"] for c in cells) == 7 and sum(c["missed"] for c in cells) == 2
    table = run("report", "heatmap", *period).output.splitlines()
    sunday = next(line for line in table if line.startswith("Sun"))
    assert sunday.split()[1:] == ["0", "1", "0", "1"] + ["0"] * 19 + ["1"]
    daily = list(csv.DictReader(io.StringIO(run("report", "daily", *period, "--by", "channel", "--csv").output)))
    assert [(d["day"], d["channel"], d["calls"], d["spend"]) for d in daily] == [
        ("2024-03-09", "paid_search", "1", "40.0"),
        ("2024-03-10", "paid_search", "2", "60.0"),
        ("2024-03-10", "radio", "1", ""),
        ("2024-03-10", "referral", "0", "10.0"),
        ("2024-03-11", "paid_search", "1", ""),
        ("2024-03-11", "radio", "1", "25.5"),
        ("2024-03-11", "", "1", ""),
    ]


def test_cli_refuses_bad_input_with_one_line(run):
    result = run("report", "sources", "--since", "2024-02-30")
    assert result.exit_code == 1
    assert result.output == "ctrack: error: --since '2024-02-30': not a date (use YYYY-MM-DD)\n"
    result = run("report", "sources", "--json", "--csv")
    assert (result.exit_code, result.output) == (1, "ctrack: error: choose one of --json and --csv\n")
