"""The spam rules: block-list entries, matching, the treatment setting, the heuristics."""

from __future__ import annotations

import pytest

from ctrack.spam.rules import BlockList, InvalidBlock, SpamRules, judge, parse_entry, parse_treatment


@pytest.mark.parametrize(
    ("typed", "prefix", "stored"),
    [
        ("+1 503 555 0830", False, "+15035550830"),
        ("(503) 555-0831", False, "+15035550831"),
        ("+1900", True, "+1900"),
        ("+44 871", True, "+44871"),
        ("+1 (503) 555-08", True, "+150355508"),
    ],
)
def test_entries_are_stored_in_e164(typed, prefix, stored):
    assert parse_entry(typed, prefix, "US") == stored


@pytest.mark.parametrize(
    ("typed", "prefix", "reason"),
    [
        ("12", False, "not a valid phone number"),
        ("hello", False, "not a phone number"),
        ("", False, "empty phone number"),
        ("1900", True, "use + and digits"),
        ("+1-900x", True, "use + and digits"),
        ("+0123", True, "use + and digits"),
        ("+1234567890123456", True, "use + and digits"),
        ("+999", True, "does not start with a country code"),
    ],
)
def test_malformed_entries_are_refused_with_one_line(typed, prefix, reason):
    with pytest.raises(InvalidBlock) as err:
        parse_entry(typed, prefix, "US")
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_block_list_matches_numbers_and_the_prefixes_they_start_with():
    blocked = BlockList.of([("+15035550830", "number"), ("+1900", "prefix"), ("+4487", "prefix")])
    assert len(blocked) == 3
    assert blocked.match("+15035550830") == "+15035550830"
    assert blocked.match("+19005551234") == "+1900"
    assert blocked.match("+448712345678") == "+4487"
    assert blocked.match("+15035550831") is None
    assert blocked.match("+1900") is None  # a prefix is not a number
    assert blocked.match(None) is None
    assert blocked.match("anonymous") is None
    assert not BlockList()


def test_treatment_is_busy_hangup_or_a_safe_dial_string():
    assert parse_treatment(" Busy ") == "busy"
    assert parse_treatment("hangup") == "hangup"
    assert parse_treatment("Local/spam@voicemail") == "Local/spam@voicemail"
    with pytest.raises(ValueError, match="dial string"):
        parse_treatment("PJSIP/a,b")


RULES = SpamRules(repeat_calls=3, repeat_minutes=10, repeat_talk_seconds=5, anonymous_talk_seconds=3)


def test_repeat_short_calls_over_the_limit_are_spam():
    assert judge(0, False, 4, RULES) == "repeat"
    assert judge(4.9, False, 4, RULES) == "repeat"
    assert judge(0, False, 3, RULES) is None  # "more than 3"
    assert judge(5, False, 9, RULES) is None  # a real conversation is never a repeat
    assert judge(0, False, 99, SpamRules(repeat_calls=0)) is None  # off


def test_anonymous_hang_ups_are_spam():
    assert judge(0, True, 1, RULES) == "anonymous"
    assert judge(2.9, True, 1, RULES) == "anonymous"
    assert judge(3, True, 1, RULES) is None
    assert judge(0, True, 1, SpamRules(anonymous_talk_seconds=0)) is None  # off
