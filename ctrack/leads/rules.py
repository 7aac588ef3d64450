"""Lead rules (pure): the condition language, the actions, and what a list of rules makes of a call.

A rule is `WHEN condition THEN actions`. Conditions use the call log's own names:

    answered and talk_seconds >= qualified_seconds
    source = "Google Ads" and not first_time
    region in ("US-OR", "US-WA") and business_hours
    said("water heater", "boiler") or caller_said("estimate")

Actions, comma-separated: `lead`, `not_lead`, `spam`, `tag NAME`, `value AMOUNT`.
Every matching rule acts, in order: a later rule's lead status or value replaces an
earlier one's, tags add up. A bad expression is a RuleError with a one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ctrack.core.hours import CLOSED, Hours
from ctrack.core.model import CHANNELS, Disposition
from ctrack.errors import CtrackError
from ctrack.geo.regions import country_of, parse_region

LEAD_STATUSES = ("lead", "not_lead", "spam")
MARKABLE = ("lead_status", "tags", "value", "note")  # the fields a person or a rule changes
MAX_TAG = 40
MAX_NOTE = 2000


class RuleError(CtrackError):
    """A rule, tag or value that cannot be used; str() is the one-line reason."""


# --- what a rule sees --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """The configuration rules read: [calls] qualified_seconds, [ctrack] timezone, [business] hours."""

    qualified_seconds: int = 60
    timezone: str = "UTC"
    hours: Hours = CLOSED


@dataclass(frozen=True, slots=True)
class Facts:
    """One call as the rules see it."""

    started_at: float
    answered: bool = False
    talk_seconds: int = 0
    ring_seconds: int | None = None
    disposition: str | None = None
    first_time: bool | None = None
    source: str | None = None
    channel: str | None = None
    tracking_number: str | None = None
    caller_number: str | None = None
    region: str | None = None  # the caller's, from geo.regions
    transcript: tuple[tuple[str, str], ...] = ()  # (speaker, text) segments; empty until transcribed


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w']+", text.lower())) + " "


Test = Callable[[Facts, Settings], bool]


# --- the condition language --------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<op>==|!=|<=|>=|=|<|>|\(|\)|,)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
NUMBER_FIELDS = ("talk_seconds", "ring_seconds")
TEXT_FIELDS = ("disposition", "source", "channel", "tracking_number", "caller_number", "region")
FLAGS = ("answered", "first_time", "business_hours")
PHRASES = ("said", "caller_said", "business_said")
CONSTANTS = ("qualified_seconds",)


@dataclass(slots=True)
class _Parser:
    text: str
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    pos: int = 0

    def __post_init__(self) -> None:
        i = 0
        while i < len(self.text):
            if self.text[i:].strip() == "":
                break
            m = _TOKEN.match(self.text, i)
            if not m or m.end() == i:
                raise self.error(
                    f"unexpected {self.text[i:].strip()[:10]!r}", len(self.text) - len(self.text[i:].lstrip())
                )
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            i = m.end()

    def error(self, message: str, at: int | None = None) -> RuleError:
        if at is None:
            at = self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.text)
        return RuleError(f"bad rule condition {self.text!r}: {message} at column {at + 1}")

    def peek(self) -> tuple[str, str]:
        if self.pos < len(self.tokens):
            kind, value, _ = self.tokens[self.pos]
            return kind, value
        return "end", ""

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.peek()
        if (value is not None and v.lower() != value) or (kind is not None and k != kind) or k == "end":
            want = repr(value) if value else (kind or "more")
            raise self.error(f"expected {want}, found {repr(v) if v else 'the end'}")
        self.pos += 1
        return v

    def parse(self) -> Test:
        if not self.tokens:
            raise self.error("empty condition")
        test = self.or_()
        if self.pos != len(self.tokens):
            raise self.error(f"unexpected {self.peek()[1]!r}")
        return test

    def or_(self) -> Test:
        parts = [self.and_()]
        while self.peek()[1].lower() == "or":
            self.pos += 1
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda f, s: any(p(f, s) for p in parts))

    def and_(self) -> Test:
        parts = [self.not_()]
        while self.peek()[1].lower() == "and":
            self.pos += 1
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else (lambda f, s: all(p(f, s) for p in parts))

    def not_(self) -> Test:
        if self.peek()[1].lower() == "not":
            self.pos += 1
            inner = self.not_()
            return lambda f, s: not inner(f, s)
        return self.atom()

    def atom(self) -> Test:
        kind, value = self.peek()
        if value == "(":
            self.pos += 1
            inner = self.or_()
            self.take(")")
            return inner
        name = self.take(kind="name").lower()
        if name in FLAGS:
            return _flag(name)
        if name in PHRASES:
            return self.phrases(name)
        if name in NUMBER_FIELDS:
            return self.number_compare(name)
        if name in TEXT_FIELDS:
            return self.text_compare(name)
        self.pos -= 1
        known = ", ".join((*FLAGS, *NUMBER_FIELDS, *TEXT_FIELDS, *(p + "(…)" for p in PHRASES)))
        raise self.error(f"unknown name {name!r} (one of: {known})")

    def phrases(self, name: str) -> Test:
        self.take("(")
        phrases = [self.string()]
        while self.peek()[1] == ",":
            self.pos += 1
            phrases.append(self.string())
        self.take(")")
        wanted = tuple(_words(p) for p in phrases)
        if any(not w.strip() for w in wanted):
            raise self.error(f"{name}() needs words, not an empty phrase")
        speaker = {"caller_said": "caller", "business_said": "business"}.get(name)

        def test(f: Facts, s: Settings) -> bool:
            text = _words(" ".join(t for who, t in f.transcript if speaker is None or who == speaker))
            return any(w in text for w in wanted)

        return test

    def string(self) -> str:
        raw = self.take(kind="str")
        return re.sub(r"\\(.)", r"\1", raw[1:-1])

    def number(self) -> Callable[[Settings], float]:
        kind, value = self.peek()
        if kind == "num":
            self.pos += 1
            number = float(value)
            return lambda s: number
        if kind == "name" and value.lower() in CONSTANTS:
            self.pos += 1
            return lambda s: s.qualified_seconds
        raise self.error(f"expected a number or qualified_seconds, found {value or 'the end'!r}")

    def number_compare(self, name: str) -> Test:
        op = self.take(kind="op")
        if op not in _COMPARE:
            raise self.error(f"{name} is compared with =, !=, <, <=, > or >=, not {op!r}", self.tokens[self.pos - 1][2])
        compare = _COMPARE[op]
        right = self.number()

        def test(f: Facts, s: Settings) -> bool:
            left = getattr(f, name)
            return left is not None and compare(left, right(s))

        return test

    def text_compare(self, name: str) -> Test:
        kind, op = self.peek()
        if op.lower() == "not":
            self.pos += 1
            self.take("in")
            op = "not in"
        elif op.lower() == "in" or op in ("=", "==", "!="):
            self.pos += 1
        else:
            raise self.error(f"{name} is compared with =, != or in (…), not {op or 'nothing'!r}")
        if op.endswith("in"):
            self.take("(")
            values = [self.text_value(name)]
            while self.peek()[1] == ",":
                self.pos += 1
                values.append(self.text_value(name))
            self.take(")")
        else:
            values = [self.text_value(name)]
        negate = op in ("!=", "not in")
        match = _region_match if name == "region" else _text_match

        def test(f: Facts, s: Settings) -> bool:
            return any(match(getattr(f, name), v) for v in values) != negate

        return test

    def text_value(self, name: str) -> str:
        at = self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.text)
        value = self.string()
        try:
            return _check_text(name, value)
        except ValueError as exc:
            raise self.error(str(exc), at) from None


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _check_text(name: str, value: str) -> str:
    if name == "disposition" and value.lower() not in {str(d) for d in Disposition}:
        raise ValueError(f"unknown disposition {value!r} (one of: {', '.join(str(d) for d in Disposition)})")
    if name == "channel" and value.lower() not in CHANNELS:
        raise ValueError(f"unknown channel {value!r} (one of: {', '.join(CHANNELS)})")
    if name == "region":
        return parse_region(value)
    if name in ("disposition", "channel"):
        return value.lower()
    return value


def _text_match(actual: str | None, wanted: str) -> bool:
    return actual is not None and actual.casefold() == wanted.casefold()


def _region_match(actual: str | None, wanted: str) -> bool:
    """'US' matches every US state; 'US-OR' only Oregon."""
    if actual is None:
        return False
    return actual == wanted or ("-" not in wanted and country_of(actual) == wanted)


def _flag(name: str) -> Test:
    if name == "answered":
        return lambda f, s: f.answered
    if name == "first_time":
        return lambda f, s: bool(f.first_time)
    return lambda f, s: s.hours.open_at_time(f.started_at, s.timezone)


@lru_cache(maxsize=256)
def parse_condition(text: str) -> Test:
    """The condition as a test of (Facts, Settings); RuleError when it is not one."""
    return _Parser(text.strip()).parse()


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actions:
    lead_status: str | None = None
    tags: tuple[str, ...] = ()
    value: float | None = None

    def __str__(self) -> str:
        parts = [self.lead_status] if self.lead_status else []
        parts += [f"tag {quote_tag(t)}" for t in self.tags]
        if self.value is not None:
            parts.append(f"value {self.value:g}")
        return ", ".join(parts)


def parse_amount(text: str) -> float:
    """A non-negative amount ('150', '99.50'); RuleError otherwise."""
    cleaned = text.strip()
    if not re.fullmatch(r"\d+(\.\d{1,2})?|\.\d{1,2}", cleaned):
        raise RuleError(f"value {text!r}: expected a non-negative amount such as 150 or 99.50")
    return round(float(cleaned), 2)


def check_tag(text: str) -> str:
    tag = " ".join(text.split())
    if not tag or len(tag) > MAX_TAG or any(not ch.isprintable() for ch in tag) or "," in tag:
        raise RuleError(f"tag {text!r}: expected 1 to {MAX_TAG} printable characters, no commas")
    return tag


def quote_tag(tag: str) -> str:
    return tag if re.fullmatch(r"[\w-]+", tag) else '"' + tag.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=256)
def parse_actions(text: str) -> Actions:
    """'lead, tag estimate, value 150' → Actions; RuleError with the reason otherwise."""
    status: str | None = None
    tags: list[str] = []
    value: float | None = None
    parts = [p.strip() for p in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", text)]
    if not any(parts):
        raise RuleError(f"bad rule actions {text!r}: no action (lead, not_lead, spam, tag NAME, value AMOUNT)")
    for part in parts:
        word, _, rest = part.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in LEAD_STATUSES and not rest:
            if status is not None and status != word:
                raise RuleError(f"bad rule actions {text!r}: sets both {status} and {word}")
            status = word
        elif word == "tag" and rest:
            raw = rest[1:-1] if len(rest) >= 2 and rest[0] == rest[-1] == '"' else rest
            tags.append(check_tag(re.sub(r"\\(.)", r"\1", raw)))
        elif word == "value" and rest:
            try:
                value = parse_amount(rest)
            except RuleError as exc:
                raise RuleError(f"bad rule actions {text!r}: {exc}") from None
        else:
            raise RuleError(
                f"bad rule actions {text!r}: {part!r} is not lead, not_lead, spam, tag NAME or value AMOUNT"
            )
    return Actions(status, tuple(dict.fromkeys(tags)), value)


# --- running the rules -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    condition: str
    actions: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the rules make of a call, and which rule set each field (for the audit trail)."""

    lead_status: str | None = None
    tags: tuple[str, ...] = ()
    value: float | None = None
    set_by: dict[str, int] = field(default_factory=dict)


def evaluate(rules: list[Rule], facts: Facts, settings: Settings) -> Outcome:
    """Every matching rule in order: later status and value win, tags add up."""
    status: str | None = None
    value: float | None = None
    tags: dict[str, None] = {}
    set_by: dict[str, int] = {}
    for rule in rules:
        if not parse_condition(rule.condition)(facts, settings):
            continue
        actions = parse_actions(rule.actions)
        if actions.lead_status is not None:
            status, set_by["lead_status"] = actions.lead_status, rule.id
        if actions.value is not None:
            value, set_by["value"] = actions.value, rule.id
        for tag in actions.tags:
            if tag.casefold() not in {t.casefold() for t in tags}:
                tags[tag] = None
                set_by.setdefault("tags", rule.id)
    return Outcome(status, tuple(tags), value, set_by)


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (old, new)} for the markable fields that differ (tags compared as sets)."""
    found = {}
    for name in MARKABLE:
        if name not in new:
            continue
        before, after = old.get(name), new[name]
        if name == "tags":
            same = {t.casefold() for t in before or ()} == {t.casefold() for t in after or ()}
        else:
            same = before == after
        if not same:
            found[name] = (before, after)
    return found
