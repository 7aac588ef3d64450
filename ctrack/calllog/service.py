"""The PBX-neutral end of the call log: enrich a finished call and queue it for the writer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import asdict, replace
from datetime import time
from typing import Any

from ctrack.alerts import service as alerts
from ctrack.calllog.recordings import usable_recording
from ctrack.calllog.store import CallRules, known_uniqueids, save_call
from ctrack.core.hours import Hours
from ctrack.core.model import CallRecord, Disposition
from ctrack.services import Services
from ctrack.spam import service as spam
from ctrack.spam.rules import SpamRules

log = logging.getLogger(__name__)


def save_and_follow(conn: sqlite3.Connection, record: CallRecord, rules: CallRules, origin: str) -> bool:
    """Write job of every call-save path (live and CDR): save the call, then the steps that
    follow a saved call, in order: spam, then alerts. A failing step is logged and undone,
    never the call itself."""
    call_id = save_call(conn, record, rules, origin=origin)
    if call_id is None:
        return False
    conn.execute("SAVEPOINT follow")
    try:
        spam.on_call_saved(conn, call_id, rules.spam)
        alerts.on_call_saved(conn, call_id)
    except Exception:
        log.exception("call %s: the steps after saving failed; the call is kept", record.uniqueid)
        conn.execute("ROLLBACK TO follow")
    conn.execute("RELEASE follow")
    return True


def log_call(
    services: Services, record: CallRecord, origin: str, recording_dir: str, missing_only: bool = False
) -> asyncio.Future[bool]:
    """Queue one finished call; the future says whether it was new. The event loop never waits.
    missing_only: a guess at a call nobody heard end, saved only if no row (the CDR's) has it."""
    record.recording = usable_recording(recording_dir, record.recording)
    if record.source is None and record.tracking_number:
        # The route was down or slow: the dialed number still tells the source.
        source, channel = services.catalog.catalog.source_of(record.tracking_number)
        if source is not None:
            record.source, record.channel = source, channel
    rules = services.call_rules

    def job(conn: sqlite3.Connection) -> bool:
        return _save(conn, record, rules, origin, missing_only)

    durable = None
    if services.writer.spool is not None:  # PostgreSQL: kept in the local spool while it is away
        payload = {
            "record": asdict(record),
            "rules": _rules_json(rules),
            "origin": origin,
            "missing_only": missing_only,
        }
        durable = (f"{__name__}:replay_call", payload)
    return services.writer.submit(job, durable)


def _save(conn: sqlite3.Connection, record: CallRecord, rules: CallRules, origin: str, missing_only: bool) -> bool:
    if missing_only and known_uniqueids(conn, rules.site, [record.uniqueid]):
        return False
    return save_and_follow(conn, record, rules, origin)


def _rules_json(rules: CallRules) -> dict[str, Any]:
    """CallRules as JSON for the spool: business hours as [[open, close], …] ISO times per weekday."""
    fields = asdict(rules)
    fields["hours"] = [[[a.isoformat(), b.isoformat()] for a, b in day] for day in rules.hours.days]
    return fields


def _rules_from_json(fields: dict[str, Any]) -> CallRules:
    hours = Hours(
        tuple(tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in day) for day in fields["hours"])
    )
    rules = CallRules(**{k: v for k, v in fields.items() if k not in ("spam", "hours")})
    return replace(rules, spam=SpamRules(**fields["spam"]), hours=hours)


def replay_call(conn: sqlite3.Connection, payload: dict[str, Any]) -> bool:
    """A spooled call saved once the database is back (store/spool.py): the same save path as
    live, which keeps one row per site and uniqueid however often it is replayed."""
    fields = dict(payload["record"])
    fields["disposition"] = Disposition(fields["disposition"]) if fields["disposition"] else None
    rules = _rules_from_json(payload["rules"])
    return _save(conn, CallRecord(**fields), rules, payload["origin"], payload.get("missing_only", False))
