"""Reading a test's database back on either backend (the `ctrack_db` fixture, tests/conftest.py):
through ctrack.store.db.connect, which opens a SQLite file or a postgresql:// URL alike."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ctrack.store import db


@contextlib.contextmanager
def opened(target: db.Target) -> Iterator[sqlite3.Connection]:
    """A connection to an existing database, closed afterwards."""
    conn = db.connect(target)
    try:
        yield conn
    finally:
        conn.close()


def rows(target: db.Target, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of one query, as plain tuples."""
    with opened(target) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def dicts(target: db.Target, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of one query, as column -> value."""
    with opened(target) as conn:
        return [dict(zip(r.keys(), r)) for r in conn.execute(sql, params).fetchall()]


def value(target: db.Target, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of one query."""
    return rows(target, sql, params)[0][0]


def tables(conn: sqlite3.Connection) -> list[str]:
    """Every table of the schema (not SQLite's own, nor the FTS index's shadow tables, which
    follow their table)."""
    if db.is_postgresql(conn):
        sql = (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        return sorted(r[0] for r in conn.execute(sql).fetchall())
    found = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    named = dict(found.fetchall())
    virtual = [name for name, sql in named.items() if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    return sorted(n for n in named if not any(n == v or n.startswith(v + "_") for v in virtual))


def digest(target: db.Target) -> dict[str, list[tuple]]:
    """Everything the database holds: each table's rows (in a fixed order) and the schema
    version — equal before and after means a command changed nothing, on either backend."""
    with opened(target) as conn:
        found: dict[str, list[tuple]] = {"(schema version)": [(db.schema_version(conn),)]}
        for table in tables(conn):
            found[table] = sorted((tuple(r) for r in conn.execute(f'SELECT * FROM "{table}"')), key=repr)
        return found
