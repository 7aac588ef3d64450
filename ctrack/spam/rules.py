"""Which callers are spam, as pure rules: the block list (numbers and prefixes), the route's
treatment of a blocked caller, and the heuristics judged when a call ends.

The route (ctrack/route/rules.py) asks `BlockList.match` from memory on every call; the call
log asks `judge` once per saved call. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers

from ctrack.core import dialstring
from ctrack.core.phone import InvalidNumber, to_e164
from ctrack.errors import CtrackError

if TYPE_CHECKING:
    from ctrack.config import Config

NUMBER, PREFIX = "number", "prefix"
BUSY, HANGUP, DIAL = "busy", "hangup", "dial"  # what the dialplan does with a blocked caller
BLOCKED, REPEAT, ANONYMOUS = "blocked", "repeat", "anonymous"  # calls.spam_reason
_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}")
_SEPARATORS = re.compile(r"[\s().-]")


class InvalidBlock(CtrackError):
    """A block-list entry that is not an E.164 number or prefix."""


def parse_entry(text: str, prefix: bool, default_region: str) -> str:
    """The stored pattern of a typed block-list entry: a number in E.164 (national numbers are
    read in `default_region`), or a prefix as '+' and digits starting with a country code."""
    raw = (text or "").strip()
    if not prefix:
        try:
            return to_e164(raw, default_region)
        except InvalidNumber as exc:
            raise InvalidBlock(f"{exc} (block a prefix with --prefix)") from None
    compact = _SEPARATORS.sub("", raw)
    if not _PREFIX.fullmatch(compact):
        raise InvalidBlock(f"{raw!r} is not a number prefix: use + and digits, such as +1900 or +44871")
    if not any(
        phonenumbers.region_code_for_country_code(int(compact[1 : 1 + n])) != "ZZ"
        for n in (1, 2, 3)
        if len(compact) > n
    ):
        raise InvalidBlock(f"{raw!r} does not start with a country code")
    return compact


@dataclass(frozen=True, slots=True)
class BlockList:
    """The blocked numbers and prefixes, as the route holds them in memory."""

    numbers: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()

    @classmethod
    def of(cls, entries: list[tuple[str, str]]) -> BlockList:
        """From (pattern, kind) rows."""
        return cls(
            frozenset(p for p, kind in entries if kind == NUMBER),
            frozenset(p for p, kind in entries if kind == PREFIX),
        )

    def match(self, caller: str | None) -> str | None:
        """The entry that blocks this caller (E.164), or None. A prefix check costs one set
        lookup per length, not one per prefix."""
        if not caller or not caller.startswith("+"):
            return None
        if caller in self.numbers:
            return caller
        for n in range(2, len(caller)):
            if caller[:n] in self.prefixes:
                return caller[:n]
        return None

    def __len__(self) -> int:
        return len(self.numbers) + len(self.prefixes)


def parse_treatment(text: str) -> str:
    """[spam] treatment: busy, hangup, or a dial string (such as voicemail) to send them to."""
    value = text.strip()
    if value.lower() in (BUSY, HANGUP):
        return value.lower()
    if not dialstring.is_safe(value):
        raise ValueError(f"expected busy, hangup or a dial string ({dialstring.RULE})")
    return value


@dataclass(frozen=True, slots=True)
class SpamRules:
    """The heuristics that mark a call spam once it has ended; 0 turns one off."""

    repeat_calls: int = 3  # more than this many calls from one caller …
    repeat_minutes: int = 10  # … within this many minutes …
    repeat_talk_seconds: int = 5  # … each with less talk than this
    anonymous_talk_seconds: int = 3  # a caller without caller id and less talk than this

    @classmethod
    def from_config(cls, config: Config) -> SpamRules:
        s = config.spam
        return cls(s.repeat_calls, s.repeat_minutes, s.repeat_talk_seconds, s.anonymous_talk_seconds)

    @property
    def repeat_on(self) -> bool:
        return self.repeat_calls > 0


def judge(talk_seconds: float, anonymous: bool, short_calls: int, rules: SpamRules) -> str | None:
    """Why an ended call is spam ('anonymous', 'repeat'), or None.

    `short_calls` is how many calls from this caller, this one included, fell within the last
    `repeat_minutes` with under `repeat_talk_seconds` of talk.
    """
    if anonymous:
        return ANONYMOUS if talk_seconds < rules.anonymous_talk_seconds else None
    if rules.repeat_on and talk_seconds < rules.repeat_talk_seconds and short_calls > rules.repeat_calls:
        return REPEAT
    return None
