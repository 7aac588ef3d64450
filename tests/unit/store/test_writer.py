"""The store Writer's batches on both backends: a batch runs without a savepoint per job, and
when a job fails it is redone with savepoints, so the failing job alone is rolled back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from ctrack.store import db
from ctrack.store.pg import ConflictError
from ctrack.store.writer import Writer


def _table(target) -> None:
    conn = db.connect(target, create=True)
    conn.execute("CREATE TABLE t (k text PRIMARY KEY, n integer)")
    conn.close()


def _rows(target) -> list[tuple[str, int]]:
    conn = db.connect(target)
    try:
        return [tuple(r) for r in conn.execute("SELECT k, n FROM t ORDER BY k")]
    finally:
        conn.close()


def insert(key: str, n: int = 1):
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t(k, n) VALUES (?, ?)", (key, n))
        return key

    return job


async def _one_batch(writer: Writer, jobs: list) -> list:
    """Submit `jobs` so that they run as one batch: the writer thread is held by a first job
    until all are queued. Each job's result, or the exception it raised."""
    hold = threading.Event()
    first = writer.submit(lambda conn: hold.wait(10))
    futures = [writer.submit(job) for job in jobs]
    hold.set()
    await first
    return await asyncio.gather(*futures, return_exceptions=True)


async def test_a_failing_job_mid_batch_rolls_back_only_itself(database):
    _table(database)
    writer = Writer(database)
    await writer.start()
    try:
        await writer.run(insert("taken"))
        batches = writer.batches

        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t(k, n) VALUES ('half', 1)")  # undone with its job
            conn.execute("INSERT INTO t(k, n) VALUES ('taken', 2)")  # the primary key refuses

        results = await _one_batch(writer, [insert("a"), insert("b"), half_then_fail, insert("c")])
        assert writer.batches == batches + 1  # one transaction for the four jobs
    finally:
        await writer.close()
    assert results[:2] == ["a", "b"] and results[3] == "c"
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert _rows(database) == [("a", 1), ("b", 1), ("c", 1), ("taken", 1)]


async def test_a_failing_job_alone_leaves_nothing_and_later_batches_go_on(database):
    _table(database)
    writer = Writer(database)
    await writer.start()
    try:

        def fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t(k, n) VALUES ('x', 1)")
            raise ValueError("bad record")

        with pytest.raises(ValueError, match="bad record"):
            await writer.run(fail)
        assert await writer.run(insert("y")) == "y"
    finally:
        await writer.close()
    assert _rows(database) == [("y", 1)]


async def test_a_job_that_catches_its_own_error_does_not_lose_the_others(database):
    """On SQLite the failed statement alone is undone and the job goes on; on PostgreSQL the
    error voids its transaction, so that job alone is rolled back (its RELEASE fails)."""
    _table(database)
    writer = Writer(database)
    await writer.start()
    try:
        await writer.run(insert("taken"))

        def tolerant(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO t(k, n) VALUES ('before', 1)")
            try:
                conn.execute("INSERT INTO t(k, n) VALUES ('taken', 2)")
            except sqlite3.IntegrityError:
                pass
            return "done"

        results = await _one_batch(writer, [insert("a"), tolerant, insert("c")])
    finally:
        await writer.close()
    assert results[0] == "a" and results[2] == "c"
    if db.is_url(database):
        assert isinstance(results[1], sqlite3.Error)
        assert _rows(database) == [("a", 1), ("c", 1), ("taken", 1)]
    else:
        assert results[1] == "done"
        assert _rows(database) == [("a", 1), ("before", 1), ("c", 1), ("taken", 1)]


async def test_a_batch_that_deadlocked_is_redone_whole(database):
    """A deadlock (PostgreSQL picks this batch to give way to another writer) undoes the whole
    transaction, jobs before it too: the batch is run again and every job commits once."""
    _table(database)
    writer = Writer(database)
    await writer.start()
    calls = []
    try:

        def gives_way_once(conn: sqlite3.Connection) -> str:
            calls.append(1)
            conn.execute("INSERT INTO t(k, n) VALUES ('d', 1)")
            if len(calls) == 1:
                raise ConflictError("deadlock detected")
            return "d"

        results = await _one_batch(writer, [insert("a"), gives_way_once, insert("c")])
    finally:
        await writer.close()
    assert results == ["a", "d", "c"]
    assert writer.conflicts == 1 and len(calls) == 2
    assert _rows(database) == [("a", 1), ("c", 1), ("d", 1)]


async def test_a_deadlock_that_keeps_coming_back_fails_that_job_alone(database):
    _table(database)
    writer = Writer(database)
    await writer.start()
    try:

        def always_gives_way(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t(k, n) VALUES ('d', 1)")
            raise ConflictError("deadlock detected")

        results = await _one_batch(writer, [insert("a"), always_gives_way, insert("c")])
    finally:
        await writer.close()
    assert results[0] == "a" and results[2] == "c" and isinstance(results[1], ConflictError)
    assert _rows(database) == [("a", 1), ("c", 1)]
