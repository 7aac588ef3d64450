"""Opening the database and upgrading its schema with numbered migrations."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TypeVar

from ctrack.errors import CtrackError

T = TypeVar("T")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


class DatabaseError(CtrackError):
    """The database cannot be opened or upgraded; str() is the admin-facing reason."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("ctrack.store.migrations").iterdir():
        if m := _MIGRATION.match(entry.name):
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


def apply_pragmas(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)


def connect(
    path: str | Path, *, create: bool = False, any_thread: bool = False, read_only: bool = False
) -> sqlite3.Connection:
    """A plain sqlite3 connection for short-lived processes (CLI, classic AGI).

    any_thread: the connection is handed between threads (never used by two at once).
    read_only: for a process that may not write (Asterisk's user running the AGI script).
    """
    path = Path(path)
    if not create and not path.exists():
        raise DatabaseError(f"{path}: no database here (run `ctrack init`)")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if read_only:
            conn = _connect_read_only(path, any_thread)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=not any_thread)
            apply_pragmas(conn)
        conn.row_factory = sqlite3.Row
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: cannot open database ({exc})") from None
    return conn


def _connect_read_only(path: Path, any_thread: bool) -> sqlite3.Connection:
    """Read without write access to the folder: while no other connection holds the WAL
    files open, SQLite cannot create its shared-memory file, and then the database (fully
    checkpointed at that moment) is read as immutable."""
    uri = path.resolve().as_uri()
    try:
        return _open_uri(uri + "?mode=ro", any_thread)
    except sqlite3.OperationalError:
        return _open_uri(uri + "?mode=ro&immutable=1", any_thread)


def _open_uri(uri: str, any_thread: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5, check_same_thread=not any_thread)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails here if it cannot read
    except sqlite3.OperationalError:
        conn.close()
        raise
    return conn


def write(conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]) -> T:
    """Run one write job in its own transaction: the CLI's way of running the very job
    functions the daemon's Writer runs in its batches (one write path, two schedulers)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = job(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    current = schema_version(conn)
    if current > latest_version():
        raise DatabaseError(
            f"database schema v{current} is newer than this ctrack (v{latest_version()}); upgrade ctrack"
        )
    applied = []
    for version, name, sql in migrations():
        if version <= current:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise DatabaseError(f"migration {name} failed: {exc}") from None
        applied.append(version)
    return applied


def ensure_current(conn: sqlite3.Connection) -> None:
    if schema_version(conn) < latest_version():
        raise DatabaseError("database schema is out of date (run `ctrack db upgrade`)")


def _statements(sql: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        yield buffer
