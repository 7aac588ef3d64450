"""The spam step of a saved call: a writer-job step run right after the call is saved
(ctrack/calllog/service.py), before the lead rules, so a rule never turns spam into a lead."""

from __future__ import annotations

import logging
import sqlite3

from ctrack.leads import service as leads
from ctrack.spam import store
from ctrack.spam.rules import BLOCKED, REPEAT, SpamRules, judge

log = logging.getLogger(__name__)


def on_call_saved(conn: sqlite3.Connection, call_id: int, rules: SpamRules) -> str | None:
    """Mark the call spam when its caller is blocked or a heuristic says so; the reason, or None."""
    call = conn.execute(
        "SELECT caller_number, caller_anonymous, talk_seconds, started_at, marked_by FROM calls WHERE id = ?",
        (call_id,),
    ).fetchone()
    if call is None or call["marked_by"] is not None:  # a person's mark wins
        return None
    caller, talk = call["caller_number"], call["talk_seconds"] or 0
    anonymous = bool(call["caller_anonymous"]) or not caller
    if caller and not anonymous and store.blocking_entry(conn, caller):
        mark_spam(conn, [call_id], BLOCKED)
        return BLOCKED
    short: list[int] = []
    if caller and not anonymous and rules.repeat_on and talk < rules.repeat_talk_seconds:
        started = call["started_at"]
        short = store.short_calls(conn, caller, started - rules.repeat_minutes * 60, started, rules.repeat_talk_seconds)
    reason = judge(talk, anonymous, len(short), rules)
    if reason is None:
        return None
    mark_spam(conn, short if reason == REPEAT else [call_id], reason)
    log.info("call %d marked spam (%s)", call_id, reason)
    return reason


def mark_spam(conn: sqlite3.Connection, call_ids: list[int], reason: str) -> None:
    """Mark calls spam for `reason` through the leads' one change path (audited, announced):
    it wins over the rules; a call a person marked keeps what they said."""
    for call_id in store.unmarked(conn, call_ids):
        leads.mark(conn, call_id, leads.Mark("spam"), who=f"spam:{reason}")
        store.set_reason(conn, call_id, reason)
