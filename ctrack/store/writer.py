"""The daemon's one writer: plain sqlite3 job functions run on one thread, batched.

A job is `def job(conn: sqlite3.Connection) -> T`, the same function the CLI runs with
`store.db.write`. Callers on the event loop `submit` jobs; the writer thread runs what is
queued back to back inside one transaction (a burst of events costs one commit); a failing
job rolls back only itself (the batch runs without savepoints and is redone with one per job
only when a job fails), then every future of the batch is resolved with one wake-up of the
loop. A job may therefore run more than once before its batch commits (redone after
another job's failure or a deadlock): it changes nothing but the database. Readers on
their own connections never see half a batch.

On PostgreSQL a writer may have a spool (store/spool.py): while the center is unreachable,
jobs submitted with a Durable are kept there (their futures resolve with None) and the
others fail at once with WriterUnavailable; the thread reconnects every RETRY_SECONDS and
replays the spool, in order, before any newer write.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ctrack.store import db
from ctrack.store.spool import Durable, Spool, replay_function

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
_Item = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], Durable | None]
_Outcomes = list[tuple[asyncio.Future[Any], Any, BaseException | None]]
RETRY_SECONDS = 1.0
CONFLICT_ATTEMPTS = 10  # a batch that deadlocked with another writer is redone this often,
CONFLICT_PAUSE = 0.02  # after up to this many seconds times the attempt (random: the other goes first)


class WriterClosed(RuntimeError):
    """The writer was closed; nothing more can be written."""


class WriterUnavailable(db.DatabaseError):
    """The database is unreachable and the write could not be spooled."""


class Writer:
    def __init__(self, path: db.Target, max_batch: int = 500, spool: Spool | None = None):
        self.path = db.target(path)
        self.max_batch = max_batch
        self.spool = spool
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._closing = False
        self.batches = 0
        self.jobs = 0
        self._refused: str | None = None  # why the center's schema takes no writes from here
        self.conflicts = 0  # batches redone after a deadlock with another writer

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        opened: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(opened,), name="ctrack-writer", daemon=True)
        self._thread.start()
        await opened

    def submit(self, job: Job[T], durable: Durable | None = None) -> asyncio.Future[T]:
        """Queue a job; the returned future resolves once its batch is committed (or, for a
        job with a Durable while the database is away, once it is in the spool: None)."""
        if self._closing or self._thread is None or self._loop is None:
            raise WriterClosed("the store writer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((job, future, durable))
        return future

    async def run(self, job: Job[T]) -> T:
        return await self.submit(job)

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self.run(lambda conn: None)

    async def close(self) -> None:
        """Drain the queue, commit, close the connection."""
        if self._thread is None or self._stopped is None:
            return
        self._closing = True
        self._queue.put(None)
        await self._stopped
        self._thread = None

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    @property
    def spooled(self) -> int:
        """Writes waiting in the spool for the database to come back."""
        return self.spool.count if self.spool is not None else 0

    # -- the writer thread ----------------------------------------------------------------

    def _resolve(self, outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
        for future, result, error in outcomes:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def _run(self, opened: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None and self._stopped is not None
        conn: sqlite3.Connection | None
        try:
            if self.spool is not None:
                self.spool.open()
            try:
                conn = db.connect_for_writes(self.path) if self.spool is not None else db.connect(self.path)
            except db.DatabaseError as exc:
                if self.spool is None:
                    raise
                self._refused = str(exc) if isinstance(exc, db.SchemaError) else None
                log.warning("%s; durable writes go to the spool %s until it answers", exc, self.spool.path)
                conn = None  # started while the center is down: _replay connects once it is back
        except BaseException as exc:
            loop.call_soon_threadsafe(opened.set_exception, exc)
            return
        loop.call_soon_threadsafe(opened.set_result, None)
        try:
            stop = False
            while not stop:
                waiting = self.spool is not None and (conn is None or self.spool.count > 0)
                try:
                    item = self._queue.get(timeout=RETRY_SECONDS if waiting else None)
                except queue.Empty:
                    conn = self._replay(conn)
                    continue
                batch: list[_Item] = []
                while item is not None:
                    batch.append(item)
                    if len(batch) >= self.max_batch:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if item is None:
                    stop = True
                if self.spool is not None:
                    conn = self._replay(conn)
                if batch:
                    if conn is None or self.spooled:
                        outcomes = self._spool_batch(batch)
                    else:
                        outcomes = self._commit_batch(conn, batch)
                        if self.spool is not None and db.is_broken(conn):
                            self._drop(conn)
                            conn = None
                            outcomes = self._spool_batch(batch, outcomes)
                    loop.call_soon_threadsafe(self._resolve, outcomes)
        finally:
            if conn is not None:
                conn.close()
            if self.spool is not None:
                self.spool.close()
            loop.call_soon_threadsafe(self._stopped.set_result, None)

    # -- the spool (PostgreSQL away) ------------------------------------------------------

    def _drop(self, conn: sqlite3.Connection) -> None:
        log.warning("the database is unreachable; durable writes go to the spool %s", self.spool and self.spool.path)
        try:
            conn.close()
        except sqlite3.Error:
            pass

    def _spool_batch(self, batch: list[_Item], outcomes: _Outcomes | None = None) -> _Outcomes:
        """Durable jobs into the spool (resolved with None); the rest fail as unavailable,
        or keep the outcome their attempt had."""
        assert self.spool is not None
        before = {id(future): (result, error) for future, result, error in outcomes or []}
        self.spool.append([durable for _, _, durable in batch if durable is not None])
        unavailable = WriterUnavailable(f"{db.describe(self.path)}: unreachable; the write was not saved")
        result: _Outcomes = []
        for _, future, durable in batch:
            if durable is not None:
                result.append((future, None, None))
            else:
                result.append((future, *before.get(id(future), (None, unavailable))))
        return result

    def _replay(self, conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
        """Reconnect if needed and replay the spool, oldest first; the connection, or None
        while the database stays away."""
        assert self.spool is not None
        if conn is None:
            try:
                conn = db.connect_for_writes(self.path)  # the schema as `ctrack serve` leaves it at start
            except db.SchemaError as exc:
                if str(exc) != self._refused:  # once, not every RETRY_SECONDS
                    log.error("the database is back, but %s: writes stay in the spool %s", exc, self.spool.path)
                self._refused = str(exc)
                return None
            except db.DatabaseError:
                return None
            self._refused = None
            log.warning("the database is back; replaying %d spooled writes", self.spool.count)
        while self.spool.count:
            entries = self.spool.head(self.max_batch)
            try:
                conn.execute("BEGIN")
                for _, name, payload in entries:
                    conn.execute("SAVEPOINT job")
                    try:
                        replay_function(name)(conn, payload)
                        conn.execute("RELEASE job")
                    except Exception:
                        if db.is_broken(conn):
                            raise
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                        log.exception("spooled write %s could not be replayed; dropped", name)
                conn.execute("COMMIT")
            except Exception:
                if db.is_broken(conn):
                    self._drop(conn)
                    return None
                log.exception("replaying the spool failed; trying again in %s s", RETRY_SECONDS)
                self._rollback(conn)
                return conn
            self.spool.remove_through(entries[-1][0])
        return conn

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Item]) -> _Outcomes:
        """Run the batch in one transaction, first without a savepoint per job (on PostgreSQL
        each SAVEPOINT and RELEASE is a round trip). If a job fails, everything is rolled back
        and the batch is redone with a savepoint per job, so the failing job alone is rolled
        back, as if the savepoints had been there all along. A deadlock or serialization
        failure (PostgreSQL: another daemon's writer held a row this batch needed) rolls back
        and redoes the whole batch, up to CONFLICT_ATTEMPTS times."""
        savepoints = False
        attempt = 1
        while True:
            try:
                outcomes = self._run_batch(conn, batch, savepoints, attempt < CONFLICT_ATTEMPTS)
            except _Redo:
                savepoints = True
                continue
            except Exception as exc:
                self._rollback(conn)
                if _conflict(exc) and attempt < CONFLICT_ATTEMPTS:
                    attempt += 1
                    self.conflicts += 1
                    log.info("store batch of %d gave way to another writer (%s); redone", len(batch), exc)
                    time.sleep(random.uniform(0, CONFLICT_PAUSE * attempt))
                    continue
                log.exception("store batch of %d failed", len(batch))
                outcomes = [(future, None, exc) for _, future, _ in batch]
            break
        self.batches += 1
        self.jobs += len(batch)
        return outcomes

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Item], savepoints: bool, retry: bool) -> _Outcomes:
        """One attempt. Without savepoints a failing job raises _Redo (all rolled back), unless
        it is the batch's only job: its transaction was its savepoint. A conflict raises
        while `retry` allows the batch another attempt."""
        outcomes: _Outcomes = []
        conn.execute("BEGIN IMMEDIATE")
        for job, future, _ in batch:
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                result = job(conn)
                if savepoints:
                    conn.execute("RELEASE job")
            except Exception as exc:  # one bad job must not lose the others
                if retry and _conflict(exc):
                    raise
                if not savepoints:
                    self._rollback(conn)
                    if len(batch) > 1:
                        raise _Redo from exc
                    log.exception("store write failed")
                    return [(future, None, exc)]
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                log.exception("store write failed")
                outcomes.append((future, None, exc))
                continue
            outcomes.append((future, result, None))
        if not savepoints and getattr(conn, "failed", False):
            # a job caught a PostgreSQL error itself: its statements since are void; with
            # savepoints, that job's RELEASE fails and it alone is rolled back
            self._rollback(conn)
            raise _Redo
        conn.execute("COMMIT")
        return outcomes

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class _Redo(Exception):
    """A job failed in a batch run without savepoints: everything was rolled back."""


def _conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure (store/pg.py marks them): running again succeeds."""
    return getattr(exc, "conflict", False) is True
