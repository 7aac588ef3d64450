"""Lead rules on real calls: SIPp calls through the test PBX's dialplan, logged by the running
daemon over AMI, marked by the rules when they end; a person's mark afterwards wins."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import install_site

RADIO = "15035550102"
QUOTE_CALLER, SHORT_CALLER, DEFAULT_CALLER = "+15035550821", "+15035550822", "+15035550823"


@pytest.fixture(scope="module")
def site(pbx, tmp_path_factory, suite_database):
    site = install_site(
        pbx,
        tmp_path_factory.mktemp("ctrack-leads"),
        "[business]\nhours = mon-sun 00:00-24:00\n",
        new_database=suite_database,
    )
    # Added with the CLI before the daemon starts; the daemon reads rules at each save.
    site.ctrack(
        "rule",
        "add",
        "--when",
        f'source = "Radio" and region = "US-OR" and business_hours and caller_number = "{QUOTE_CALLER}"',
        "--then",
        "lead, tag radio-quote, value 120",
    )
    site.ctrack("rule", "add", "--when", 'talk_seconds < 3 and channel = "radio"', "--then", "not_lead, tag short")
    site.start()
    yield site
    assert site.stop() == 0, site.log_tail()
    pbx.load_dialplan(None)
    pbx.load_manager(None)


def show(site, call_id: int) -> dict:
    return json.loads(site.ctrack("call", "show", str(call_id), "--json").stdout)


def test_rules_mark_real_calls_when_they_end(site):
    quote = site.pbx.call(RADIO, caller=QUOTE_CALLER[1:], name="Quinn Quote", talk=4)
    short = site.pbx.call(RADIO, caller=SHORT_CALLER[1:], name="Sam Short", talk=1)
    default = site.pbx.call(RADIO, caller=DEFAULT_CALLER[1:], name="Dee Default", talk=6)
    assert quote.answered and short.answered and default.answered
    [q] = site.wait_calls(QUOTE_CALLER)
    [s] = site.wait_calls(SHORT_CALLER)
    [d] = site.wait_calls(DEFAULT_CALLER)
    assert (q["lead_status"], q["tags"], q["value"]) == ("lead", ["radio-quote"], 120.0), q
    assert q["talk_seconds"] < 5  # a lead by the new rule, not by the default (qualified_seconds = 5)
    assert (s["lead_status"], s["tags"], s["value"]) == ("not_lead", ["short"], None), s
    assert (d["lead_status"], d["tags"]) == ("lead", []), d  # the default rule: 6 s ≥ 5 s
    changes = show(site, q["id"])["changes"]
    assert {(c["who"], c["field"]) for c in changes} == {
        ("rule:2", "lead_status"),
        ("rule:2", "tags"),
        ("rule:2", "value"),
    }

    # A person's mark wins, and is kept in the audit trail as theirs.
    site.ctrack("call", "mark", str(s["id"]), "--lead", "--value", "45", "--note", "called back, booked")
    marked = show(site, s["id"])
    assert (marked["lead_status"], marked["value"], marked["note"]) == ("lead", 45.0, "called back, booked")
    assert marked["marked_by"].startswith("cli:") and marked["changes"][-1]["who"] == marked["marked_by"]
    radio = next(r for r in json.loads(site.ctrack("report", "sources", "--json").stdout) if r["source"] == "Radio")
    assert radio["leads"] >= 3 and radio["value"] >= 165.0
