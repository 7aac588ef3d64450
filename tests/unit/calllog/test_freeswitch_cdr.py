"""The mod_cdr_csv backstop: ctrack's template, read back into the same records as live events."""

import re
from pathlib import Path

import pytest

from ctrack.calllog import freeswitch_cdr as cdr_csv
from ctrack.calllog.freeswitch_events import completed_call
from ctrack.core import variables as v
from ctrack.core.model import Disposition
from tests.unit.calllog.test_freeswitch_events import EXPECTED, events

DOCS = Path(__file__).resolve().parents[3] / "docs" / "freeswitch.md"


def expand(template: str, event: dict[str, str]) -> str:
    """What mod_cdr_csv writes: each ${var} replaced by the channel variable, '' when unset."""

    def value(m):
        name = m.group(1)
        for key in (
            "variable_" + name,
            {
                "uuid": "Unique-ID",
                "caller_id_number": "Caller-Caller-ID-Number",
                "caller_id_name": "Caller-Caller-ID-Name",
            }.get(name, ""),
        ):
            if key in event:
                return event[key]
        return ""

    return re.sub(r"\$\{([^}]+)\}", value, template) + "\n"


def tracked_hangup(capture: str) -> dict[str, str]:
    return next(
        e for e in events(capture) if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" and e.get("variable_" + v.DID)
    )


def test_template_uses_only_declared_ctrack_variables():
    names = set(re.findall(r"\$\{([^}]+)\}", cdr_csv.TEMPLATE))
    assert {n for n in names if n.startswith("CTRACK_")} <= set(v.ALL)
    assert cdr_csv.TEMPLATE.endswith('"${caller_id_name}"')


@pytest.mark.parametrize("capture", sorted(EXPECTED))
def test_a_cdr_row_means_what_the_live_event_means(capture):
    event = dict(tracked_hangup(capture), **{"variable_" + v.RECORDING_FILE: "/rec/x.wav"})
    row = expand(cdr_csv.TEMPLATE, event)
    assert cdr_csv.parse_line(row) == completed_call(event)
    answered = EXPECTED[capture]["disposition"] is Disposition.ANSWERED
    assert cdr_csv.parse_line(row).recording == ("/rec/x.wav" if answered else None)


def test_a_quote_in_the_caller_name_shifts_nothing():
    event = dict(tracked_hangup("inbound-missed"), **{"Caller-Caller-ID-Name": 'Bob "The Plumber", Jr'})
    record = cdr_csv.parse_line(expand(cdr_csv.TEMPLATE, event))
    assert record.caller_name == 'Bob "The Plumber", Jr'
    assert record.disposition == EXPECTED["inbound-missed"]["disposition"]


def test_other_calls_and_other_templates():
    untracked = dict(tracked_hangup("inbound-missed"))
    del untracked["variable_" + v.DID]
    assert cdr_csv.parse_line(expand(cdr_csv.TEMPLATE, untracked)) is None
    default_template_row = (
        '"Bob","15035550123","15551230001","public","2026-11-27 17:10:02","","2026-11-27 17:10:06",'
        '"4","0","NORMAL_CLEARING","9204c0cf","", ""\n'
    )
    with pytest.raises(cdr_csv.CdrLineError):
        cdr_csv.parse_line(default_template_row)
    with pytest.raises(cdr_csv.CdrLineError):
        cdr_csv.parse_line("garbage\n")


def test_scan_keeps_recent_tracked_calls():
    rows = [
        expand(cdr_csv.TEMPLATE, tracked_hangup(c)) for c in ("inbound-answered", "inbound-missed", "inbound-abandoned")
    ]
    found = cdr_csv.scan(["\n", "not ours\n"] + rows)
    assert [r.uniqueid for r in found.records] == [
        EXPECTED[c]["uniqueid"] for c in ("inbound-answered", "inbound-missed", "inbound-abandoned")
    ]
    assert found.skipped == 1
    recent = cdr_csv.scan(rows, since=EXPECTED["inbound-missed"]["ended_at"])
    assert [r.uniqueid for r in recent.records] == [
        EXPECTED[c]["uniqueid"] for c in ("inbound-missed", "inbound-abandoned")
    ]


def test_the_admin_docs_ship_the_template():
    text = DOCS.read_text()
    assert cdr_csv.TEMPLATE in text
    assert f'<template name="{cdr_csv.TEMPLATE_NAME}">' in text
