"""The PBX-neutral end of the call log: enrich a finished call and queue it for the writer."""

from __future__ import annotations

import asyncio
import sqlite3

from ctrack.calllog.recordings import usable_recording
from ctrack.calllog.store import known_uniqueids, save_call
from ctrack.core.model import CallRecord
from ctrack.services import Services


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
        return save_call(conn, record, rules, origin=origin)

    return services.writer.submit(job)
