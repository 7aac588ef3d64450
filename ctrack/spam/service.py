"""The spam step of a saved call: a writer-job step run right after the call is saved
(ctrack/calllog/service.py), before the lead rules, so a rule never turns spam into a lead."""

from __future__ import annotations

import logging
import sqlite3

from ctrack.spam import store
from ctrack.spam.rules import BLOCKED, REPEAT, SpamRules, judge

log = logging.getLogger(__name__)


def on_call_saved(conn: sqlite3.Connection, call_id: int, rules: SpamRules) -> str | None:
    """Mark the call spam when its caller is blocked or a heuristic says so; the reason, or None."""
    call = conn.execute(
        "SELECT caller_number, caller_anonymous, talk_seconds, started_at, lead_status FROM calls WHERE id = ?",
        (call_id,),
    ).fetchone()
    if call is None or call["lead_status"] is not None:
        return None
    caller, talk = call["caller_number"], call["talk_seconds"] or 0
    anonymous = bool(call["caller_anonymous"]) or not caller
    if caller and not anonymous and store.blocking_entry(conn, caller):
        store.mark_spam(conn, [call_id], BLOCKED)
        return BLOCKED
    short: list[int] = []
    if caller and not anonymous and rules.repeat_on and talk < rules.repeat_talk_seconds:
        started = call["started_at"]
        short = store.short_calls(conn, caller, started - rules.repeat_minutes * 60, started, rules.repeat_talk_seconds)
    reason = judge(talk, anonymous, len(short), rules)
    if reason is None:
        return None
    store.mark_spam(conn, short if reason == REPEAT else [call_id], reason)
    log.info("call %d marked spam (%s)", call_id, reason)
    return reason
