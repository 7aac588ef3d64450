"""The daemon's one writer: plain sqlite3 job functions run on one thread, batched.

A job is `def job(conn: sqlite3.Connection) -> T`, the same function the CLI runs with
`store.db.write`. Callers on the event loop `submit` jobs; the writer thread runs what is
queued back to back inside one transaction (a burst of events costs one commit) with a
savepoint per job (a failing job rolls back only itself), then resolves every future of the
batch with one wake-up of the loop. Readers on their own connections never see half a batch.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ctrack.store import db

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
_Item = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]


class WriterClosed(RuntimeError):
    """The writer was closed; nothing more can be written."""


class Writer:
    def __init__(self, path: db.Target, max_batch: int = 500):
        self.path = db.target(path)
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._closing = False
        self.batches = 0
        self.jobs = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        opened: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(opened,), name="ctrack-writer", daemon=True)
        self._thread.start()
        await opened

    def submit(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue a job; the returned future resolves once its batch is committed."""
        if self._closing or self._thread is None or self._loop is None:
            raise WriterClosed("the store writer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((job, future))
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
        try:
            conn = db.connect(self.path)
        except BaseException as exc:
            loop.call_soon_threadsafe(opened.set_exception, exc)
            return
        loop.call_soon_threadsafe(opened.set_result, None)
        try:
            stop = False
            while not stop:
                item = self._queue.get()
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
                if batch:
                    outcomes = self._commit_batch(conn, batch)
                    loop.call_soon_threadsafe(self._resolve, outcomes)
        finally:
            conn.close()
            loop.call_soon_threadsafe(self._stopped.set_result, None)

    def _commit_batch(
        self, conn: sqlite3.Connection, batch: list[_Item]
    ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                    conn.execute("RELEASE job")
                    outcomes.append((future, result, None))
                except Exception as exc:  # one bad job must not lose the others
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    log.exception("store write failed")
                    outcomes.append((future, None, exc))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("store batch of %d failed", len(batch))
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            outcomes = [(future, None, exc) for _, future in batch]
        self.batches += 1
        self.jobs += len(batch)
        return outcomes
