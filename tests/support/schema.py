"""A database at an earlier schema version, as an older ctrack left it (upgrade tests)."""

from __future__ import annotations

import sqlite3

from ctrack.store import db


def migrate_to(conn: sqlite3.Connection, last: int) -> None:
    """The schema as a ctrack of version `last` left it (no later migration)."""
    if db.is_postgresql(conn):
        variants = db.pg_migrations()
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE schema_version (version integer PRIMARY KEY)")
        for version in sorted(v for v in variants if v <= last):
            conn.script(variants[version][1])  # type: ignore[attr-defined]
            conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
        conn.execute("COMMIT")
        return
    for version, _, sql in db.migrations():
        if version <= last:
            conn.execute("BEGIN")
            for statement in db._statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
