"""The CDR backstop: a real Master.csv from the test PBX (answered, missed, busy, abandoned, and
a call taken while ctrack's daemon was down) parsed into call records."""

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ctrack.calllog.asterisk_cdr import cdr_caller, inbound_calls, parse_rows

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


NAMES = Path(__file__).resolve().parents[2] / "fixtures" / "asterisk-master-names.csv"


def test_caller_names_as_the_live_path_has_them():
    """Master.csv rows the test PBX wrote for these callers (SIP display names): Asterisk
    escapes quotes and backslashes (twice) and cuts clid at 80 bytes, losing the closing
    quote and the <number> of a long name; the number then comes from src."""
    rows = list(parse_rows(NAMES.read_text(encoding="utf-8").splitlines(), ZoneInfo("UTC")))
    calls = {c.caller_number: c for c in inbound_calls(rows, 4, "US", lambda n: (None, None))}
    assert {number: call.caller_name for number, call in calls.items()} == {
        "+15035550701": 'Bob "The Builder" O\\Brien',
        "+15035550702": "Alexander Maximilian Bartholomew Fitzgerald-Worthington the Third of Upper Sno",
        "+15035550703": "Александр Сергеевич Пушкин-Гончаров Велик",
        "+15035550704": "🍕🍕 Pizza 🎉 Party 🎉 Palace 🍕🍕 Downtown 🍕 Delivery 🚚",
        "+15035550705": "Zoë O'Neil; a,b",
    }


@pytest.mark.parametrize(
    ("clid", "src", "caller"),
    [
        ('"Ann" <15035550301>', "15035550301", ("Ann", "15035550301")),
        ("15035550301", "15035550301", (None, "15035550301")),
        ('"" <15035550301>', "15035550301", (None, "15035550301")),
        ('"Ann \\\\\\"A', "15035550301", ('Ann "A', "15035550301")),  # cut inside an escape
        ('"Ann \\\\\\', "15035550301", ("Ann", "15035550301")),
        ('"Zo\ufffd', "", ("Zo", None)),  # cut inside a UTF-8 character
        ('"Ann" <15035550301>', "", ("Ann", "15035550301")),
    ],
)
def test_clid_forms(clid, src, caller):
    assert cdr_caller(clid, src) == caller


def test_anonymous_callers_keep_the_fact_in_the_call_log(ctrack_db):
    from ctrack.calllog.store import find_calls
    from tests.support.report_data import new_db, save_calls

    line = (
        '"","anonymous","15035550101","ctrack-inbound","""Anonymous"" <anonymous>","PJSIP/trunk-00000009",'
        '"Local/s@business-line-00000009;1","Dial","Local/s@business-line,30","2026-12-01 22:28:57",'
        '"2026-12-01 22:28:57","2026-12-01 22:28:58",1,1,"ANSWERED","DOCUMENTATION","1796164137.9",""'
    )
    [withheld] = inbound_calls(parse_rows([line], ZoneInfo("UTC")), 4, "US", lambda n: (None, None))
    no_id = inbound_calls(parse_rows([line.replace("anonymous", "")], ZoneInfo("UTC")), 4, "US", lambda n: (None, None))
    no_id[0].uniqueid = "1796164137.10"
    conn = new_db(ctrack_db)
    save_calls(ctrack_db, [withheld, *no_id, withheld_again(withheld)])
    calls = {c["uniqueid"]: c for c in find_calls(conn)}
    assert (calls["1796164137.9"]["caller_number"], calls["1796164137.9"]["caller_anonymous"]) == (None, True)
    assert calls["1796164137.10"]["caller_anonymous"] is False
    # first-time/repeat does not apply: two withheld calls are not one repeat caller
    assert calls["1796164137.9"]["first_time"] is None and calls["1796164137.11"]["first_time"] is None


def withheld_again(record):
    from dataclasses import replace

    return replace(record, uniqueid="1796164137.11", started_at=record.started_at + 60, extra=dict(record.extra))


# Master.csv rows of pass-through calls (forward goto:CONTEXT): the inbound row carries the
# admin's context and the DID; an IVR-only call, a voicemail, a queue call, an untracked DID.
PASS_THROUGH_ROWS = [
    '"","15035550890","15035550891","f1-ivr","""Ivy"" <15035550890>","PJSIP/trunk-00000000","","WaitExten","6",'
    '"2026-12-02 01:00:00","2026-12-02 01:00:00","2026-12-02 01:00:04",4,4,"ANSWERED","DOCUMENTATION","1796173970.0",'
    '"Yelp"',
    '"","15035550920","15035550895","f1-voicemail","""Val"" <15035550920>","PJSIP/trunk-00000001","","VoiceMail",'
    '"100@f1,su","2026-12-02 01:01:00","2026-12-02 01:01:03","2026-12-02 01:01:10",10,7,"ANSWERED","DOCUMENTATION",'
    '"1796174060.1","Yelp"',
    '"","15035550910","15035550893","f1-queue","""Quinn"" <15035550910>","PJSIP/trunk-00000002","PJSIP/qa2-00000004",'
    '"Queue","f1-sales,,,,30","2026-12-02 01:02:00","2026-12-02 01:02:02","2026-12-02 01:02:08",8,6,"ANSWERED",'
    '"DOCUMENTATION","1796174120.2","Yelp"',
    '"","15035550911","15035550894","f1-queue-wait","""Wade"" <15035550911>","PJSIP/trunk-00000004","","Queue",'
    '"f1-wait,,,,30","2026-12-02 01:04:00","2026-12-02 01:04:00","2026-12-02 01:04:04",4,4,"ANSWERED","DOCUMENTATION",'
    '"1796174240.4","Yelp"',
    '"","15035550999","15035550897","from-pstn","""Other"" <15035550999>","PJSIP/trunk-00000003","","WaitExten","6",'
    '"2026-12-02 01:03:00","2026-12-02 01:03:00","2026-12-02 01:03:04",4,4,"ANSWERED","DOCUMENTATION","1796174180.3",""',
]


def test_pass_through_calls_are_recovered_with_their_dispositions():
    rows = parse_rows(PASS_THROUGH_ROWS, ZoneInfo("UTC"))
    numbers = {"+15035550891", "+15035550893", "+15035550894", "+15035550895"}
    calls = {c.caller_number: c for c in inbound_calls(rows, 4, "US", lambda n: ("Yelp", "referral"), numbers)}
    assert sorted(calls) == ["+15035550890", "+15035550910", "+15035550911", "+15035550920"]  # not the untracked DID
    assert (calls["+15035550911"].disposition, calls["+15035550911"].talk_seconds) == ("abandoned", 0)
    assert (calls["+15035550890"].disposition, calls["+15035550890"].ring_seconds) == ("pbx_answered", 4)
    assert calls["+15035550890"].talk_seconds == 0
    assert (calls["+15035550920"].disposition, calls["+15035550920"].talk_seconds) == ("voicemail", 0)
    assert calls["+15035550910"].disposition == "answered" and calls["+15035550910"].talk_seconds == 6
    assert inbound_calls(rows, 4, "US", lambda n: (None, None)) == []  # without the numbers: not ctrack's contexts
