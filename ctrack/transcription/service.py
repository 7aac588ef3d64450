"""The daemon's transcription loop: due jobs from the database to a worker process, results
back through the writer.

Whisper runs in separate processes (spawned, so they share nothing with the event loop):
the route and the call log never wait for it. At most max_concurrent calls are in the
workers at once (the bounded queue); the rest wait as pending rows, which survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from ctrack.config import TranscriptionSettings
from ctrack.leads import service as leads
from ctrack.services import Services
from ctrack.transcription import engine, store
from ctrack.transcription.rules import Policy, skip_reason

log = logging.getLogger(__name__)


class Worker:
    """The worker processes, replaced when one dies (a crash costs that job one attempt)."""

    def __init__(self, settings: TranscriptionSettings):
        self.settings = settings
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.settings.max_concurrent,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=engine.init_worker,
            initargs=(self.settings,),
        )

    async def transcribe(self, recording: str) -> tuple[bool, Any]:
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(engine.work, recording))
        except BrokenProcessPool:
            if pool is self._pool:
                self._pool = self._new_pool()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def run_transcription(services: Services, stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
    settings = services.config.transcription
    policy = Policy(settings.answered_only, settings.min_talk_seconds)
    worker = Worker(settings)
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            free = settings.max_concurrent - len(in_flight)
            jobs = await asyncio.to_thread(_due, services, free) if free > 0 else []
            for job in jobs:
                if reason := skip_reason(policy, job.disposition, job.talk_seconds):
                    await services.writer.run(partial(store.skip, call_id=job.call_id, reason=reason))
                    continue
                await services.writer.run(partial(store.claim, call_id=job.call_id))
                task = asyncio.create_task(_one(services, worker, job), name=f"ctrack-transcribe-{job.call_id}")
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        worker.close()


def _due(services: Services, limit: int) -> list[store.Job]:
    conn = services.read_connection()
    try:
        return store.due_jobs(conn, limit)
    finally:
        conn.close()


async def _one(services: Services, worker: Worker, job: store.Job) -> None:
    try:
        ok, value = await worker.transcribe(job.recording)
    except Exception as exc:  # the worker died or could not load the model: try again later
        log.warning("transcription of call %s failed: %s", job.call_id, exc or type(exc).__name__)
        await services.writer.run(
            partial(store.retry_later, call_id=job.call_id, reason=f"worker: {exc or type(exc).__name__}")
        )
        return
    if ok:
        await services.writer.run(
            partial(leads.save_transcript, call_id=job.call_id, result=value, settings=services.call_rules.leads)
        )
    else:
        log.info("call %s not transcribed: %s", job.call_id, value)
        await services.writer.run(partial(store.fail, call_id=job.call_id, reason=value))
