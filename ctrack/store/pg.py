"""PostgreSQL behind sqlite3's face: the one seam that lets every store job run on both backends.

A `Connection` here answers the part of `sqlite3.Connection` the store uses — `execute`
(statement text translated by store/dialect.py), `executemany`, `close` — with rows that
read by index and by column name like `sqlite3.Row`, and psycopg's errors raised as the
sqlite3 error classes the stores already catch. Transactions stay explicit: autocommit
until the job's own BEGIN, as on SQLite with isolation_level=None. Sums (numeric) come
back as int or float and Python bools go in as 0/1, the values SQLite hands out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

from ctrack.store.dialect import to_postgres


class Row:
    """A result row: row[0], row["name"], dict(row), unpacking — as sqlite3.Row."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]):
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return self._values == (other._values if isinstance(other, Row) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


_INDEXES: dict[tuple[bytes, ...], dict[str, int]] = {}  # column names -> name: position


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    """Called for every result: the column index is shared by results with the same column
    names (cursor.description would build a Column object per column each time)."""
    res = cursor.pgresult
    names = tuple(res.fname(i) or b"" for i in range(res.nfields)) if res is not None else ()
    index = _INDEXES.get(names)
    if index is None:
        index = {c.name: i for i, c in enumerate(cursor.description or ())}
        if len(_INDEXES) < 4096:
            _INDEXES[names] = index
    return lambda values: Row(values, index)


def _has_rows(cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> bool:
    """The statement returned a result set (what `cursor.description is not None` says)."""
    res = cursor.pgresult
    return res is not None and (res.nfields > 0 or res.status == psycopg.pq.ExecStatus.TUPLES_OK)


class _Number(Loader):
    """numeric (what sum() of integers gives) as int when whole, else float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        return int(text) if text.lstrip(b"-").isdigit() else float(text)


class _BoolAsInt(Dumper):
    """True/False stored as 1/0 in the integer flag columns, as sqlite3 does."""

    format = Format.TEXT
    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class ConflictError(sqlite3.OperationalError):
    """A deadlock or serialization failure: this transaction gave way to another one and
    succeeds when run again (the store Writer redoes its batch)."""

    conflict = True


def _sqlite_error(exc: psycopg.Error) -> sqlite3.Error:
    kind: type[sqlite3.Error]
    if isinstance(exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
        kind = ConflictError
    elif isinstance(exc, psycopg.IntegrityError):
        kind = sqlite3.IntegrityError
    elif isinstance(exc, psycopg.OperationalError):
        kind = sqlite3.OperationalError
    elif isinstance(exc, psycopg.ProgrammingError):
        kind = sqlite3.OperationalError  # what sqlite3 raises for a bad statement
    else:
        kind = sqlite3.DatabaseError
    return kind(str(exc).strip())


class Cursor:
    def __init__(self, cursor: psycopg.Cursor[Any]):
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    lastrowid = None  # use RETURNING

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if _has_rows(self._cursor) else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if _has_rows(self._cursor) else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        self._cursor.close()


class Connection:
    backend = "postgresql"

    def __init__(self, url: str):
        try:
            self.raw = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None
        self.raw.row_factory = _row_factory
        self.raw.adapters.register_loader("numeric", _Number)
        self.raw.adapters.register_dumper(bool, _BoolAsInt)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        try:
            cursor = self.raw.cursor()
        except psycopg.Error as exc:  # the connection was lost
            raise _sqlite_error(exc) from None
        try:
            cursor.execute(to_postgres(sql), params)
        except psycopg.Error as exc:
            cursor.close()
            raise _sqlite_error(exc) from None
        return Cursor(cursor)

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> Cursor:
        try:
            cursor = self.raw.cursor()
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None
        try:
            cursor.executemany(to_postgres(sql), seq)
        except psycopg.Error as exc:
            cursor.close()
            raise _sqlite_error(exc) from None
        return Cursor(cursor)

    def script(self, sql: str) -> None:
        """Run a migration's statements as written (PostgreSQL SQL, several at once)."""
        try:
            self.raw.execute(sql.encode())
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @property
    def failed(self) -> bool:
        """A statement of the open transaction failed: until ROLLBACK (TO a savepoint) every
        statement fails, and COMMIT would quietly roll back (SQLite has no such state)."""
        return self.raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR

    def close(self) -> None:
        self.raw.close()


class AsyncConnection:
    """A psycopg connection on the event loop, for a hot path that must not hop threads
    (the DNI lease batches): the same adapters, sqlite3's error classes, rows as plain
    tuples (no per-statement column names to build), and statements sent together and
    answered in one round trip (psycopg's pipeline mode)."""

    backend = "postgresql"

    def __init__(self, raw: psycopg.AsyncConnection[Any]):
        self.raw = raw

    @classmethod
    async def connect(cls, url: str) -> AsyncConnection:
        try:
            raw = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None
        raw.adapters.register_loader("numeric", _Number)
        raw.adapters.register_dumper(bool, _BoolAsInt)
        return cls(raw)

    async def pipeline(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows of each statement. A failing statement fails the call; the ones after
        it do not run."""
        try:
            async with self.raw.pipeline():
                cursors = [await self.raw.execute(to_postgres(sql), params) for sql, params in statements]
            return [await cursor.fetchall() if _has_rows(cursor) else [] for cursor in cursors]
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None

    async def close(self) -> None:
        await self.raw.close()
