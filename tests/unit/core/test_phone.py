"""Phone numbers: what people type, what PBXs send, what is shown."""

import pytest

from ctrack.core.phone import InvalidNumber, national_format, normalize_caller, normalize_did, to_e164


@pytest.mark.parametrize(
    "typed, e164",
    [
        ("(503) 555-0123", "+15035550123"),
        ("503.555.0123", "+15035550123"),
        ("+1 503 555 0123", "+15035550123"),
        ("1-503-555-0123", "+15035550123"),
        ("+44 20 7183 8750", "+442071838750"),
    ],
)
def test_to_e164(typed, e164):
    assert to_e164(typed, "US") == e164


@pytest.mark.parametrize("typed", ["", "   ", "12", "hello", "(503) 555-012", "+999 1234"])
def test_to_e164_refuses(typed):
    with pytest.raises(InvalidNumber):
        to_e164(typed, "US")


def test_callers_and_dids():
    assert normalize_caller("15035550123") == "+15035550123"
    assert normalize_caller("anonymous") is None
    assert normalize_caller("1234") == "1234"  # an internal extension stays as it came
    assert normalize_did("15035550123") == "+15035550123"
    assert normalize_did("+15035550123") == "+15035550123"
    assert normalize_did("s") is None
    assert national_format("+15035550123") == "(503) 555-0123"
