"""Marking calls: by a person (CLI, dashboard), by another system (spam), or by the rules.

Every change to a call's lead status, tags, value or note goes through `apply_changes`,
one writer job step that writes the fields, keeps the audit trail and returns what changed
({field: (old, new)}): the place to hang `call.updated` webhooks and new-lead alerts.
The jobs here run on the daemon's writer (`await writer.run(job)`) or the CLI's
`store.db.write(conn, job)`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ctrack.alerts import service as alerts
from ctrack.config import Config
from ctrack.errors import CtrackError
from ctrack.exports.store import call_updated
from ctrack.leads import store
from ctrack.leads.rules import (
    LEAD_STATUSES,
    MAX_NOTE,
    Outcome,
    Rule,
    RuleError,
    Settings,
    changes,
    check_tag,
    evaluate,
    parse_actions,
    parse_condition,
)
from ctrack.transcription import store as transcripts

log = logging.getLogger(__name__)
Changes = dict[str, tuple[Any, Any]]
RULES = "rules"  # who: a rule, as rule:ID in the audit trail


class UnknownCall(CtrackError):
    """No call has that id."""


def settings_from(config: Config) -> Settings:
    return Settings(config.calls.qualified_seconds, config.ctrack.timezone, config.business.hours)


@dataclass(frozen=True, slots=True)
class Mark:
    """What a person asks for; None/empty = leave that field as it is."""

    lead_status: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    value: float | None = None
    clear_value: bool = False
    note: str | None = None

    def checked(self) -> Mark:
        """The same mark with tags tidied; RuleError for anything unusable."""
        if self.lead_status is not None and self.lead_status not in LEAD_STATUSES:
            raise RuleError(f"lead status {self.lead_status!r}: one of {', '.join(LEAD_STATUSES)}")
        if self.value is not None and (self.value < 0 or self.value != self.value or self.value == float("inf")):
            raise RuleError(f"value {self.value!r}: expected a non-negative amount")
        if self.note is not None and len(self.note) > MAX_NOTE:
            raise RuleError(f"note: at most {MAX_NOTE} characters")
        return Mark(
            self.lead_status,
            tuple(check_tag(t) for t in self.add_tags),
            tuple(check_tag(t) for t in self.remove_tags),
            None if self.value is None else round(self.value, 2),
            self.clear_value,
            None if self.note is None else self.note.strip(),
        )

    def empty(self) -> bool:
        return (
            self.lead_status is None
            and not self.add_tags
            and not self.remove_tags
            and self.value is None
            and not self.clear_value
            and self.note is None
        )


def apply_changes(
    conn: sqlite3.Connection,
    call_id: int,
    new: dict[str, Any],
    who: str | dict[str, str],
    now: float,
    person: bool,
    old: dict[str, Any] | None = None,
) -> Changes:
    """The one place a call's lead fields change: write what differs, audit it, return it.

    `who` names the changer (per field for rules); a person's change also marks the call
    as theirs, so rules leave it alone from then on. `old`: the call's store.state, when the
    caller has just read it."""
    old = store.state(conn, call_id) if old is None else old
    if old is None:
        raise UnknownCall(f"unknown call id {call_id} (see `ctrack calls`)")
    found = changes(old, new)
    for name, (before, after) in found.items():
        store.write_field(conn, call_id, name, after)
        store.record_change(
            conn, call_id, now, who if isinstance(who, str) else who.get(name, RULES), name, before, after
        )
    if person and found:
        store.set_marked(conn, call_id, who if isinstance(who, str) else RULES, now)
    return found


def mark(conn: sqlite3.Connection, call_id: int, request: Mark, who: str, now: float | None = None) -> Changes:
    """Writer job: a person's (or another system's) mark; it wins over every rule."""
    request = request.checked()
    old = store.state(conn, call_id)
    if old is None:
        raise UnknownCall(f"unknown call id {call_id} (see `ctrack calls`)")
    new: dict[str, Any] = {}
    if request.lead_status is not None:
        new["lead_status"] = request.lead_status
    if request.add_tags or request.remove_tags:
        drop = {t.casefold() for t in request.remove_tags}
        tags = {t.casefold(): t for t in old["tags"] if t.casefold() not in drop}
        for tag in request.add_tags:
            tags.setdefault(tag.casefold(), tag)
        new["tags"] = sorted(tags.values(), key=str.casefold)
    if request.clear_value:
        new["value"] = None
    elif request.value is not None:
        new["value"] = request.value
    if request.note is not None:
        new["note"] = request.note or None
    found = apply_changes(conn, call_id, new, who, time.time() if now is None else now, person=True)
    announce(conn, call_id, found)
    return found


def announce(conn: sqlite3.Connection, call_id: int, found: Changes) -> None:
    """What follows a change to a call already saved: the `call.updated` webhook and, when it
    became a lead, the new-lead alert (a call saved as a lead is announced by its save)."""
    if not found:
        return
    call_updated(conn, call_id, found)
    if found.get("lead_status", (None, None))[1] == "lead":
        alerts.on_lead(conn, call_id)


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    return {"lead_status": outcome.lead_status, "tags": list(outcome.tags), "value": outcome.value}


def run_rules(conn: sqlite3.Connection, call_id: int, settings: Settings, now: float | None = None) -> Changes:
    """Writer job step: the rules' verdict on a call, unless a person has marked it."""
    old = store.state(conn, call_id)
    if old is None:
        raise UnknownCall(f"unknown call id {call_id}")
    if old["marked_by"] is not None:
        return {}
    try:
        outcome = evaluate(store.rules(conn), store.facts(conn, call_id), settings)
    except RuleError as exc:  # a stored rule this version cannot read: the call is still logged
        log.warning("lead rules not applied to call %s: %s", call_id, exc)
        return {}
    who = {name: f"rule:{rule_id}" for name, rule_id in outcome.set_by.items()}
    return apply_changes(conn, call_id, outcome_fields(outcome), who, time.time() if now is None else now, False, old)


def save_transcript(conn: sqlite3.Connection, call_id: int, result: dict[str, Any], settings: Settings) -> Changes:
    """Writer job: a finished transcript, then the rules again (they may listen for words)."""
    transcripts.save(conn, call_id, result)
    found = run_rules(conn, call_id, settings)
    announce(conn, call_id, found)
    return found


# --- the rules table ----------------------------------------------------------------------


def check_rule(condition: str, actions: str) -> tuple[str, str]:
    """The rule in its stored form; RuleError with a one-line reason when it is not usable."""
    condition = " ".join(condition.split())
    parse_condition(condition)
    return condition, str(parse_actions(actions))


def add_rule(condition: str, actions: str, who: str, position: int | None = None) -> Any:
    """A writer job adding the rule (checked before the job is made: a bad one changes nothing)."""
    condition, actions = check_rule(condition, actions)

    def job(conn: sqlite3.Connection) -> int:
        return store.insert_rule(conn, condition, actions, who, position)

    return job


class UnknownRule(CtrackError):
    """No rule has that id."""


def remove_rule(rule_id: int) -> Any:
    def job(conn: sqlite3.Connection) -> None:
        if not store.delete_rule(conn, rule_id):
            raise UnknownRule(f"unknown rule id {rule_id} (see `ctrack rule list`)")

    return job


def preview(
    conn: sqlite3.Connection, candidate: Rule, settings: Settings, since: float, limit: int = 100_000
) -> list[dict[str, Any]]:
    """Past calls the candidate rule (added last) would change, and how; nothing is written.

    Compares the rules' verdict with and without the candidate, on calls no person marked."""
    current = store.rules(conn)
    with_it = [*current, candidate]
    found = []
    for state, facts in store.past_facts(conn, since, limit):
        before = outcome_fields(evaluate(current, facts, settings))
        after = outcome_fields(evaluate(with_it, facts, settings))
        diff = changes(before, after)
        if diff:
            found.append({**state, "changes": {k: {"old": o, "new": n} for k, (o, n) in diff.items()}})
    return found


def details(conn: sqlite3.Connection, call_id: int) -> dict[str, Any]:
    """Everything about one call for `ctrack call show` and the dashboard's call page."""
    from ctrack.calllog.store import CALL_COLUMNS, call_by_id

    call = call_by_id(conn, call_id, CALL_COLUMNS)
    if call is None:
        raise UnknownCall(f"unknown call id {call_id} (see `ctrack calls`)")
    job = transcripts.status(conn, call_id)
    call["transcript_status"] = job[0] if job else None
    call["transcript_reason"] = job[1] if job else None
    call["segments"] = [s.as_dict() for s in transcripts.segments(conn, call_id)]
    marked = conn.execute("SELECT marked_by, marked_at FROM calls WHERE id = ?", (call_id,)).fetchone()
    call["marked_by"], call["marked_at"] = marked[0], marked[1]
    call["changes"] = store.history(conn, call_id)
    return call
