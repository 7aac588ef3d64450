"""The PBX-neutral end of the call log: enrich a finished call and queue it for the writer."""

from __future__ import annotations

import asyncio

from ctrack.calllog.recordings import usable_recording
from ctrack.calllog.store import save_call
from ctrack.core.model import CallRecord
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
    return services.writer.submit(lambda conn: save_call(conn, record, rules, origin=origin))
