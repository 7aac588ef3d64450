"""The CDR backstop: a real Master.csv from the test PBX (answered, missed, busy, abandoned, and
a call taken while ctrack's daemon was down) parsed into call records."""

from pathlib import Path
from zoneinfo import ZoneInfo

from ctrack.calllog.asterisk_cdr import inbound_calls, parse_rows

MASTER = Path(__file__).resolve().parents[2] / "fixtures" / "asterisk-master.csv"
SOURCES = {
    "+15035550101": ("Google Ads", "paid_search"),
    "+15035550102": ("Radio", "radio"),
    "+15035550103": ("Billboard", "billboard"),
    "+15035550104": ("Billboard", "billboard"),
}


def records():
    rows = list(parse_rows(MASTER.read_text().splitlines(), ZoneInfo("UTC")))
    calls = inbound_calls(rows, ring_timeout=4, region="US", source_of=lambda n: SOURCES.get(n, (None, None)))
    return {c.caller_number: c for c in calls}


def test_one_record_per_inbound_call_with_the_dial_truth():
    calls = records()
    assert sorted(calls) == ["+15035550301", "+15035550302", "+15035550303", "+15035550304", "+15035550305"]
    answered = calls["+15035550301"]
    assert (answered.disposition, answered.talk_seconds, answered.ring_seconds) == ("answered", 3, 0)
    assert (answered.tracking_number, answered.source, answered.channel) == (
        "+15035550101",
        "Google Ads",
        "paid_search",
    )
    assert answered.caller_name == "Ann Answer" and answered.uniqueid == "1795801286.0"
    assert answered.started_at == 1795801286.0  # 2026-11-27 17:41:26 UTC
    assert calls["+15035550302"].disposition == "missed" and calls["+15035550302"].ring_seconds == 4
    assert calls["+15035550303"].disposition == "busy"
    assert calls["+15035550304"].disposition == "abandoned" and calls["+15035550304"].ring_seconds == 2
    down = calls["+15035550305"]  # the daemon was down: no userfield, DID still known
    assert (down.source, down.disposition, down.talk_seconds) == ("Radio", "answered", 2)


def test_local_channels_and_other_contexts_are_not_calls():
    rows = list(parse_rows(MASTER.read_text().splitlines(), ZoneInfo("UTC")))
    assert len(rows) == 12
    assert {c.uniqueid for c in records().values()} == {r.uniqueid for r in rows if r.pbx_channel.startswith("PJSIP/")}


def test_the_cdr_time_zone_is_applied():
    rows = list(parse_rows(MASTER.read_text().splitlines()[:1], ZoneInfo("America/Los_Angeles")))
    assert rows[0].start == 1795801286.0 + 8 * 3600


def test_bad_lines_are_reported_and_skipped():
    bad = []
    lines = [
        '"a","b"',
        '"","1","2","ctrack-call","x","PJSIP/t","","Dial","","not a time","","",0,0,"ANSWERED","D","u1",""',
    ]
    assert list(parse_rows(lines, ZoneInfo("UTC"), lambda n, reason: bad.append((n, reason)))) == []
    assert [n for n, _ in bad] == [1, 2]
    assert "loguniqueid" in bad[0][1] and "bad time" in bad[1][1]
