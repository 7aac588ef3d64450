"""Marking calls and lead rules through the CLI on a real database: the audit trail, a
person's mark winning over rules, rules again on a transcript, reports counting leads,
value and ROI, and bad input refused with nothing changed."""

from __future__ import annotations

import json
from functools import partial

import pytest
from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.leads import service as leads
from ctrack.store import db
from tests.support.report_data import TZ, seeded

PERIOD = ["--since", "2024-03-09", "--until", "2024-03-11"]


@pytest.fixture
def env(tmp_path, ctrack_db):
    conn = seeded(ctrack_db)
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ntimezone = {TZ}\n")

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(ini), "--db", str(ctrack_db), *args])

    ids = dict(conn.execute("SELECT uniqueid, id FROM calls").fetchall())
    yield run, conn, ids
    conn.close()


def snapshot(conn):
    return (
        conn.execute("SELECT id, lead_status, value, note, marked_by FROM calls ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM call_tags ORDER BY 1, 2").fetchall(),
        conn.execute("SELECT count(*) FROM call_changes").fetchone()[0],
        conn.execute("SELECT * FROM lead_rules ORDER BY id").fetchall(),
    )


def test_the_default_rule_marked_the_seeded_calls_as_before(env):
    run, conn, ids = env
    leads_now = {u for u, s in conn.execute("SELECT uniqueid, lead_status FROM calls") if s == "lead"}
    assert leads_now == {"c1", "c5", "c9", "c7"}  # answered and at least 60 s of talk
    rules = json.loads(run("rule", "list", "--json").output)
    assert [(r["id"], r["condition"], r["actions"]) for r in rules] == [
        (1, "answered and talk_seconds >= qualified_seconds", "lead")
    ]
    history = json.loads(run("call", "show", str(ids["c1"]), "--json").output)["changes"]
    assert [(c["who"], c["field"], c["old"], c["new"]) for c in history] == [("rule:1", "lead_status", None, "lead")]


def test_mark_show_and_calls_json(env):
    run, conn, ids = env
    c3 = str(ids["c3"])
    result = run(
        "call",
        "mark",
        c3,
        "--lead",
        "--tag",
        "estimate",
        "--tag",
        "Water Heater",
        "--value",
        "250.5",
        "--note",
        "wants a quote",
    )
    assert result.exit_code == 0, result.output
    assert 'lead_status null → "lead"' in result.output and "value null → 250.5" in result.output
    shown = json.loads(run("call", "show", c3, "--json").output)
    assert (shown["lead_status"], shown["tags"], shown["value"], shown["note"]) == (
        "lead",
        ["estimate", "Water Heater"],
        250.5,
        "wants a quote",
    )
    assert shown["marked_by"].startswith("cli:")
    assert {c["field"] for c in shown["changes"]} == {"lead_status", "tags", "value", "note"}
    assert all(c["who"] == shown["marked_by"] for c in shown["changes"])
    run("call", "mark", c3, "--untag", "water heater", "--spam")
    listed = {c["id"]: c for c in json.loads(run("calls", "--json").output)}
    call = listed[ids["c3"]]
    assert (call["lead_status"], call["tags"], call["value"], call["note"]) == (
        "spam",
        ["estimate"],
        250.5,
        "wants a quote",
    )
    assert "qualified" not in call
    assert [c["id"] for c in json.loads(run("calls", "--json", "--tag", "ESTIMATE").output)] == [ids["c3"]]
    assert ids["c3"] in [c["id"] for c in json.loads(run("calls", "--json", "--lead-status", "spam").output)]
    table = run("call", "show", c3).output
    assert "lead_status:       spam" in table and "changes:" in table


def test_a_persons_mark_wins_over_the_rules_even_when_a_transcript_arrives(env):
    run, conn, ids = env
    settings = leads.Settings(60, TZ)
    run("rule", "add", "--when", 'said("wrong number")', "--then", "not_lead, tag wrong-number")
    result = {
        "segments": [{"speaker": "caller", "start": 0.0, "end": 2.0, "text": "Sorry, wrong number."}],
        "language": "en",
        "duration": 2.0,
        "seconds_taken": 0.1,
    }
    # c1: a lead by the default rule; its transcript makes it not a lead
    found = db.write(conn, partial(leads.save_transcript, call_id=ids["c1"], result=result, settings=settings))
    assert found == {"lead_status": ("lead", "not_lead"), "tags": ([], ["wrong-number"])}
    # c5: a person said lead first; the transcript changes nothing
    run("call", "mark", str(ids["c5"]), "--lead", "--value", "80")
    assert db.write(conn, partial(leads.save_transcript, call_id=ids["c5"], result=result, settings=settings)) == {}
    assert tuple(conn.execute("SELECT lead_status, value FROM calls WHERE id = ?", (ids["c5"],)).fetchone()) == (
        "lead",
        80.0,
    )


def test_rule_test_shows_changes_without_making_them(env):
    run, conn, ids = env
    before = snapshot(conn)
    result = run(
        "rule", "test", "--when", 'source = "Radio"', "--then", "tag radio, value 40", "--since", "2024-01-01", "--json"
    )
    assert result.exit_code == 0, result.output
    changed = {r["id"]: r["changes"] for r in json.loads(result.output)}
    assert set(changed) == {ids["c4"], ids["c5"], ids["c8"]}
    assert changed[ids["c5"]] == {"tags": {"old": [], "new": ["radio"]}, "value": {"old": None, "new": 40.0}}
    assert snapshot(conn) == before
    assert "no past call would change" in run("rule", "test", "--when", 'source = "Nope"', "--then", "lead").output


def test_rule_add_position_and_remove(env):
    run, conn, _ = env
    assert run("rule", "add", "--when", "talk_seconds < 3", "--then", "spam").output == "rule 2 added\n"
    assert run("rule", "add", "--when", "first_time", "--then", "tag new", "--position", "1").exit_code == 0
    rules = json.loads(run("rule", "list", "--json").output)
    assert [(r["id"], r["position"]) for r in rules] == [(3, 1), (1, 2), (2, 3)]
    assert run("rule", "remove", "1").exit_code == 0
    assert [r["id"] for r in json.loads(run("rule", "list", "--json").output)] == [3, 2]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["call", "mark", "999", "--lead"], "unknown call id 999"),
        (["call", "show", "999"], "unknown call id 999"),
        (["call", "mark", "{c1}", "--value", "-5"], "non-negative amount"),
        (["call", "mark", "{c1}", "--value", "lots", "--lead"], "non-negative amount"),
        (["call", "mark", "{c1}"], "nothing to mark"),
        (["call", "mark", "{c1}", "--tag", ""], "tag ''"),
        (["rule", "add", "--when", "talk >= 5", "--then", "lead"], "unknown name 'talk'"),
        (["rule", "add", "--when", "first_time", "--then", "promote"], "is not lead"),
        (["rule", "test", "--when", "answered or", "--then", "lead"], "bad rule condition"),
        (["rule", "remove", "77"], "unknown rule id 77"),
    ],
)
def test_bad_input_is_one_line_non_zero_and_changes_nothing(env, args, reason):
    run, conn, ids = env
    before = snapshot(conn)
    result = run(*[a.format(c1=ids["c1"]) for a in args])
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and lines[0].startswith("ctrack: error:") and reason in lines[0]
    assert snapshot(conn) == before


def test_reports_count_leads_value_roi_leave_spam_out_and_filter(env):
    run, conn, ids = env
    before = json.loads(run("report", "sources", *PERIOD, "--json").output)
    google = next(r for r in before if r["source"] == "Google Ads")
    assert (google["calls"], google["leads"], google["value"], google["roi"]) == (4, 2, 0.0, 0.0)
    run("call", "mark", str(ids["c3"]), "--lead", "--value", "300", "--tag", "estimate")
    run("call", "mark", str(ids["c2"]), "--spam")
    rows = {r["source"]: r for r in json.loads(run("report", "sources", *PERIOD, "--json").output)}
    google = rows["Google Ads"]
    # c2 is spam: left out; c3 is a lead worth 300; spend 100
    assert (google["calls"], google["leads"], google["value"], google["cost_per_lead"], google["roi"]) == (
        3,
        3,
        300.0,
        33.33,
        3.0,
    )
    with_spam = {
        r["source"]: r
        for r in json.loads(
            run(
                "report",
                "sources",
                *PERIOD,
                "--json",
                *[a for s in ("lead", "not_lead", "spam", "none") for a in ("--lead-status", s)],
            ).output
        )
    }
    assert with_spam["Google Ads"]["calls"] == 4
    tagged = json.loads(run("report", "sources", *PERIOD, "--json", "--tag", "estimate").output)
    google = next(r for r in tagged if r["source"] == "Google Ads")
    assert (google["calls"], google["leads"], google["value"]) == (1, 1, 300.0)
    statuses = {r["lead_status"]: r for r in json.loads(run("report", "leads", *PERIOD, "--json").output)}
    assert set(statuses) == {"lead", "not_lead", "none"}
    assert (statuses["lead"]["calls"], statuses["lead"]["value"], statuses["lead"]["cost_per_call"]) == (
        4,
        300.0,
        33.88,
    )
    only_spam = json.loads(run("report", "leads", *PERIOD, "--json", "--lead-status", "spam").output)
    assert [(r["lead_status"], r["calls"]) for r in only_spam] == [("spam", 1)]
    heat = json.loads(run("report", "heatmap", *PERIOD, "--json", "--lead-status", "spam").output)
    assert sum(c["calls"] for c in heat) == 1


def test_a_stored_rule_that_cannot_be_read_never_fails_a_call_save(env, caplog):
    from ctrack.calllog.store import CallRules, save_call
    from tests.support.report_data import call

    run, conn, ids = env
    conn.execute("UPDATE lead_rules SET condition = 'talk >= 1' WHERE id = 1")  # e.g. written by a newer ctrack
    record = call("n1", "2024-03-11 16:00:00", "Radio", "+12125550077", "answered", 90)
    assert db.write(conn, lambda c: save_call(c, record, CallRules())) is not None
    assert conn.execute("SELECT lead_status FROM calls WHERE uniqueid = 'n1'").fetchone()[0] is None
    assert "lead rules not applied" in caplog.text and "unknown name 'talk'" in caplog.text


def test_rules_run_on_the_cdr_backstop_and_again_when_the_live_record_replaces_it(env):
    from ctrack.calllog.reconcile import save_missing
    from ctrack.calllog.store import CallRules, save_call
    from tests.support.report_data import call

    run, conn, _ = env
    run("rule", "add", "--when", 'source = "Radio" and answered', "--then", "tag radio")
    rules = CallRules(qualified_seconds=60)
    recovered = call("cdr1", "2024-03-11 16:00:00", "Radio", "+12125550078", "answered", 20)
    assert db.write(conn, save_missing([recovered], rules)) == 1
    row = conn.execute("SELECT id, lead_status FROM calls WHERE uniqueid = 'cdr1'").fetchone()
    assert row[1] is None and leads.store.tags(conn, row[0]) == ["radio"]
    live = call("cdr1", "2024-03-11 16:00:00", "Radio", "+12125550078", "answered", 200)
    assert db.write(conn, lambda c: save_call(c, live, rules, origin="ami")) is not None
    assert conn.execute("SELECT lead_status FROM calls WHERE id = ?", (row[0],)).fetchone()[0] == "lead"
