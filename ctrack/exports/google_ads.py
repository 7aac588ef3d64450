"""Google Ads offline conversions as import CSVs, each conversion exported once per
conversion name: click conversions (calls that carry a gclid) and call conversions (calls to
numbers marked as Google call assets / forwarding numbers: caller and call start time, no
gclid). Which calls are conversions and their value: ctrack/exports/store.py.

The CLI and the daemon's scheduled-upload URLs run the same write jobs, which select what is
pending and mark it exported in one transaction; a conversion is marked by an outbox row
(kind google_ads or google_ads_calls, target = the conversion name).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ctrack.exports import ExportError
from ctrack.exports.conversions import conversion_value
from ctrack.exports.csvsafe import to_csv
from ctrack.exports.store import CONVERSION, VALUE

COLUMNS = ("Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency")
CALL_COLUMNS = (
    "Caller's Phone Number",
    "Call Start Time",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Conversion Currency",
)
CLICKS, CALLS = "google_ads", "google_ads_calls"  # outbox kinds that mark a conversion exported
_GCLID = re.compile(r"^[A-Za-z0-9_-]{8,512}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_FORBIDDEN_START = ("=", "+", "-", "@", "'")
_NOT_EXPORTED = "(? = 1 OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind = ? AND o.call_id = c.id AND o.target = ?))"

_PENDING = f"""
SELECT c.id, c.gclid, c.started_at, {VALUE} AS value FROM calls c
WHERE c.gclid IS NOT NULL AND c.started_at >= ? AND {CONVERSION} AND {_NOT_EXPORTED}
ORDER BY c.started_at, c.id
"""
_PENDING_CALLS = f"""
SELECT c.id, c.caller_number, c.started_at, c.ended_at, {VALUE} AS value FROM calls c
WHERE c.tracking_number IN (SELECT number FROM numbers WHERE google_call_asset = 1)
  AND c.started_at >= ? AND {CONVERSION} AND {_NOT_EXPORTED}
ORDER BY c.started_at, c.id
"""
_MARK = """
INSERT INTO outbox(kind, call_id, target, payload, attempts, sent_at)
SELECT ?, ?, ?, ?, 1, ?
WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = ? AND call_id = ? AND target = ?)
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
    skipped: int  # calls whose gclid is not a click id / caller not an E.164 number (left out, not marked)


Marks = list[tuple[int, dict[str, str]]]  # (call id, its row) of each conversion in a file


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


def _value(value: float | None, settings: ExportSettings) -> str:
    return f"{conversion_value({'value': value}, settings.default_value):.2f}"


def _file(rows: list[dict[str, str]], columns: tuple[str, ...], settings: ExportSettings) -> str:
    # Every time carries its offset; the TimeZone row names the zone they were written in.
    return f"Parameters:TimeZone={settings.tz}\r\n" + to_csv(rows, columns)


def build(calls: Iterable[Any], settings: ExportSettings) -> tuple[Export, Marks]:
    """The click-conversion CSV for pending calls (id, gclid, started_at, value) and the rows to mark."""
    rows, marks, skipped = [], [], 0
    for call_id, gclid, started_at, value in calls:
        if not _GCLID.match(gclid or ""):
            skipped += 1
            continue
        row = {
            "Google Click ID": gclid,
            "Conversion Name": settings.conversion_name,
            "Conversion Time": conversion_time(started_at, settings.tz),
            "Conversion Value": _value(value, settings),
            "Conversion Currency": settings.currency,
        }
        rows.append(row)
        marks.append((call_id, row))
    return Export(_file(rows, COLUMNS, settings), len(rows), skipped), marks


def build_calls(calls: Iterable[Any], settings: ExportSettings) -> tuple[Export, Marks]:
    """The call-conversion CSV for pending calls (id, caller, started_at, ended_at, value).

    Google matches a row to a call through its forwarding number by caller and start time;
    a call without a caller number in E.164 (anonymous) cannot match and is left out. The
    conversion time is the end of the call, which Google requires to be after its start."""
    rows, marks, skipped = [], [], 0
    for call_id, caller, started_at, ended_at, value in calls:
        if not _E164.match(caller or ""):
            skipped += 1
            continue
        start = int(started_at)
        row = {
            "Caller's Phone Number": caller,
            "Call Start Time": conversion_time(start, settings.tz),
            "Conversion Name": settings.conversion_name,
            "Conversion Time": conversion_time(max(int(ended_at or start), start + 1), settings.tz),
            "Conversion Value": _value(value, settings),
            "Conversion Currency": settings.currency,
        }
        rows.append(row)
        # The mark outlives the call's erasure (ctrack privacy erase): no caller number in it.
        marks.append((call_id, {k: v for k, v in row.items() if k != "Caller's Phone Number"}))
    return Export(_file(rows, CALL_COLUMNS, settings), len(rows), skipped), marks


Builder = Callable[[Iterable[Any], ExportSettings], tuple[Export, Marks]]


def _run(
    conn: sqlite3.Connection, kind: str, sql: str, builder: Builder, settings: ExportSettings, now: float
) -> Export:
    name = settings.conversion_name
    pending = conn.execute(sql, (settings.since_ts, int(settings.include_exported), kind, name)).fetchall()
    result, marks = builder(pending, settings)
    conn.executemany(
        _MARK, [(kind, call_id, name, json.dumps(row), now, kind, call_id, name) for call_id, row in marks]
    )
    return result


def export(conn: sqlite3.Connection, settings: ExportSettings, now: float) -> Export:
    """Write job: pending click conversions as CSV, marked as exported in the same transaction.

    The CLI runs it with `store.db.write` and writes its file inside that transaction (a failed
    write marks nothing); the scheduled-upload URL runs it on the daemon's writer."""
    return _run(conn, CLICKS, _PENDING, build, settings, now)


def export_calls(conn: sqlite3.Connection, settings: ExportSettings, now: float) -> Export:
    """Write job: pending call conversions (calls to Google call-asset numbers), as `export`."""
    return _run(conn, CALLS, _PENDING_CALLS, build_calls, settings, now)
