"""The PBX-neutral end of the call log: enrich a finished call and queue it for the writer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from ctrack.alerts import service as alerts
from ctrack.calllog.recordings import usable_recording
from ctrack.calllog.store import CallRules, known_uniqueids, save_call
from ctrack.core.model import CallRecord
from ctrack.services import Services
from ctrack.spam import service as spam

log = logging.getLogger(__name__)


def save_and_follow(conn: sqlite3.Connection, record: CallRecord, rules: CallRules, origin: str) -> bool:
    """Write job of every call-save path (live and CDR): save the call, then the steps that
    follow a saved call, in order: spam, then alerts. A failing step is logged and undone,
    never the call itself."""
    if not save_call(conn, record, rules, origin=origin):
        return False
    call_id = conn.execute("SELECT id FROM calls WHERE uniqueid = ?", (record.uniqueid,)).fetchone()[0]
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
        if missing_only and known_uniqueids(conn, [record.uniqueid]):
            return False
        return save_and_follow(conn, record, rules, origin)

    return services.writer.submit(job)
