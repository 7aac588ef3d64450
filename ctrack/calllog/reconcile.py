"""Recover calls that happened while the daemon or AMI was down, from Asterisk's CDR."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ctrack.calllog.asterisk_cdr import inbound_calls, parse_rows
from ctrack.calllog.recordings import find_recording
from ctrack.calllog.store import CallRules, known_uniqueids, save_call
from ctrack.route.rules import Catalog
from ctrack.store.writer import Writer

log = logging.getLogger(__name__)


@dataclass
class ReconcileResult:
    rows: int = 0
    calls: int = 0
    added: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


async def reconcile(
    writer: Writer,
    catalog: Catalog,
    cdr_path: Path,
    rules: CallRules,
    *,
    cdr_timezone: str,
    ring_timeout: int,
    region: str,
    recording_dir: str,
    since: float | None = None,
    ended_before: float | None = None,
) -> ReconcileResult:
    """Save every inbound call in the CDR that the call log lacks; never a duplicate.

    ended_before leaves out calls the live listener is logging itself (with richer data):
    the daemon passes the time its AMI session started, or a minute ago.
    """
    result = ReconcileResult()
    tz = ZoneInfo(cdr_timezone)

    def bad(line: int, reason: str) -> None:
        result.bad_lines.append((line, reason))

    with open(cdr_path, encoding="utf-8", errors="replace", newline="") as handle:
        rows = [row for row in parse_rows(handle, tz, bad) if since is None or row.start >= since]
    result.rows = len(rows)

    records = [
        r
        for r in inbound_calls(rows, ring_timeout, region, catalog.source_of)
        if ended_before is None or r.ended_at <= ended_before
    ]
    result.calls = len(records)
    for record in records:
        record.recording = find_recording(recording_dir, record.uniqueid)

    async def save_missing(conn):
        known = await known_uniqueids(conn, [r.uniqueid for r in records])
        added = 0
        for record in records:
            if record.uniqueid in known:
                continue
            added += await save_call(conn, record, rules, origin="cdr")
        return added

    result.added = await writer.run(save_missing)
    for line, reason in result.bad_lines[:5]:
        log.warning("%s:%d: skipped: %s", cdr_path, line, reason)
    return result
