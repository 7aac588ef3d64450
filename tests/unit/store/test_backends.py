"""The store on both backends: the same job functions, migrations and reports on a SQLite
file and on the session's real PostgreSQL (tests/support/postgres.py). The `database`
fixture (tests/conftest.py) runs every test here once per backend."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from click.testing import CliRunner

from ctrack.calllog.store import CallFilter, CallRules, find_calls, save_call
from ctrack.catalog import store as catalog
from ctrack.cli import cli
from ctrack.core.model import CallRecord, Disposition
from ctrack.dni.attribution import Touch, Visit
from ctrack.dni.pools import Grant, GrantKind
from ctrack.dni.store import load_saved_leases, save_visits
from ctrack.privacy.store import caller_hash
from ctrack.store import db
from ctrack.transcription import store as transcripts
from tests.support.dni_env import make_db, serve
from tests.support.report_data import save_calls

CALLER = "+15035550870"  # this file's callers: +1503555087x


def test_upgrade_reaches_the_latest_version_and_repeating_it_applies_nothing(database):
    conn = db.connect(database, create=True)
    assert db.upgrade(conn) == [v for v, _, _ in db.migrations()]
    assert db.schema_version(conn) == db.latest_version()
    assert db.upgrade(conn) == []
    db.ensure_current(conn)


def test_every_migration_has_its_postgresql_variant():
    variants = db.pg_migrations()
    assert [name for version, name, _ in db.migrations() if version not in variants] == []
    assert set(variants) <= {version for version, _, _ in db.migrations()}


def test_the_catalog_refuses_changing_nothing_and_bumps_its_version(conn):
    version = conn.execute("SELECT version FROM catalog_version").fetchone()[0]
    catalog.add_source(conn, "Google Ads", "paid_search")
    catalog.add_pool(conn, "web", "example.test", fallback="+15035550879")
    catalog.add_number(conn, catalog.NumberSpec("+15035550871", source="Google Ads", record=True))
    with pytest.raises(catalog.Conflict, match="already exists"):
        catalog.add_source(conn, "Google Ads", "radio")
    with pytest.raises(catalog.Invalid, match="line 2: unknown source 'Nope'"):
        catalog.import_numbers(
            conn,
            [
                (1, catalog.NumberSpec("+15035550872", pool="web")),
                (2, catalog.NumberSpec("+15035550873", source="Nope")),
            ],
        )
    assert [n["number"] for n in catalog.list_numbers(conn)] == ["+15035550871"]
    assert catalog.import_numbers(conn, [(1, catalog.NumberSpec("+15035550872", pool="web"))]) == 1
    catalog.retire_number(conn, "+15035550871")
    retired = conn.execute("SELECT retired_at FROM numbers WHERE number = '+15035550871'").fetchone()[0]
    assert abs(retired - time.time()) < 60
    loaded = catalog.load_catalog(conn)
    assert list(loaded.numbers) == ["+15035550872"]
    assert loaded.numbers["+15035550872"].pool == "web" and loaded.pools["web"].fallback == "+15035550879"
    assert conn.execute("SELECT version FROM catalog_version").fetchone()[0] > version
    assert catalog.list_sources(conn) == [
        {"name": "Google Ads", "channel": "paid_search", "campaign": None, "value": None, "numbers": 0}
    ]


def record(uid: str, start: float, **over) -> CallRecord:
    values = {
        "tracking_number": "+15035550871",
        "caller_number": CALLER,
        "source": "Google Ads",
        "channel": "paid_search",
        "started_at": start,
        "answered_at": start + 5,
        "ended_at": start + 95,
        "disposition": Disposition.ANSWERED,
        **over,
    }
    return CallRecord(uid, **values)


def test_the_call_log_saves_once_lets_live_replace_cdr_and_marks_repeats(database, conn):
    now = time.time()
    assert save_calls(database, [record("b", now)], origin="cdr") == [True]
    assert save_calls(database, [record("b", now)], origin="cdr") == [False]  # the same call again: no-op
    assert save_calls(database, [record("b", now, recording="/r/b.wav")], origin="ami") == [True]
    # a call recovered late (earlier than b) makes b a repeat caller's call
    assert save_calls(database, [record("a", now - 3600, disposition=Disposition.MISSED, answered_at=None)]) == [True]
    rows = {r["uniqueid"]: r for r in find_calls(conn, CallFilter(since=now - 7200))}
    assert (rows["a"]["first_time"], rows["b"]["first_time"]) == (True, False)
    assert (rows["b"]["lead_status"], rows["b"]["recording"], rows["a"]["lead_status"]) == ("lead", "/r/b.wav", None)
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(disposition="missed"))] == ["a"]
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(search="555087"), limit=1, offset=1)] == ["a"]
    assert conn.execute("SELECT count(*) FROM outbox WHERE kind = 'qualified'").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM transcript_jobs").fetchone()[0] == 1
    leads = "sum(CASE WHEN lead_status = 'lead' THEN calls ELSE 0 END)"
    assert tuple(conn.execute(f"SELECT sum(calls), {leads} FROM daily_rollup").fetchone()) == (2, 1)


def test_transcript_search_finds_every_word(database, conn):
    save_calls(database, [record(u, time.time() + i, recording=f"/r/{u}.wav") for i, u in enumerate(("t1", "t2"))])
    ids = dict(conn.execute("SELECT uniqueid, id FROM calls").fetchall())
    for uid, text in (("t1", "the drain is blocked again"), ("t2", "a quote for the water heater")):
        segment = {"speaker": "caller", "start": 0.0, "end": 2.0, "text": text}
        result = {"segments": [segment], "language": "en", "duration": 2.0, "seconds_taken": 0.1}
        db.write(conn, lambda c, i=ids[uid], r=result: transcripts.save(c, i, r))
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(words="Drain blocked"))] == ["t1"]
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(words="heater drain"))] == []
    assert transcripts.status(conn, ids["t2"]) == ("done", None)


def test_caller_hash_uses_the_database_key(conn):
    key = conn.execute("SELECT key FROM privacy_key").fetchone()[0]
    assert isinstance(key, bytes) and len(key) == 32
    assert caller_hash(conn, CALLER) == caller_hash(conn, CALLER) != caller_hash(conn, "+15035550871")


def test_leases_are_saved_renewed_and_read_back(conn):
    catalog.add_pool(conn, "web", "example.test")
    now = time.time()
    visit = Visit("v1", "example.test", now, now, Touch(landing_page="/", gclid="G1"), "Google Ads", "paid_search")
    grant = Grant("v1", "web", "+15035550874", GrantKind.LEASE, now, now + 1800)
    db.write(conn, lambda c: save_visits(c, [(visit, grant, True)], [(grant, True)]))
    renewed = grant.until(now + 3600)
    db.write(conn, lambda c: save_visits(c, [(visit, renewed, False)], [(renewed, False)]))
    saved = load_saved_leases(conn, now + 10, grace=600)
    assert saved.active == [renewed]
    assert saved.last_used == {"+15035550874": now + 3600}
    assert [(v.id, v.touch.gclid) for v in saved.visits] == [("v1", "G1")]
    call = record("v-call", now + 60, tracking_number="+15035550874", source=None, channel=None)
    db.write(conn, lambda c: save_call(c, call, CallRules()))
    assert tuple(conn.execute("SELECT visit_id, source FROM calls").fetchone()) == ("v1", "Google Ads")


def test_a_failed_job_rolls_back_only_itself(database, conn):
    with pytest.raises(sqlite3.IntegrityError):
        db.write(conn, lambda c: c.execute("INSERT INTO sources(name, channel) VALUES (NULL, 'x')"))
    catalog.add_source(conn, "Radio", "radio")
    assert [s["name"] for s in catalog.list_sources(conn)] == ["Radio"]


async def test_the_dni_http_side_leases_and_keeps_leases_across_a_restart(database, tmp_path):
    make_db(database, numbers=["+15035550875", "+15035550876"])
    body = {"site": "example.test", "page_url": "https://example.test/?gclid=G", "params": {"gclid": "G"}}
    headers = {"Origin": "https://example.test"}

    async def lease(http, base, body):
        async with http.post(f"{base}/dni/v1/lease", data=json.dumps(body), headers=headers) as r:
            return await r.json()

    ini = f"[ctrack]\nspool = {tmp_path / 'spool.db'}\n"
    async with serve(database, ini) as (base, _, _), aiohttp.ClientSession() as http:
        first = await lease(http, base, body)
    async with serve(database, ini) as (base, _, _), aiohttp.ClientSession() as http:
        renewed = await lease(http, base, {**body, "visit_id": first["visit_id"]})
        other = await lease(http, base, body)
    assert renewed["number"] == first["number"] in ("+15035550875", "+15035550876")
    assert other["number"] not in (first["number"], None)


def test_cli_init_and_upgrade_name_the_database_without_its_password(postgres):
    url = postgres.new_database()
    secret = url.replace("ctrack@", "ctrack:hunter2@")
    result = CliRunner().invoke(cli, ["--db", secret, "init"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "ctrack:***@" in result.output
    assert "is current" in CliRunner().invoke(cli, ["--db", url, "db", "upgrade"]).output


def rows(conn, table):
    """The table's rows, by column name (the column order may differ between backends)."""
    return sorted(sorted(dict(r).items()) for r in conn.execute(f"SELECT * FROM {table}"))


def test_db_copy_moves_a_sqlite_deployment_and_refuses_a_non_empty_target(tmp_path, postgres):
    source = tmp_path / "site.db"
    make_db(source, numbers=["+15035550877"])
    save_calls(source, [record("k1", time.time(), tracking_number="+15035550877", recording="/r/k1.wav")])
    target = postgres.new_database()
    copied = CliRunner().invoke(cli, ["--db", str(source), "db", "copy", "--to", target])
    assert copied.exit_code == 0, copied.output + copied.stderr
    src, dst = db.connect(source), db.connect(target)
    for table in ("calls", "numbers", "pools", "daily_rollup", "hourly_rollup", "outbox", "transcript_jobs",
                  "privacy_key", "catalog_version", "lead_rules"):  # fmt: skip
        assert rows(dst, table) == rows(src, table), table
    assert catalog.load_catalog(dst) == catalog.load_catalog(src)
    catalog.add_source(dst, "After", "radio")  # the identity continues after the copied ids
    again = CliRunner().invoke(cli, ["--db", str(source), "db", "copy", "--to", target])
    assert again.exit_code != 0
    assert "already holds data" in again.stderr
    assert dst.execute("SELECT count(*) FROM calls").fetchone()[0] == 1
    # a target already migrated (`ctrack db upgrade`, its default lead rule in place) is empty
    migrated = postgres.new_database()
    assert CliRunner().invoke(cli, ["--db", migrated, "db", "upgrade"]).exit_code == 0
    moved = CliRunner().invoke(cli, ["--db", str(source), "db", "copy", "--to", migrated])
    assert moved.exit_code == 0, moved.output + moved.stderr


def test_calls_carry_their_site_and_reports_show_one_site_or_all(database, conn):
    from datetime import date

    from ctrack.core.period import Period
    from ctrack.reports import store as reports
    from ctrack.reports.rollups import ensure_timezone

    start = datetime(2026, 3, 2, 15, tzinfo=UTC).timestamp()  # a Monday, 15:00 UTC
    east, west = CallRules(site="east"), CallRules(site="west")
    save_calls(database, [record("e1", start), record("e2", start + 60, caller_number="+15035550878")], east)
    save_calls(database, [record("w1", start + 3600, source="Radio", channel="radio")], west)
    db.write(conn, lambda c: ensure_timezone(c, "UTC"))
    period = Period(date(2026, 3, 2), date(2026, 3, 2), "UTC")
    every = {r["source"]: r["calls"] for r in reports.sources_report(conn, period)}
    assert every == {"Google Ads": 2, "Radio": 1}
    assert {
        r["source"]: r["calls"] for r in reports.sources_report(conn, period, filters=reports.ReportFilter(site="west"))
    } == {"Radio": 1}
    busy = {
        (c["hour"], c["calls"])
        for c in reports.heatmap(conn, period, filters=reports.ReportFilter(site="east"))
        if c["calls"]
    }
    assert busy == {(15, 2)}
    assert [r["calls"] for r in reports.daily_report(conn, period, filters=reports.ReportFilter(site="nowhere"))] == []
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(site="east"))] == ["e2", "e1"]
    # a call moved to another site moves in the roll-ups; a rebuild agrees
    conn.execute("UPDATE calls SET site = 'west' WHERE uniqueid = 'e2'")
    assert {
        r["source"]: r["calls"] for r in reports.sources_report(conn, period, filters=reports.ReportFilter(site="west"))
    } == {
        "Radio": 1,
        "Google Ads": 1,
    }
    kept = [r for r in rows(conn, "daily_rollup") if dict(r)["calls"]]
    db.write(conn, lambda c: ensure_timezone(c, "Europe/Paris"))
    db.write(conn, lambda c: ensure_timezone(c, "UTC"))
    assert [r for r in rows(conn, "daily_rollup") if dict(r)["calls"]] == kept


def test_upgrading_to_sites_keeps_the_old_calls_and_their_roll_ups(tmp_path):
    path = tmp_path / "old.db"
    conn = db.connect(path, create=True)
    for version, _, sql in db.migrations():
        if version < 14:
            for statement in db._statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO calls(uniqueid, source, channel, started_at, disposition) VALUES (?, ?, ?, ?, ?)",
        ("old", "Google Ads", "paid_search", time.time(), "missed"),
    )
    before = [tuple(r) for r in conn.execute("SELECT day, source, channel, calls FROM daily_rollup")]
    assert db.upgrade(conn)[0] == 14
    after = [tuple(r) for r in conn.execute("SELECT day, source, channel, calls FROM daily_rollup")]
    assert after == before and conn.execute("SELECT site FROM calls").fetchone()[0] == ""
    assert conn.execute("SELECT DISTINCT site FROM daily_rollup").fetchall()[0][0] == ""


def test_leads_tags_rules_spam_and_conversion_events_on_both_backends(database, conn):
    from ctrack.alerts import store as alerts
    from ctrack.exports import outbox
    from ctrack.leads import service as leads
    from ctrack.leads import store as lead_store
    from ctrack.spam import store as spam

    now = time.time()
    save_calls(database, [record("t1", now - 600)])  # answered, 90 s: the default rule makes it a lead
    call_id = conn.execute("SELECT id FROM calls WHERE uniqueid = 't1'").fetchone()[0]
    mark = leads.Mark(add_tags=("Plumbing", "urgent"), value=125.0)
    db.write(conn, lambda c: leads.mark(c, call_id, mark, who="cli:t"))
    again = leads.Mark(add_tags=("PLUMBING",))  # the same tag in other letters: kept once
    db.write(conn, lambda c: leads.mark(c, call_id, again, who="cli:t"))
    assert lead_store.tags(conn, call_id) == ["Plumbing", "urgent"]
    assert [r["uniqueid"] for r in find_calls(conn, CallFilter(tag="plumbing"))] == ["t1"]
    events = [dict(r) for r in conn.execute(outbox._EVENTS) if r["event_kind"] == "qualified"]
    assert [(json.loads(e["tags"]), e["value"], bool(e["conversion"])) for e in events] == [
        (["Plumbing", "urgent"], 125.0, True)
    ]
    rule_id = db.write(conn, lambda c: lead_store.insert_rule(c, "missed", "not_lead", "cli:t", 1))
    rules = [(r["id"], r["position"], r["condition"]) for r in lead_store.rule_rows(conn)]
    assert rules == [(rule_id, 1, "missed"), (1, 2, "answered and talk_seconds >= qualified_seconds")]
    assert alerts.summary_rows(conn, now - 3600, now) == [
        {"source": "Google Ads", "calls": 1, "leads": 1, "missed": 0, "spam": 0}
    ]
    db.write(conn, lambda c: spam.add_block(c, "+1900", "prefix", None))
    assert spam.blocking_entry(conn, "+19005550100") == "+1900"
    assert spam.blocking_entry(conn, CALLER) is None


def test_an_ivr_only_call_is_a_disposition_on_both_backends(database, conn):
    """Migration 0015 loosens the CHECK on SQLite in place and by name on PostgreSQL."""
    record = CallRecord(
        "ivr.1", tracking_number="+15035550101", caller_number=CALLER, started_at=1000.0, ended_at=1012.0
    )
    record.disposition = Disposition.PBX_ANSWERED
    assert db.write(conn, lambda c: save_call(c, record, CallRules(), origin="ami"))
    row = conn.execute("SELECT disposition, talk_seconds FROM calls WHERE uniqueid = 'ivr.1'").fetchone()
    assert (row[0], row[1]) == ("pbx_answered", 0)
    with pytest.raises(sqlite3.IntegrityError):
        db.write(
            conn,
            lambda c: c.execute("INSERT INTO calls(uniqueid, started_at, disposition) VALUES ('x', 1, 'nonsense')"),
        )
