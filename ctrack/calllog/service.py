"""The PBX-neutral end of the call log: enrich a finished call and queue it for the writer."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import asdict
from typing import Any

from ctrack.calllog.recordings import usable_recording
from ctrack.calllog.store import CallRules, save_call
from ctrack.core.model import CallRecord, Disposition
from ctrack.services import Services


def log_call(services: Services, record: CallRecord, origin: str, recording_dir: str) -> asyncio.Future[bool]:
    """Queue one finished call; the future says whether it was new. The event loop never waits."""
    record.recording = usable_recording(recording_dir, record.recording)
    if record.source is None and record.tracking_number:
        # The route was down or slow: the dialed number still tells the source.
        source, channel = services.catalog.catalog.source_of(record.tracking_number)
        if source is not None:
            record.source, record.channel = source, channel
    rules = services.call_rules
    durable = None
    if services.writer.spool is not None:  # PostgreSQL: kept in the local spool while it is away
        durable = (f"{__name__}:replay_call", {"record": asdict(record), "rules": asdict(rules), "origin": origin})
    return services.writer.submit(lambda conn: save_call(conn, record, rules, origin=origin), durable)


def replay_call(conn: sqlite3.Connection, payload: dict[str, Any]) -> bool:
    """A spooled call saved once the database is back (store/spool.py): the same save_call,
    which keeps one row per uniqueid however often it is replayed."""
    fields = dict(payload["record"])
    fields["disposition"] = Disposition(fields["disposition"]) if fields["disposition"] else None
    return save_call(conn, CallRecord(**fields), CallRules(**payload["rules"]), origin=payload["origin"])
