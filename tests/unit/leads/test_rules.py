"""The lead rule engine (pure): conditions, actions, order, errors."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ctrack.core.hours import parse_hours
from ctrack.leads.rules import (
    Facts,
    Rule,
    RuleError,
    Settings,
    changes,
    evaluate,
    parse_actions,
    parse_amount,
    parse_condition,
)

TZ = "America/Los_Angeles"
# Tuesday 2026-12-01 10:30 in Portland
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo(TZ)).timestamp()
SETTINGS = Settings(60, TZ, parse_hours("mon-fri 08:00-17:00, sat 09:00-12:00"))


def facts(**kw) -> Facts:
    base = dict(
        started_at=TUESDAY_MORNING,
        answered=True,
        talk_seconds=90,
        ring_seconds=4,
        disposition="answered",
        first_time=True,
        source="Google Ads",
        channel="paid_search",
        tracking_number="+15035550100",
        caller_number="+15035550821",
        region="US-OR",
    )
    return Facts(**{**base, **kw})


def holds(condition: str, **kw) -> bool:
    return parse_condition(condition)(facts(**kw), SETTINGS)


def test_conditions_on_every_fact():
    assert holds("answered and talk_seconds >= qualified_seconds")
    assert not holds("answered and talk_seconds >= qualified_seconds", talk_seconds=59)
    assert not holds("talk_seconds >= 10", answered=False, talk_seconds=0)
    assert holds('disposition = "answered" and ring_seconds < 5')
    assert holds('disposition in ("missed", "voicemail")', disposition="voicemail")
    assert (
        holds("first_time") and not holds("first_time", first_time=False) and holds("not first_time", first_time=None)
    )
    assert holds('source = "google ads" and channel = "paid_search"')
    assert holds('source != "Radio"') and holds('source not in ("Radio", "Yelp")')
    assert holds('tracking_number = "+15035550100"') and not holds('tracking_number = "+15035550101"')
    assert holds('caller_number = "+15035550821"')


def test_region_matches_a_state_or_its_country():
    assert holds('region = "US-OR"') and holds('region = "us"') and not holds('region = "US-WA"')
    assert holds('region in ("US-WA", "US-OR")') and not holds('region = "DE"')
    assert not holds('region = "US"', region=None)


def test_business_hours_per_weekday_in_the_configured_zone():
    assert holds("business_hours")
    evening = datetime(2026, 12, 1, 17, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    assert not holds("business_hours", started_at=evening)  # closes at 17:00
    saturday = datetime(2026, 12, 5, 11, 59, tzinfo=ZoneInfo(TZ)).timestamp()
    assert holds("business_hours", started_at=saturday)
    sunday = datetime(2026, 12, 6, 11, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    assert not holds("business_hours", started_at=sunday)
    # 10:30 in Portland is 18:30 UTC: closed by the same hours read in UTC
    assert not parse_condition("business_hours")(facts(), Settings(60, "UTC", SETTINGS.hours))
    assert parse_hours("fri-mon 22:00-24:00").open_at(datetime(2026, 12, 6, 23, 0))  # wraps the week


def test_words_in_the_transcript_whole_words_either_or_one_speaker():
    said = (("caller", "Hi, my WATER heater is leaking."), ("business", "We can send someone for an estimate."))
    assert holds('said("water heater")', transcript=said)
    assert not holds('said("heat")', transcript=said)  # whole words only
    assert holds('said("boiler", "estimate")', transcript=said)
    assert holds('caller_said("leaking")', transcript=said) and not holds('caller_said("estimate")', transcript=said)
    assert holds('business_said("estimate")', transcript=said)
    assert not holds('said("water heater")')  # not transcribed (yet)


def test_and_or_not_and_parentheses():
    assert holds('(source = "Radio" or first_time) and not talk_seconds < 30')
    assert not holds('source = "Radio" or first_time and talk_seconds < 30')  # and binds tighter


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("", "empty condition"),
        ("talk >= 60", "unknown name 'talk'"),
        ("talk_seconds >= ", "expected a number or qualified_seconds"),
        ('talk_seconds = "long"', "expected a number"),
        ('disposition = "picked"', "unknown disposition 'picked'"),
        ('channel = "tiktok"', "unknown channel 'tiktok'"),
        ('region = "XX"', "unknown region 'XX'"),
        ("answered and", "expected name, found the end"),
        ('said("water"', "expected ')'"),
        ("answered answered", "unexpected 'answered'"),
        ("first_time; drop table", "unexpected ';"),
        ("(answered", "expected ')'"),
    ],
)
def test_a_bad_condition_is_one_line_with_the_reason(condition, reason):
    with pytest.raises(RuleError) as exc:
        parse_condition(condition)
    assert reason in str(exc.value) and "\n" not in str(exc.value) and "column" in str(exc.value)


def test_actions():
    actions = parse_actions('lead, tag estimate, tag "water heater", value 150')
    assert (actions.lead_status, actions.tags, actions.value) == ("lead", ("estimate", "water heater"), 150.0)
    assert str(actions) == 'lead, tag estimate, tag "water heater", value 150'
    assert parse_actions(str(actions)) == actions
    for bad, reason in [
        ("", "no action"),
        ("lead, spam", "sets both lead and spam"),
        ("value -5", "non-negative amount"),
        ("value 1e9", "non-negative amount"),
        ("call them back", "is not lead"),
        ("tag a,b", "is not lead"),
    ]:
        with pytest.raises(RuleError, match=reason):
            parse_actions(bad)


def test_amounts():
    assert parse_amount("99.5") == 99.5 and parse_amount("0") == 0.0
    for bad in ("-1", "abc", "1.234", "nan", "inf", ""):
        with pytest.raises(RuleError, match="non-negative amount"):
            parse_amount(bad)


def test_rules_run_in_order_later_status_and_value_win_tags_add_up():
    rules = [
        Rule(1, "answered and talk_seconds >= qualified_seconds", "lead"),
        Rule(2, 'source = "Google Ads"', "tag ppc, value 100"),
        Rule(3, 'said("wrong number")', "not_lead, tag wrong-number, value 0"),
        Rule(4, "talk_seconds < 5", "spam"),
    ]
    out = evaluate(rules, facts(), SETTINGS)
    assert (out.lead_status, out.tags, out.value, out.set_by) == (
        "lead",
        ("ppc",),
        100.0,
        {"lead_status": 1, "tags": 2, "value": 2},
    )
    wrong = evaluate(rules, facts(transcript=(("caller", "sorry, wrong number"),)), SETTINGS)
    assert (wrong.lead_status, wrong.tags, wrong.value) == ("not_lead", ("ppc", "wrong-number"), 0.0)
    assert evaluate([], facts(), SETTINGS).lead_status is None
    assert evaluate(rules, facts(source="Radio", talk_seconds=30), SETTINGS).lead_status is None


def test_the_default_rule_is_todays_qualified():
    default = [Rule(1, "answered and talk_seconds >= qualified_seconds", "lead")]
    for answered, talk, lead in [(True, 60, True), (True, 59, False), (False, 0, False), (True, 0, False)]:
        out = evaluate(default, facts(answered=answered, talk_seconds=talk), SETTINGS)
        assert (out.lead_status == "lead") is lead
    zero = Settings(0, TZ, SETTINGS.hours)
    assert evaluate(default, facts(answered=False, talk_seconds=0), zero).lead_status is None


def test_changes_compare_tags_as_sets():
    assert changes({"tags": ["A", "b"], "value": 1.0}, {"tags": ["b", "a"], "value": 1.0}) == {}
    assert changes({"lead_status": None}, {"lead_status": "lead"}) == {"lead_status": (None, "lead")}


def test_bad_hours():
    for bad in ("mon-fri 9-17", "xyz 08:00-10:00", "mon 10:00-09:00", "mon 25:00-26:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
