"""Ad spend per source per day, written by the CLI (plain sqlite3, one transaction each).

An import sets the amounts of the days it names (a cost report re-exported for the same
days replaces them); `add` adds to a day's amount. Either refuses the whole input if any
line is bad, so the spend table never holds half a file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from ctrack.catalog.store import transaction
from ctrack.spend.rules import SpendError, SpendLine

SPEND_COLUMNS = ("day", "source", "channel", "amount")


def _source_ids(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT name, id FROM sources").fetchall())


def import_spend(conn: sqlite3.Connection, lines: Iterable[SpendLine]) -> tuple[int, int]:
    """Set each line's amount; (new entries, replaced entries). All or nothing."""
    lines = list(lines)
    with transaction(conn):
        ids = _source_ids(conn)
        unknown = [
            f"line {ln.line}: unknown source {ln.source!r} (see `ctrack source list`)"
            for ln in lines
            if ln.source not in ids
        ]
        if unknown:
            raise SpendError("\n".join(unknown))
        replaced = 0
        for ln in lines:
            cur = conn.execute(
                "UPDATE spend SET amount = ? WHERE day = ? AND source_id = ?",
                (float(ln.amount), ln.day.isoformat(), ids[ln.source]),
            )
            if cur.rowcount:
                replaced += 1
            else:
                conn.execute(
                    "INSERT INTO spend(day, source_id, amount) VALUES (?, ?, ?)",
                    (ln.day.isoformat(), ids[ln.source], float(ln.amount)),
                )
    return len(lines) - replaced, replaced


def add_spend(conn: sqlite3.Connection, source: str, entries: Iterable[tuple[date, Decimal]]) -> float:
    """Add amounts to a source's days; returns the source's new total over those days."""
    entries = list(entries)
    with transaction(conn):
        source_id = _source_ids(conn).get(source)
        if source_id is None:
            raise SpendError(f"unknown source {source!r} (see `ctrack source list`)")
        for day, amount in entries:
            conn.execute(
                """
                INSERT INTO spend(day, source_id, amount) VALUES (?, ?, ?)
                ON CONFLICT(day, source_id) DO UPDATE SET amount = spend.amount + excluded.amount""",
                (day.isoformat(), source_id, float(amount)),
            )
        days = [day.isoformat() for day, _ in entries]
        marks = ",".join("?" * len(days))
        total = conn.execute(
            f"SELECT sum(amount) FROM spend WHERE source_id = ? AND day IN ({marks})", (source_id, *days)
        ).fetchone()[0]
    return round(total, 2)


def list_spend(conn: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT sp.day, s.name AS source, s.channel, sp.amount FROM spend sp JOIN sources s ON s.id = sp.source_id
        WHERE sp.day BETWEEN ? AND ? ORDER BY sp.day, s.name""",
        (first.isoformat(), last.isoformat()),
    )
    return [dict(r) for r in rows]
