"""The alert rules: the summary's schedule, the rate limit, what each alert says."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from ctrack.alerts.rules import (
    chat_body,
    day_bounds,
    lead_message,
    missed_message,
    parse_addresses,
    parse_time_of_day,
    summary_day,
    summary_message,
    within_limit,
)

TZ = "America/Los_Angeles"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_settings_parsers():
    assert parse_time_of_day("8:05") == time(8, 5)
    with pytest.raises(ValueError):
        parse_time_of_day("24:00")
    assert parse_addresses("a@example.com, b@example.org") == ("a@example.com", "b@example.org")
    with pytest.raises(ValueError, match="email addresses"):
        parse_addresses("office")


def test_the_summary_of_yesterday_is_due_from_summary_time_on():
    assert summary_day(at("2026-12-02 15:59"), TZ, time(8)) is None  # 07:59 PST
    assert summary_day(at("2026-12-02 16:00"), TZ, time(8)) == "2026-12-01"
    assert summary_day(at("2026-12-03 07:00"), TZ, time(8)) == "2026-12-01"  # 23:00 on the 2nd
    since, until = day_bounds("2026-12-01", TZ)
    assert (since, until) == (at("2026-12-01 08:00"), at("2026-12-02 08:00"))


def test_rate_limit():
    assert within_limit(19, 20) and not within_limit(20, 20) and within_limit(10**6, 0)


CALL = {
    "id": 7,
    "caller_number": "+15035550840",
    "caller_name": "Pat Prospect",
    "tracking_number": "+15035550101",
    "source": "Google Ads",
    "channel": "paid_search",
    "started_at": at("2026-12-01 18:30"),
    "disposition": "missed",
    "ring_seconds": 20.0,
    "talk_seconds": 0,
    "value": 150.0,
}


def test_missed_and_lead_messages():
    m = missed_message(CALL, TZ)
    assert m.subject == "[ctrack] Missed call from a new caller: Pat Prospect ((503) 555-0840) via Google Ads"
    assert "was not answered (missed, rang 20 s). Call them back." in m.text
    assert "When: Tue 2026-12-01 10:30 PST" in m.text and "Source: Google Ads (paid_search)" in m.text
    abandoned = missed_message({**CALL, "disposition": "abandoned", "caller_name": None}, TZ)
    assert abandoned.subject.startswith("[ctrack] Abandoned call from a new caller: (503) 555-0840 via")
    lead = lead_message({**CALL, "disposition": "answered", "talk_seconds": 75}, TZ, "USD")
    assert lead.subject == "[ctrack] New lead: Pat Prospect ((503) 555-0840) via Google Ads"
    assert "talked 75 s), value 150.00 USD." in lead.text
    assert chat_body(m)["text"].startswith("*[ctrack] Missed call")


def test_summary_message_by_source():
    rows = [
        {"source": "Google Ads", "calls": 3, "leads": 1, "missed": 1, "spam": 0},
        {"source": "untracked", "calls": 1, "leads": 0, "missed": 0, "spam": 2},
    ]
    m = summary_message("2026-12-01", rows)
    assert m.subject == "[ctrack] Daily summary 2026-12-01: 4 calls, 1 lead, 1 missed"
    lines = m.text.splitlines()
    assert lines[0] == "Calls on 2026-12-01: 4 calls, 1 lead, 1 missed (2 spam calls not counted)."
    assert lines[2:] == [
        "Source      Calls  Leads  Missed",
        "Google Ads      3      1       1",
        "untracked       1      0       0",
    ]
    assert "(no calls)" in summary_message("2026-12-01", []).text
