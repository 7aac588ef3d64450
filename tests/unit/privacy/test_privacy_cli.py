"""Retention purge, per-caller export and erasure, and the audit trail, through the CLI on a real database."""

import json
import time

import pytest
from click.testing import CliRunner

from ctrack.calllog.store import CallRules, save_call
from ctrack.cli import cli
from ctrack.core.model import CallRecord, Disposition
from ctrack.store import db as store_db
from tests.support.database import dicts, digest

DAY = 86400
NOW = time.time()
SINCE = time.strftime("%Y-%m-%d", time.gmtime(NOW - 365 * DAY))


@pytest.fixture
def site(tmp_path, ctrack_db, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    path = ctrack_db
    recordings = tmp_path / "rec"
    recordings.mkdir()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        f"[ctrack]\ndatabase = {path}\n[recording]\ndirectory = {recordings}\n"
        "[retention]\nrecordings_days = 30\ntranscripts_days = 30\ncaller_data_days = 60\nvisits_days = 30\n"
    )

    def invoke(*args, ok=True, input=None):
        result = CliRunner().invoke(cli, ["--config", str(ini), *args], input=input)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    invoke("init")
    conn = store_db.connect(path)
    conn.execute(
        "INSERT INTO visits(id, site, first_seen, last_seen, gclid) VALUES ('v-old', 'example.com', ?, ?, 'G1')",
        (NOW - 40 * DAY, NOW - 40 * DAY),
    )
    conn.execute(
        "INSERT INTO visits(id, site, first_seen, last_seen) VALUES ('v-new', 'example.com', ?, ?)", (NOW - DAY, NOW)
    )
    calls = [
        ("old", "+14155550100", "Ann Old", NOW - 70 * DAY, "v-old"),
        ("mid", "+14155550100", "Ann Old", NOW - 40 * DAY, None),
        ("new", "+14155550100", "Ann Old", NOW - DAY, "v-new"),
        ("other", "+12125550100", "Bo Other", NOW - DAY, None),
    ]
    for uid, number, name, at, visit in calls:
        wav = recordings / f"{uid}.wav"
        wav.write_bytes(b"RIFF" + b"\0" * 100)
        rec = CallRecord(uid, "+15035550101", number, name, "Google", "paid_search", at, at + 1, at + 90)
        rec.disposition, rec.recording, rec.visit_id = Disposition.ANSWERED, str(wav), visit
        store_db.write(conn, lambda c, rec=rec: save_call(c, rec, CallRules(qualified_seconds=5)))
    conn.execute("UPDATE calls SET transcript = 'hello ' || uniqueid")
    conn.close()
    invoke.db, invoke.recordings = path, recordings
    return invoke


def rows(site):
    return {r["uniqueid"]: r for r in dicts(site.db, "SELECT * FROM calls")}


def snapshot(path) -> dict:
    return digest(path)


def test_purge_dry_run_says_what_and_changes_nothing(site):
    before = snapshot(site.db)
    out = site("purge", "--dry-run").stdout
    assert out.splitlines()[0] == "would delete: 2 recordings, 2 transcripts, 1 callers, 1 visits"
    assert snapshot(site.db) == before
    assert len(list(site.recordings.iterdir())) == 4


def test_purge_deletes_old_data_keeps_counts_and_repeat_callers(site):
    report_before = json.loads(site("report", "sources", "--json", "--since", SINCE).stdout)
    site("purge")
    calls = rows(site)
    assert len(calls) == 4  # the rows stay
    assert calls["old"]["recording"] is None and calls["mid"]["recording"] is None
    assert calls["new"]["recording"] and calls["new"]["transcript"] == "hello new"
    assert sorted(p.name for p in site.recordings.iterdir()) == ["new.wav", "other.wav"]
    assert calls["old"]["caller_number"].startswith("h:") and calls["old"]["caller_name"] is None
    assert calls["mid"]["caller_number"] == "+14155550100"  # inside caller_data_days
    assert calls["old"]["visit_id"] is None
    assert json.loads(site("report", "sources", "--json", "--since", SINCE).stdout) == report_before
    # a new call from the hashed caller still counts as a repeat inside the window
    conn = store_db.connect(site.db)
    site("purge")  # idempotent
    rec = CallRecord("later", "+15035550101", "+14155550100", None, "Google", "paid_search", NOW - 69 * DAY)
    rec.disposition = Disposition.MISSED
    store_db.write(conn, lambda c: save_call(c, rec, CallRules()))
    conn.close()
    assert rows(site)["later"]["first_time"] == 0
    assert [e["action"] for e in json.loads(site("audit", "list", "--json").stdout)] == ["purge", "purge"]


def test_export_lists_a_callers_calls_visits_recordings_and_transcripts(site):
    data = json.loads(site("privacy", "export", "--caller", "(415) 555-0100").stdout)
    assert [c["uniqueid"] for c in data["calls"]] == ["old", "mid", "new"]
    assert sorted(v["id"] for v in data["visits"]) == ["v-new", "v-old"]
    assert [p.rsplit("/", 1)[1] for p in data["recordings"]] == ["old.wav", "mid.wav", "new.wav"]
    assert [t["transcript"] for t in data["transcripts"]] == ["hello old", "hello mid", "hello new"]
    [entry] = json.loads(site("audit", "list", "--json").stdout)
    assert entry["action"] == "export" and entry["subject"].startswith("h:") and "4155550100" not in entry["subject"]


def test_erase_anonymises_deletes_and_is_idempotent(site):
    out = site("privacy", "erase", "--caller", "+14155550100", "--yes").stdout
    assert "3 calls anonymised, 3 recordings, 3 transcripts, 2 visits" in out
    calls = rows(site)
    assert len(calls) == 4
    for uid in ("old", "mid", "new"):
        assert (calls[uid]["caller_number"], calls[uid]["caller_name"], calls[uid]["recording"]) == (None, None, None)
    assert calls["other"]["caller_number"] == "+12125550100" and calls["other"]["recording"]
    assert sorted(p.name for p in site.recordings.iterdir()) == ["other.wav"]
    assert json.loads(site("privacy", "export", "--caller", "+14155550100").stdout)["calls"] == []
    again = site("privacy", "erase", "--caller", "+14155550100", "--yes").stdout
    assert "0 calls anonymised" in again
    actions = [e["action"] for e in json.loads(site("audit", "list", "--json").stdout)]
    assert actions == ["erase", "export", "erase"]


def test_erase_asks_first_and_a_no_changes_nothing(site):
    before = snapshot(site.db)
    result = site("privacy", "erase", "--caller", "+14155550100", ok=False, input="n\n")
    assert result.exit_code == 1 and "nothing erased" in result.stderr
    assert snapshot(site.db) == before


@pytest.mark.parametrize(
    "args",
    [("privacy", "export", "--caller", "12"), ("privacy", "erase", "--caller", "not-a-number", "--yes")],
)
def test_a_malformed_number_is_refused_and_changes_nothing(site, args):
    before = snapshot(site.db)
    result = site(*args, ok=False)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert snapshot(site.db) == before


def test_a_retention_that_is_not_whole_days_is_refused(tmp_path):
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ndatabase = {tmp_path / 'x.db'}\n[retention]\nrecordings_days = 2.5\n")
    result = CliRunner().invoke(cli, ["--config", str(ini), "purge", "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "ctrack: error: " + f"{ini}:4: recordings_days: expected a whole number"
