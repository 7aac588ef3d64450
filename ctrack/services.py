"""What the daemon's adapters share: configuration, the store writer, the route catalog.

Adapters (FastAGI, AMI, ESL, HTTP) get one Services object; they never open their own
writing connection to the database.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctrack.calllog.store import CallRules
from ctrack.catalog.snapshot import CatalogCopyError
from ctrack.catalog.store import load_catalog
from ctrack.config import Config
from ctrack.route.rules import Catalog, RouteSettings
from ctrack.store import db
from ctrack.store.spool import Spool, catalog_copy_path, load_catalog_copy, old_catalog_copy_path, save_catalog_copy
from ctrack.store.writer import Writer

log = logging.getLogger(__name__)


class CatalogCache:
    """The route's in-memory snapshot, reloaded when the database changes.

    Routing reads memory only (it must answer in milliseconds); a background refresh
    notices CLI edits through the catalog's own version (bumped by triggers on sources,
    pools, numbers and the block list), so the calls and leases written all day long never reload it.
    With `saved` (PostgreSQL), each load is also written to that local file, so a daemon that
    starts while the center is down routes from its last good copy (`restore`).
    """

    def __init__(self, path: db.Target, interval: float = 1.0, saved: Path | None = None):
        self.path = path
        self.interval = interval
        self.saved = saved
        self.catalog = Catalog()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self.loaded_at = 0.0
        self._failing = False

    def refresh(self) -> bool:
        """Reload if the database changed since the last load; True when reloaded."""
        if self._conn is None:
            conn = db.connect(self.path, any_thread=True)  # refreshed in a worker thread
            try:
                db.ensure_current(conn)  # a center back with another schema: keep this snapshot
            except db.DatabaseError:
                conn.close()
                raise
            self._conn = conn
        try:
            version = self._conn.execute("SELECT version FROM catalog_version WHERE id = 1").fetchone()[0]
            if version == self._version:
                return False
            catalog = load_catalog(self._conn)
        except sqlite3.Error:
            if db.is_broken(self._conn):  # PostgreSQL away: routing keeps this snapshot, reconnect next time
                self.close()
            raise
        self.catalog = catalog
        self._version = version
        self.loaded_at = time.time()
        if self.saved is not None:
            self._save(catalog)
        return True

    def _save(self, catalog: Catalog) -> None:
        """Write the copy whole or not at all (a crash mid-write keeps the previous one)."""
        assert self.saved is not None
        try:
            save_catalog_copy(self.saved, catalog, self.loaded_at)
        except OSError as exc:
            log.error(
                "cannot save the catalog's copy to %s (%s); a restart without the center routes to the fallback",
                self.saved,
                exc,
            )

    def restore(self) -> bool:
        """Route from the saved copy (the center is down at start); False when there is none,
        or none this ctrack can read, and the route answers every call with the fallback."""
        if self.saved is None or not (self.saved.is_file() or old_catalog_copy_path(self.saved).is_file()):
            log.error("no saved catalog copy (%s): every call rings the fallback until the center is back", self.saved)
            return False
        try:
            catalog, saved_at = load_catalog_copy(self.saved)
        except (CatalogCopyError, OSError) as exc:
            log.error("the saved catalog copy %s is unusable (%s): every call rings the fallback", self.saved, exc)
            return False
        self.catalog = catalog
        self.loaded_at = saved_at
        log.warning(
            "routing from the catalog copy saved %s (%d numbers) until the center is back",
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.loaded_at)),
            len(catalog.numbers),
        )
        return True

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:
                if not self._failing:  # once per outage, not every second
                    log.warning("catalog refresh failed (%s); routing keeps the last snapshot", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("catalog refresh works again")
                self._failing = False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Services:
    def __init__(self, config: Config, db_path: db.Target):
        self.config = config
        self.db_path = db.target(db_path)
        center = db.is_url(self.db_path)
        spool = Spool(config.spool_path) if center else None
        self.writer = Writer(self.db_path, spool=spool)
        self.catalog = CatalogCache(self.db_path, saved=catalog_copy_path(config.spool_path) if center else None)
        self.route_settings = RouteSettings.from_config(config)
        self.call_rules = CallRules.from_config(config)
        self.started_at = time.time()
        self._metrics: dict[str, Callable[[], tuple[str, str, Any]]] = {}

    def add_metric(self, name: str, kind: str, help_text: str, value: Callable[[], Any]) -> None:
        self._metrics[name] = lambda: (kind, help_text, value())

    def metrics(self) -> dict[str, tuple[str, str, Any]]:
        base = {
            "ctrack_uptime_seconds": (
                "gauge",
                "Seconds since the daemon started",
                round(time.time() - self.started_at, 1),
            ),
            "ctrack_store_write_batches_total": ("counter", "Store transactions committed", self.writer.batches),
            "ctrack_store_writes_total": ("counter", "Store write jobs committed", self.writer.jobs),
            "ctrack_store_backlog": ("gauge", "Writes waiting for the writer", self.writer.backlog),
            "ctrack_store_spool_depth": (
                "gauge",
                "Writes kept in the local spool until PostgreSQL is back",
                self.writer.spooled,
            ),
            "ctrack_tracking_numbers": ("gauge", "Active tracking numbers", len(self.catalog.catalog.numbers)),
            "ctrack_blocked_callers": (
                "gauge",
                "Numbers and prefixes on the block list",
                len(self.catalog.catalog.blocked),
            ),
        }
        base.update({name: fn() for name, fn in self._metrics.items()})
        return base

    def health(self) -> dict[str, Any]:
        return {"numbers": len(self.catalog.catalog.numbers), "uptime": round(time.time() - self.started_at, 1)}

    def read_connection(self) -> sqlite3.Connection:
        """A fresh read-only-by-convention connection for a request or report."""
        return db.connect(self.db_path)
