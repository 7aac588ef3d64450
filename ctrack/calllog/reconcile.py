"""Recover calls that happened while the daemon or AMI was down, from Asterisk's CDR."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ctrack.calllog.asterisk_cdr import inbound_calls, parse_rows
from ctrack.calllog.recordings import find_recording
from ctrack.calllog.service import save_and_follow
from ctrack.calllog.store import CallRules, known_uniqueids
from ctrack.config import Config
from ctrack.core.model import CallRecord
from ctrack.route.rules import Catalog

log = logging.getLogger(__name__)


@dataclass
class ReconcileResult:
    rows: int = 0
    calls: int = 0
    added: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)


def read_cdr(
    catalog: Catalog,
    cdr_path: Path,
    *,
    cdr_timezone: str,
    ring_timeout: int,
    region: str,
    recording_dir: str,
    since: float | None = None,
    ended_before: float | None = None,
) -> ReconcileResult:
    """The inbound calls in the CDR as call records (file I/O: the daemon runs it off the loop).

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
    result.records = [
        r
        for r in inbound_calls(rows, ring_timeout, region, catalog.source_of, catalog.pass_through_numbers())
        if ended_before is None or (r.ended_at is not None and r.ended_at <= ended_before)
    ]
    result.calls = len(result.records)
    for record in result.records:
        record.recording = find_recording(recording_dir, record.uniqueid)
    for line, reason in result.bad_lines[:5]:
        log.warning("%s:%d: skipped: %s", cdr_path, line, reason)
    return result


def save_missing(records: list[CallRecord], rules: CallRules) -> Callable[[sqlite3.Connection], int]:
    """Write job: save the records the call log lacks (never a duplicate); how many were added."""

    def job(conn: sqlite3.Connection) -> int:
        known = known_uniqueids(conn, rules.site, [r.uniqueid for r in records])
        return sum(save_and_follow(conn, r, rules, "cdr") for r in records if r.uniqueid not in known)

    return job


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """How this site's CDR is read, from ctrack.ini once: the daemon and `ctrack reconcile` share it."""

    cdr_path: Path
    cdr_timezone: str
    ring_timeout: int
    region: str
    recording_dir: str

    @classmethod
    def from_config(cls, config: Config) -> ReconcileSettings:
        return cls(
            cdr_path=Path(config.cdr.master_csv),
            cdr_timezone=config.cdr.timezone,
            ring_timeout=config.business.ring_timeout,
            region=config.ctrack.default_region,
            recording_dir=config.recording_directory,
        )

    def read(
        self,
        catalog: Catalog,
        cdr_path: Path | None = None,
        since: float | None = None,
        ended_before: float | None = None,
    ) -> ReconcileResult:
        """read_cdr with these settings; cdr_path overrides [cdr] master_csv."""
        return read_cdr(
            catalog,
            cdr_path or self.cdr_path,
            cdr_timezone=self.cdr_timezone,
            ring_timeout=self.ring_timeout,
            region=self.region,
            recording_dir=self.recording_dir,
            since=since,
            ended_before=ended_before,
        )
