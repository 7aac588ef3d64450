"""The local durable spool: writes that must not be lost while PostgreSQL is unreachable.

A daemon on PostgreSQL keeps a small SQLite file beside it ([ctrack] spool). A job submitted
with a `Durable` — the dotted name of a replay function and a JSON payload that is enough to
redo the job — goes there when its batch cannot reach the center; once the center answers
again, the writer thread replays the spool in order, oldest first, before anything newer.
Replay functions must be idempotent (a call is saved once per site and uniqueid, whatever the count
of replays), so a write that did commit just before the link dropped does no harm replayed.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctrack.catalog import snapshot
from ctrack.route.rules import Catalog

# (module:function, payload): the function is called as fn(conn, payload) inside a transaction.
Durable = tuple[str, dict[str, Any]]


def replay_function(name: str) -> Callable[[sqlite3.Connection, dict[str, Any]], Any]:
    module, _, attr = name.partition(":")
    fn: Callable[[sqlite3.Connection, dict[str, Any]], Any] = getattr(importlib.import_module(module), attr)
    return fn


class Spool:
    """The spool file; used from the writer thread only (depth() may be read from anywhere)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self.count = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a spooled call survives a power cut
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, at REAL NOT NULL, "
            "fn TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        self._conn = conn
        self.count = conn.execute("SELECT count(*) FROM spool").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def append(self, items: list[Durable]) -> None:
        assert self._conn is not None
        now = time.time()
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO spool(at, fn, payload) VALUES (?, ?, ?)",
                [(now, fn, json.dumps(payload)) for fn, payload in items],
            )
        self.count += len(items)

    def head(self, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        assert self._conn is not None
        rows = self._conn.execute("SELECT seq, fn, payload FROM spool ORDER BY seq LIMIT ?", (limit,))
        return [(seq, fn, json.loads(payload)) for seq, fn, payload in rows]

    def remove_through(self, seq: int) -> None:
        assert self._conn is not None
        self._conn.execute("DELETE FROM spool WHERE seq <= ?", (seq,))
        self.count = self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]


def catalog_copy_path(spool: str | Path) -> Path:
    """Where the route catalog's last good copy is kept, beside the spool: a daemon that
    starts while the center is down routes from it (catalog/snapshot.py: versioned JSON)."""
    spool = Path(spool)
    return spool.with_name(spool.stem + "-catalog.json")


def old_catalog_copy_path(copy: Path) -> Path:
    """Where ctrack before the JSON copy kept it (a pickle, which no other version reads)."""
    return copy.with_suffix(".pickle")


def save_catalog_copy(path: Path, catalog: Catalog, saved_at: float) -> None:
    """Write the copy whole or not at all: a crash or power cut mid-write leaves the previous
    copy (a temporary file, synced, renamed over it, the rename synced); OSError if it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    with partial.open("wb") as f:
        f.write(snapshot.dumps(catalog, saved_at))
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    old_catalog_copy_path(path).unlink(missing_ok=True)  # superseded


def load_catalog_copy(path: Path) -> tuple[Catalog, float]:
    """(catalog, saved_at) of the copy; CatalogCopyError (or OSError) when it cannot be routed from."""
    if not path.is_file() and old_catalog_copy_path(path).is_file():
        raise snapshot.CatalogCopyError(
            f"only a copy in an earlier ctrack's format ({old_catalog_copy_path(path).name}, not read); "
            "the next load from the center replaces it"
        )
    return snapshot.loads(path.read_bytes())


def _read(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[Any] | None:
    """Rows of a query on a spool file opened read-only (another process may own it);
    None when there is no file, [] when it has no spool table yet."""
    if not path.exists():
        return None
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # no table yet
        return []
    finally:
        conn.close()


def depth(path: str | Path) -> int | None:
    """Entries waiting in a spool file (for `ctrack doctor`); None when there is no spool."""
    rows = _read(Path(path), "SELECT count(*) FROM spool")
    if rows is None:
        return None
    return int(rows[0][0]) if rows else 0


def waiting(path: str | Path, fn: str) -> list[dict[str, Any]]:
    """The payloads of the writes by `fn` waiting in a spool file, oldest first (a DNI node
    restarted while the center is away takes its leases back from them)."""
    rows = _read(Path(path), "SELECT payload FROM spool WHERE fn = ? ORDER BY seq", (fn,))
    return [json.loads(payload) for (payload,) in rows or []]
