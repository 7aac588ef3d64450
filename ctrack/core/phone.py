"""Phone numbers: parse what people type into E.164, and format for display."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from ctrack.errors import CtrackError


class InvalidNumber(CtrackError, ValueError):
    """A number that is not a valid, dialable phone number."""


def to_e164(text: str, default_region: str | None = "US") -> str:
    """Parse a typed number ('(503) 555-0123', '+1 503 555 0123') into E.164 or raise."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(raw, None if raw.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{raw!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_caller(text: str | None, default_region: str | None = "US") -> str | None:
    """Best effort E.164 for a caller id; the raw digits when it does not parse."""
    if not text or text in ("<unknown>", "anonymous", "unknown"):
        return None
    try:
        return to_e164(text, default_region)
    except InvalidNumber:
        pass
    # Carriers often send national numbers with a leading country code but no '+'.
    if text.isdigit():
        try:
            return to_e164("+" + text, default_region)
        except InvalidNumber:
            pass
    return text


@lru_cache(maxsize=4096)
def normalize_did(text: str, default_region: str | None = "US") -> str | None:
    """E.164 for a dialed DID as the PBX saw it (digits, '+digits'); None if unparseable.

    Cached: the route and the call log see the same few tracking numbers over and over,
    and phonenumbers needs ~50 µs per parse (most of a route decision's time).
    """
    for candidate in (text, "+" + text if text and text.isdigit() else None):
        if candidate:
            try:
                return to_e164(candidate, default_region)
            except InvalidNumber:
                continue
    return None


def national_format(e164: str) -> str:
    """'(503) 555-0123' for '+15035550123'."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
