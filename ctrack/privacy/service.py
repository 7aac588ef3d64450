"""Retention purges for the CLI and the daemon: the store job, then the files on disk."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ctrack.privacy import store
from ctrack.privacy.retention import Retention

log = logging.getLogger("ctrack.privacy")
PURGE_INTERVAL = 86400.0


def purge_job(retention: Retention, now: float, dry_run: bool) -> Callable[[sqlite3.Connection], dict[str, Any]]:
    cutoffs = retention.cutoffs(now)
    return lambda conn: store.purge(conn, cutoffs, dry_run)


def delete_files(paths: list[str]) -> int:
    """Delete recording files after their rows were committed; a file already gone counts as deleted."""
    deleted = 0
    for path in paths:
        try:
            os.unlink(path)
            deleted += 1
        except FileNotFoundError:
            deleted += 1
        except OSError as exc:
            log.warning("cannot delete recording %s: %s", path, exc)
    return deleted


async def purge_daily(
    run: Callable[[Callable[[sqlite3.Connection], dict[str, Any]]], Awaitable[dict[str, Any]]], retention: Retention
) -> None:
    """The daemon's task: purge at start, then once a day; a failure is logged and retried next day."""
    while True:
        try:
            found = await run(purge_job(retention, time.time(), dry_run=False))
            await asyncio.to_thread(delete_files, found["files"])
            if any(found[k] for k in ("recordings", "transcripts", "callers", "visits")):
                log.info("retention purge: %s", {k: v for k, v in found.items() if k != "files"})
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(PURGE_INTERVAL)
