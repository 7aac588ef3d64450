"""Google Ads offline click conversions: qualified calls that carry a gclid, as the
click-conversion import CSV, each conversion exported once per conversion name.

The CLI and the daemon's scheduled-upload URL run the same write job, which selects what is
pending and marks it exported in one transaction; a conversion is marked by an outbox row (kind google_ads, target = the name).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ctrack.exports import ExportError
from ctrack.exports.csvsafe import to_csv

COLUMNS = ("Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency")
_GCLID = re.compile(r"^[A-Za-z0-9_-]{8,512}$")
_FORBIDDEN_START = ("=", "+", "-", "@", "'")

_PENDING = """
SELECT c.id, c.gclid, c.started_at, c.value FROM calls c
WHERE c.qualified = 1 AND c.gclid IS NOT NULL AND c.started_at >= ?
  AND (? OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'google_ads' AND o.call_id = c.id AND o.target = ?))
ORDER BY c.started_at, c.id
"""
_MARK = """
INSERT INTO outbox(kind, call_id, target, payload, attempts, sent_at)
SELECT 'google_ads', ?, ?, ?, 1, ?
WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'google_ads' AND call_id = ? AND target = ?)
"""


@dataclass(frozen=True, slots=True)
class ExportSettings:
    conversion_name: str
    tz: str
    currency: str
    default_value: float
    since_ts: float = 0.0
    include_exported: bool = False


@dataclass(frozen=True, slots=True)
class Export:
    csv: str
    exported: int  # conversions in the file
    skipped: int  # calls whose gclid is not a click id (left out, not marked)


def check_conversion_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ExportError("the conversion name must not be empty (the name of the conversion action in Google Ads)")
    if len(name) > 100 or any(ord(ch) < 32 for ch in name) or name.startswith(_FORBIDDEN_START):
        raise ExportError(f"conversion name {name!r}: use up to 100 characters, starting with a letter or digit")
    return name


def conversion_time(ts: float, tz: str) -> str:
    """'yyyy-mm-dd hh:mm:ss+hh:mm' in the report time zone."""
    local = datetime.fromtimestamp(ts, ZoneInfo(tz))
    utc_offset = local.utcoffset()
    offset = int(utc_offset.total_seconds()) if utc_offset is not None else 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{local:%Y-%m-%d %H:%M:%S}{sign}{hours:02d}:{minutes:02d}"


def build(calls: Iterable[Any], settings: ExportSettings) -> tuple[Export, list[tuple[int, dict[str, str]]]]:
    """The CSV for pending calls (id, gclid, started_at, value) and the rows to mark."""
    rows, marks, skipped = [], [], 0
    for call_id, gclid, started_at, value in calls:
        if not _GCLID.match(gclid or ""):
            skipped += 1
            continue
        row = {
            "Google Click ID": gclid,
            "Conversion Name": settings.conversion_name,
            "Conversion Time": conversion_time(started_at, settings.tz),
            "Conversion Value": f"{settings.default_value if value is None else value:.2f}",
            "Conversion Currency": settings.currency,
        }
        rows.append(row)
        marks.append((call_id, row))
    text = f"Parameters:TimeZone={settings.tz}\r\n" + to_csv(rows, COLUMNS)
    return Export(text, len(rows), skipped), marks


def _params(settings: ExportSettings) -> tuple:
    return settings.since_ts, int(settings.include_exported), settings.conversion_name


def _mark_params(marks: list[tuple[int, dict[str, str]]], name: str, now: float) -> list[tuple]:
    return [(call_id, name, json.dumps(row), now, call_id, name) for call_id, row in marks]


def export(conn: sqlite3.Connection, settings: ExportSettings, now: float) -> Export:
    """Write job: pending conversions as CSV, marked as exported in the same transaction.

    The CLI runs it with `store.db.write` and writes its file inside that transaction (a failed
    write marks nothing); the scheduled-upload URL runs it on the daemon's writer."""
    result, marks = build(conn.execute(_PENDING, _params(settings)).fetchall(), settings)
    conn.executemany(_MARK, _mark_params(marks, settings.conversion_name, now))
    return result
