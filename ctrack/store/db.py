"""Opening the database and upgrading its schema with numbered migrations.

The database is a SQLite file (the embedded default) or a PostgreSQL server named by a
postgresql:// URL ([ctrack] database); `connect` opens either, and PostgreSQL comes as
store/pg.Connection, which job functions use exactly as a sqlite3.Connection. A migration
NNNN_name.sql carries its PostgreSQL form beside it as NNNN_name.pg.sql: one numbered
history, one schema version per database (PRAGMA user_version / table schema_version).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast

from ctrack.errors import CtrackError

T = TypeVar("T")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_PG_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.pg\.sql$")
Target = str | Path  # a SQLite file, or a postgresql:// URL
URL_SCHEMES = ("postgresql://", "postgres://")
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


class DatabaseError(CtrackError):
    """The database cannot be opened or upgraded; str() is the admin-facing reason."""


class SchemaError(DatabaseError):
    """The database answers, but its schema is not this ctrack's (older, newer, or a migration
    failed): nothing may be written there by this process until that is fixed."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("ctrack.store.migrations").iterdir():
        if m := _MIGRATION.match(entry.name):
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def pg_migrations() -> dict[int, tuple[str, str]]:
    """version -> (file name, SQL) of the PostgreSQL variants."""
    found = {}
    for entry in resources.files("ctrack.store.migrations").iterdir():
        if m := _PG_MIGRATION.match(entry.name):
            found[int(m.group(1))] = (entry.name, entry.read_text(encoding="utf-8"))
    return found


def is_url(target: object) -> bool:
    """A postgresql:// URL rather than a SQLite file (psycopg is needed only then)."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def target(text: str | Path) -> Target:
    """A configured database as connect() takes it: the URL as written, or a file path."""
    return text if is_url(text) else Path(text)


def is_broken(conn: object) -> bool:
    """The connection to a PostgreSQL server was lost (a SQLite file's never is)."""
    raw = getattr(conn, "raw", None)
    return raw is not None and bool(raw.closed or raw.broken)


def is_postgresql(conn: object) -> bool:
    return getattr(conn, "backend", None) == "postgresql"


def describe(target: Target) -> str:
    """The database as shown to the admin: the file, or the URL without its password."""
    if not is_url(target):
        return str(target)
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", str(target))


def latest_version() -> int:
    return migrations()[-1][0]


def apply_pragmas(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)


def connect(
    path: Target, *, create: bool = False, any_thread: bool = False, read_only: bool = False
) -> sqlite3.Connection:
    """A plain sqlite3 connection for short-lived processes (CLI, classic AGI), or for a
    postgresql:// URL the PostgreSQL connection that stands in for one (store/pg.py).

    any_thread: the connection is handed between threads (never used by two at once).
    read_only: for a process that may not write (Asterisk's user running the AGI script).
    """
    if is_url(path):
        try:
            from ctrack.store import pg
        except ImportError:
            raise DatabaseError("a postgresql:// database needs psycopg: pip install 'ctrack[postgresql]'") from None
        try:
            return cast(sqlite3.Connection, pg.Connection(str(path)))
        except sqlite3.Error as exc:
            raise DatabaseError(f"{describe(path)}: cannot connect ({exc})") from None
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
    if is_postgresql(conn):
        if not conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    if is_postgresql(conn):
        return _upgrade_postgresql(conn)
    current = schema_version(conn)
    if current > latest_version():
        raise SchemaError(_newer(current))
    applied = []
    # Foreign keys off while a migration runs (SQLite can enforce them only per connection,
    # outside a transaction): a table rebuild drops and recreates a parent table, which with
    # them on would cascade into its children. They are checked before each commit.
    enforced = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for version, name, sql in migrations():
            if version <= current:
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _statements(sql):
                    conn.execute(statement)
                if broken := conn.execute("PRAGMA foreign_key_check").fetchall():
                    raise sqlite3.IntegrityError(f"{len(broken)} rows break a foreign key, first in {broken[0][0]}")
                conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise SchemaError(f"migration {name} failed: {exc}") from None
            applied.append(version)
    finally:
        if enforced:
            conn.execute("PRAGMA foreign_keys = ON")
    return applied


def _upgrade_postgresql(conn: sqlite3.Connection) -> list[int]:
    """The same history from the .pg.sql variants; an advisory lock keeps two daemons
    starting at once from applying a migration twice."""
    variants = pg_migrations()
    applied = []
    for version, name, _ in migrations():
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(7366238)")  # 'ctrack' schema lock
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY)")
            current = schema_version(conn)
            if current > latest_version():
                raise SchemaError(_newer(current))
            if version <= current:
                conn.execute("COMMIT")
                continue
            if version not in variants:
                raise DatabaseError(f"migration {name} has no PostgreSQL variant ({name[:-4]}.pg.sql)")
            conn.script(variants[version][1])  # type: ignore[attr-defined]
            conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise SchemaError(f"migration {variants.get(version, (name,))[0]} failed: {exc}") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _newer(current: int) -> str:
    return f"database schema v{current} is newer than this ctrack (v{latest_version()}); upgrade ctrack"


def ensure_current(conn: sqlite3.Connection) -> None:
    """SchemaError unless the schema is exactly this ctrack's."""
    current = schema_version(conn)
    if current < latest_version():
        raise SchemaError(
            f"database schema v{current} is out of date, this ctrack's is v{latest_version()} (run `ctrack db upgrade`)"
        )
    if current > latest_version():
        raise SchemaError(_newer(current))


def connect_for_writes(path: Target) -> sqlite3.Connection:
    """The daemon writer's connection, opened at start and again whenever the center comes back:
    the schema is brought to this ctrack's version as `ctrack serve` does at start (under the
    same lock), so nothing is written into a schema this ctrack does not know. SchemaError when
    it cannot be (a newer schema, a failed migration), DatabaseError when it does not answer."""
    conn = connect(path)
    try:
        upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


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
