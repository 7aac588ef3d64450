"""`ctrack db copy --to postgresql://…`: move a SQLite deployment onto PostgreSQL, whole.

The target is brought to the source's schema version by the usual migrations, must hold no
data of its own (a refusal changes nothing), and is filled in one transaction, rows
streamed with COPY. Triggers run as on any write, so a table is copied after the tables it
references and after the tables whose triggers write into it (roll-ups, the outbox's
events, transcript jobs), emptied just before: the copy equals the source row for row,
ids included, and the identity sequences continue after them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any, cast

from ctrack.store import db

# Tables every migrated database starts with rows in; their rows are the source's after a copy.
SEEDED = frozenset({"catalog_version", "lead_rules", "privacy_key", "report_timezone", "tz_offsets"})
BATCH = 5000
_WRITES = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE)\s+(\w+)", re.IGNORECASE)


class CopyError(db.DatabaseError):
    """A copy that cannot be made; nothing was written to the target."""


def tables(conn: sqlite3.Connection) -> list[tuple[str, list[str]]]:
    """The source's tables with the columns to copy, each after those it references and
    those whose triggers write into it (SQLite)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = [name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    names = [
        name
        for name, _ in rows
        if not name.startswith("sqlite_") and not any(name.startswith(v + "_") for v in virtual)
    ]
    parents = {name: {r["table"] for r in conn.execute(f"PRAGMA foreign_key_list({name})")} for name in names}
    for on, sql in conn.execute("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"):
        for written in _WRITES.findall(sql):
            if written in parents:
                parents[written].add(on)
    for name in names:
        parents[name].discard(name)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise CopyError(f"foreign keys form a cycle among {sorted(set(names) - set(ordered))}")
        ordered += ready
    result = []
    for name in ordered:
        columns = [r["name"] for r in conn.execute(f"PRAGMA table_info({name})")]
        result.append((name, (["rowid"] if name in virtual else []) + columns))
    return result


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def copy(source: sqlite3.Connection, target: sqlite3.Connection, progress: Callable[[str, int], None]) -> int:
    """Copy everything; the number of rows written. The target must be a PostgreSQL database."""
    if db.is_postgresql(source) or not db.is_postgresql(target):
        raise CopyError("db copy moves a SQLite database to PostgreSQL (--to postgresql://…)")
    db.ensure_current(source)
    version = db.schema_version(source)
    if db.schema_version(target) > version:
        raise CopyError(f"the target is at schema v{db.schema_version(target)}, newer than the source's v{version}")
    present = [
        r[0]
        for r in target.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' AND table_name != 'schema_version' ORDER BY 1"
        )
    ]
    full = [t for t in present if t not in SEEDED and _count(target, t)]
    if full or (present and not db.schema_version(target)):
        where = ", ".join(full or present)
        raise CopyError(f"the target already holds data (in {where}); copy into an empty database")
    db.upgrade(target)
    layout = tables(source)
    written = 0
    target.execute("BEGIN")
    try:
        for table, columns in layout:
            written += _copy_table(source, target, table, columns)
            progress(table, _count(target, table))
        identities = target.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        ).fetchall()
        for table, column in identities:
            target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), max({column})) FROM {table} "
                f"HAVING count(*) > 0"
            )
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return written


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str, columns: list[str]) -> int:
    target.execute(f"DELETE FROM {table}")
    raw = cast(Any, target).raw
    count = 0
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    quoted = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as pipe:
        while batch := cursor.fetchmany(BATCH):
            for row in batch:
                pipe.write_row(tuple(row))
            count += len(batch)
    return count
