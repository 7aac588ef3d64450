"""The one writer: every write of the daemon goes through a single aiosqlite connection.

Callers enqueue jobs (async functions taking the connection); the writer runs queued jobs
back to back inside one transaction, so a burst of events costs one commit, and readers on
their own connections never see half a batch. A failing job rolls back only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ctrack.store.db import PRAGMAS

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[aiosqlite.Connection], Awaitable[T]]


class WriterClosed(RuntimeError):
    """The writer was closed; nothing more can be written."""


async def open_connection(path: str | Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


class Writer:
    def __init__(self, path: str | Path, max_batch: int = 500):
        self.path = Path(path)
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Job, asyncio.Future] | None] = asyncio.Queue()
        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.batches = 0
        self.jobs = 0

    async def start(self) -> None:
        self._conn = await open_connection(self.path)
        self._task = asyncio.create_task(self._run(), name="ctrack-writer")

    def submit(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue a job; the returned future resolves once its batch is committed."""
        if self._closing or self._task is None:
            raise WriterClosed("the store writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        return future

    async def run(self, job: Job[T]) -> T:
        return await self.submit(job)

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""

        async def noop(conn: aiosqlite.Connection) -> None:
            return None

        await self.run(noop)

    async def close(self) -> None:
        """Drain the queue, commit, close the connection."""
        if self._task is None:
            return
        self._closing = True
        self._queue.put_nowait(None)
        await self._task
        self._task = None
        await self._conn.close()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        conn = self._conn
        stop = False
        while not stop:
            item = await self._queue.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= self.max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if item is None:
                stop = True
            if batch:
                await self._commit_batch(conn, batch)

    async def _commit_batch(self, conn: aiosqlite.Connection, batch: list[tuple[Job, asyncio.Future]]) -> None:
        results: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for job, future in batch:
                await conn.execute("SAVEPOINT job")
                try:
                    result = await job(conn)
                    await conn.execute("RELEASE job")
                    results.append((future, result, None))
                except Exception as exc:  # one bad job must not lose the others
                    await conn.execute("ROLLBACK TO job")
                    await conn.execute("RELEASE job")
                    log.exception("store write failed")
                    results.append((future, None, exc))
            await conn.execute("COMMIT")
        except Exception as exc:
            log.exception("store batch of %d failed", len(batch))
            try:
                await conn.execute("ROLLBACK")
            except Exception:
                pass
            results = [(future, None, exc) for _, future in batch]
        self.batches += 1
        self.jobs += len(batch)
        for future, result, error in results:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
