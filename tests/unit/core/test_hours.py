"""Business hours: one rule for the lead rules and the missed-call alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ctrack.core.hours import parse_hours

TZ = "America/Los_Angeles"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_business_hours_per_weekday_in_the_local_zone():
    hours = parse_hours("mon-fri 09:00-17:00, sat 10:00-13:30")
    assert hours.is_set
    assert hours.open_at_time(at("2026-12-01 17:00"), TZ)  # Tue 09:00 PST
    assert not hours.open_at_time(at("2026-12-01 16:59"), TZ)  # Tue 08:59
    assert not hours.open_at_time(at("2026-12-02 01:00"), TZ)  # Tue 17:00: the end is not open
    assert hours.open_at_time(at("2026-12-05 21:29"), TZ)  # Sat 13:29
    assert not hours.open_at_time(at("2026-12-06 18:00"), TZ)  # Sun 10:00
    assert not parse_hours("").is_set  # empty: never open (alerts read it as "at any time")


@pytest.mark.parametrize("text", ["mon-fri", "mon-fri 9-17", "xyz 09:00-10:00", "mon 10:00-09:00", "mon 25:00-26:00"])
def test_bad_business_hours_are_refused(text):
    with pytest.raises(ValueError):
        parse_hours(text)
